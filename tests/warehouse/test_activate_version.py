"""ACTIVATE_VERSION (full refresh): rows absent from the new version are soft-deleted."""

from __future__ import annotations

import pytest

from tap_equipme.warehouse.load_errors import WarehouseError


def _activate(version):
    return {"type": "ACTIVATE_VERSION", "stream": "customers", "version": version}


def _full_refresh(singer, version, ids, *, opening=True, closing=True):
    """A full refresh as the tap sends it: ACTIVATE_VERSION before and after the records."""
    records = [singer.record(singer.customer(i), version=version) for i in ids]
    body = [*([_activate(version)] if opening else []), *records]
    body += [_activate(version)] if closing else []
    return [singer.schema(), *body, singer.state(f"v{version}")]


def _deleted_ids(query):
    return [r[0] for r in query("SELECT id FROM customers WHERE _deleted_at IS NOT NULL")]


def test_rows_missing_from_a_full_refresh_are_soft_deleted_not_removed(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 6)))
    target.in_process(_full_refresh(singer, 2, range(1, 4)), run_id="refresh-2", batch_size_rows=2)
    rows = query(
        "SELECT id, _deleted_at IS NOT NULL, _sdc_table_version FROM customers ORDER BY id"
    )
    # Rows 1-3 came back unchanged: not rewritten, so they keep the version that wrote them
    # (a lake would otherwise rewrite every row each run; see warehouse/sightings.py).
    assert rows == [(1, False, 1), (2, False, 1), (3, False, 1), (4, True, 1), (5, True, 1)]
    assert query("SELECT rows_deleted FROM _equipme_loads WHERE run_id = 'refresh-2'") == [(2,)]


def test_rows_seen_again_get_deleted_at_cleared(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 4)))
    target.in_process(_full_refresh(singer, 2, [1]))
    assert query("SELECT count(*) FROM customers WHERE _deleted_at IS NOT NULL") == [(2,)]
    target.in_process(_full_refresh(singer, 3, range(1, 4)))
    assert query("SELECT count(*) FROM customers WHERE _deleted_at IS NOT NULL") == [(0,)]


def test_activate_version_only_after_the_records_closes_the_version(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 4), opening=False))
    target.in_process(_full_refresh(singer, 2, [2], opening=False))
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
    with pytest.raises(WarehouseError, match="no value for key property 'id'"):
        target.in_process(messages, batch_size_rows=1)
    assert query("SELECT count(*) FROM customers WHERE _deleted_at IS NOT NULL") == [(0,)]


def test_a_full_refresh_cut_short_before_its_closing_activate_version_deletes_nothing(
    target, query, singer
):
    """The tap died midway: input ends after the opening ACTIVATE_VERSION and some records."""
    target.in_process(_full_refresh(singer, 1, range(1, 6)))
    run = target.in_process(
        _full_refresh(singer, 2, [1, 2], closing=False), run_id="cut-short", batch_size_rows=1
    )
    assert run.states
    assert _deleted_ids(query) == []
    rows = query("SELECT id, _sdc_table_version FROM customers ORDER BY id")
    assert rows == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]  # nothing rewritten
    assert query("SELECT rows_deleted FROM _equipme_loads WHERE run_id = 'cut-short'") == [(0,)]


def test_an_opening_activate_version_alone_deletes_nothing(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 4)))
    target.in_process([singer.schema(), _activate(2), singer.state("v2")])
    assert _deleted_ids(query) == []


def test_a_complete_full_refresh_with_zero_records_soft_deletes_every_row(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 4)))
    target.in_process(_full_refresh(singer, 2, []), run_id="empty-refresh")
    assert sorted(_deleted_ids(query)) == [1, 2, 3]
    assert query("SELECT rows_deleted FROM _equipme_loads WHERE run_id = 'empty-refresh'") == [(3,)]


def test_records_still_in_the_batch_count_when_the_closing_message_arrives(target, query, singer):
    """A closing ACTIVATE_VERSION after records not yet loaded (big batch) still closes."""
    target.in_process(_full_refresh(singer, 1, range(1, 6)))
    target.in_process(_full_refresh(singer, 2, [1, 3], opening=False), batch_size_rows=1000)
    assert sorted(_deleted_ids(query)) == [2, 4, 5]


def test_a_closed_version_of_one_stream_does_not_close_another(target, query, singer):
    meta = "customer_metadata"
    meta_schema = singer.schema(meta, singer.metadata_schema, ["customer_id", "key"])

    def meta_record(customer_id, version):
        item = {
            "customer_id": customer_id,
            "key": "tier",
            "value": "gold",
            "scope": "Customer",
            "self": {"href": "v1/x"},
        }
        return singer.record(item, stream=meta, version=version)

    def meta_activate(version):
        return {"type": "ACTIVATE_VERSION", "stream": meta, "version": version}

    first = [meta_schema, meta_activate(1), meta_record(1, 1), meta_record(2, 1), meta_activate(1)]
    target.in_process([*_full_refresh(singer, 1, range(1, 4)), *first])
    # Customers complete, then the tap dies while reading metadata.
    cut = [meta_schema, meta_activate(2), meta_record(1, 2)]
    target.in_process([*_full_refresh(singer, 2, [1, 2]), *cut])
    assert _deleted_ids(query) == [3]
    assert query(f"SELECT count(*) FROM {meta} WHERE _deleted_at IS NOT NULL") == [(0,)]


# activate_version_mode 'opening': the reading of singer-sdk taps, which send ACTIVATE_VERSION
# only before a FULL_TABLE stream's records (issue 27).


def test_opening_mode_deletes_rows_of_older_versions_when_the_input_ends_cleanly(
    target, query, singer
):
    target.in_process(_full_refresh(singer, 1, range(1, 6), closing=False))
    run = target.in_process(
        _full_refresh(singer, 2, [1, 3], closing=False),
        run_id="sdk-refresh",
        activate_version_mode="opening",
    )
    assert run.states, "the final STATE is committed and emitted with the deletions"
    assert sorted(_deleted_ids(query)) == [2, 4, 5]
    assert query("SELECT rows_deleted FROM _equipme_loads WHERE run_id = 'sdk-refresh'") == [(3,)]
    # A row the next refresh sends again comes back.
    target.in_process(
        _full_refresh(singer, 3, [1, 2, 3], closing=False), activate_version_mode="opening"
    )
    assert sorted(_deleted_ids(query)) == [4, 5]


def test_opening_mode_with_an_empty_full_refresh_deletes_every_row(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 4)))
    target.in_process(_full_refresh(singer, 2, [], closing=False), activate_version_mode="opening")
    assert sorted(_deleted_ids(query)) == [1, 2, 3]


def test_opening_mode_deletes_nothing_when_the_input_ends_in_an_error(target, query, singer):
    """A broken last line is not a clean end of input: no deletions, nothing committed."""
    target.in_process(_full_refresh(singer, 1, range(1, 6)))
    messages = _full_refresh(singer, 2, [1, 2], closing=False)
    messages.append({"type": "RECORD", "stream": "customers", "record": {"id": None}})
    with pytest.raises(WarehouseError, match="no value for key property 'id'"):
        target.in_process(messages, activate_version_mode="opening", batch_size_rows=1)
    assert _deleted_ids(query) == []


def test_opening_mode_still_honours_a_closing_message(target, query, singer):
    target.in_process(_full_refresh(singer, 1, range(1, 6)), activate_version_mode="opening")
    target.in_process(_full_refresh(singer, 2, [2, 4]), activate_version_mode="opening")
    assert sorted(_deleted_ids(query)) == [1, 3, 5]


def test_opening_mode_holds_back_a_stream_with_records_after_its_last_state(
    target, query, singer, caplog
):
    """Input that ends mid-stream (a tap that died between two records) deletes nothing."""
    target.in_process(_full_refresh(singer, 1, range(1, 6)))
    cut = _full_refresh(singer, 2, [1, 2], closing=False)
    cut.insert(-1, singer.record(singer.customer(3), version=2))  # a record after the STATE
    cut[-2], cut[-1] = cut[-1], cut[-2]
    assert [m["type"] for m in cut[-2:]] == ["STATE", "RECORD"]
    with caplog.at_level("WARNING"):
        target.in_process(cut, activate_version_mode="opening")
    assert _deleted_ids(query) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "activate_version_mode is 'opening'" in warnings[0]
    assert "followed by a STATE after its last record" in warnings[0]


def test_opening_mode_without_a_state_after_the_opening_message_deletes_nothing(
    target, query, singer
):
    target.in_process(_full_refresh(singer, 1, range(1, 4)))
    target.in_process([singer.schema(), _activate(2)], activate_version_mode="opening")
    assert _deleted_ids(query) == []


def test_closing_mode_warning_names_the_reading_and_the_setting(target, query, singer, caplog):
    target.in_process(_full_refresh(singer, 1, range(1, 4)))
    with caplog.at_level("WARNING"):
        target.in_process(_full_refresh(singer, 2, [1], closing=False))
    assert _deleted_ids(query) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "activate_version_mode is 'closing'" in warnings[0]
    assert "set activate_version_mode to 'opening'" in warnings[0]


def test_opening_mode_logs_which_reading_deleted_and_warns_of_nothing(target, singer, caplog):
    target.in_process(_full_refresh(singer, 1, range(1, 4)))
    with caplog.at_level("INFO"):
        target.in_process(
            _full_refresh(singer, 2, [1], closing=False), activate_version_mode="opening"
        )
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        "2 rows absent from it marked deleted (activate_version_mode 'opening'" in m
        for m in messages
    ), messages
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


def test_an_unknown_activate_version_mode_is_one_clear_error(target, singer):
    run = target.cli(_full_refresh(singer, 1, [1]), activate_version_mode="always")
    assert run.returncode == 1
    assert "'always' is not one of ['closing', 'opening'] in config['activate_version_mode']" in (
        run.stderr
    )


def test_a_version_the_state_carries_is_continued_by_the_next_process_without_false_deletes(
    target, query, singer
):
    """A resumed full refresh: process 2 continues the version process 1 left in its STATE.

    Unchanged rows are not rewritten, so process 1's sightings of rows 1-2 live in memory
    only, unless it writes them at the STATE that carries the version. Without that, the
    continuing process would soft-delete rows 1-2 (it never saw them).
    """
    target.in_process(_full_refresh(singer, 1, range(1, 6)))
    progress = {"type": "STATE", "value": {"bookmarks": {"customers": {"run": {"version": 2}}}}}
    first_half = [
        singer.schema(),
        _activate(2),
        *(singer.record(singer.customer(i), version=2) for i in (1, 2)),
        progress,
    ]
    target.in_process(first_half, run_id="killed")
    rest = [
        singer.schema(),
        singer.record(singer.customer(3), version=2),
        _activate(2),
        singer.state("v2-done"),
    ]
    target.in_process(rest, run_id="resumed")
    assert _deleted_ids(query) == [4, 5]
    rows = query("SELECT id, _sdc_table_version FROM customers ORDER BY id")
    assert rows == [(1, 2), (2, 2), (3, 1), (4, 1), (5, 1)]


def test_an_unchanged_full_refresh_rewrites_no_row(target, query, singer):
    """The hourly cost: a full refresh in which nothing changed updates no stored row."""
    target.in_process(_full_refresh(singer, 1, range(1, 6)))
    before = query("SELECT id, _loaded_at, _sdc_table_version FROM customers ORDER BY id")
    target.in_process(_full_refresh(singer, 2, range(1, 5)), run_id="same")
    after = query("SELECT id, _loaded_at, _sdc_table_version FROM customers ORDER BY id")
    assert after == before
    assert _deleted_ids(query) == [5]
