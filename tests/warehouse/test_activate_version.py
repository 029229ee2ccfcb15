"""ACTIVATE_VERSION (full refresh): rows absent from the new version are soft-deleted."""

from __future__ import annotations

import pytest

from tap_equipme.warehouse.errors import WarehouseError


def _full_refresh(singer, version, ids, *, at_start=True):
    activate = {"type": "ACTIVATE_VERSION", "stream": "customers", "version": version}
    records = [singer.record(singer.customer(i), version=version) for i in ids]
    body = [activate, *records] if at_start else [*records, activate]
    return [singer.schema(), *body, singer.state(f"v{version}")]


def test_rows_missing_from_a_full_refresh_are_soft_deleted_not_removed(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 6)))
    target.in_process(_full_refresh(singer, 2, range(1, 4)), run_id="refresh-2", batch_size_rows=2)
    rows = query(
        "SELECT id, _deleted_at IS NOT NULL, _sdc_table_version FROM customers ORDER BY id"
    )
    assert rows == [(1, False, 2), (2, False, 2), (3, False, 2), (4, True, 1), (5, True, 1)]
    assert query("SELECT rows_deleted FROM _equipme_loads WHERE run_id = 'refresh-2'") == [(2,)]


def test_rows_seen_again_get_deleted_at_cleared(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 4)))
    target.in_process(_full_refresh(singer, 2, [1]))
    assert query("SELECT count(*) FROM customers WHERE _deleted_at IS NOT NULL") == [(2,)]
    target.in_process(_full_refresh(singer, 3, range(1, 4)))
    assert query("SELECT count(*) FROM customers WHERE _deleted_at IS NOT NULL") == [(0,)]


def test_activate_version_at_the_end_of_the_stream_works_too(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 4), at_start=False))
    target.in_process(_full_refresh(singer, 2, [2], at_start=False))
    assert query("SELECT id FROM customers WHERE _deleted_at IS NULL") == [(2,)]


def test_incremental_runs_never_soft_delete(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 4)))
    target.in_process([singer.schema(), singer.record(singer.customer(9)), singer.state("inc")])
    assert query("SELECT count(*) FROM customers WHERE _deleted_at IS NULL") == [(4,)]


def test_soft_deletes_commit_with_the_final_state_not_before(target, query, tmp_path, singer):
    """A crash before the end of a full refresh must not leave rows marked deleted."""
    target.in_process(_full_refresh(singer, 1, range(1, 6)))
    messages = _full_refresh(singer, 2, [1, 2])
    messages.insert(3, {"type": "RECORD", "stream": "customers", "record": {"id": None}})
    with pytest.raises(WarehouseError, match="constraint"):
        target.in_process(messages, batch_size_rows=1)
    assert query("SELECT count(*) FROM customers WHERE _deleted_at IS NOT NULL") == [(0,)]
