"""Change capture end to end: real API writes between two `equipme-sync` runs, one run later
the warehouse holds every kind of change (the default mode), with history and bookkeeping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_equipme.pipeline.sync import run_sync


def sync(tap_config: dict[str, Any], path: Path, destination: str = "duckdb", **kwargs: Any):
    return run_sync(tap_config, destination, path, progress_out=None, **kwargs)


def _sql(path: Path, text: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(text).fetchall()


@pytest.fixture
def small_sandbox(sandbox):
    sandbox.control.reset(customers=120, seed=5)
    return sandbox


@pytest.mark.parametrize("destination", ["duckdb", "parquet"])
def test_one_change_capture_run_brings_edits_deletions_and_metadata_changes(
    tap_config, small_sandbox, tmp_path, landed, sandbox_writes, destination
):
    sandbox = small_sandbox
    path = tmp_path / ("wh.duckdb" if destination == "duckdb" else "wh")
    # A window shorter than the time between the runs: this run re-reads all metadata.
    config = {**tap_config, "metadata_refresh_days": 1e-6}
    first = sync(config, path, destination)
    assert first.sync_mode == "change_capture"

    snapshot = sandbox.control.snapshot()
    ids = sorted(c["id"] for c in snapshot["customers"])
    with_metadata = [int(c) for c, items in snapshot["metadata"].items() if items]
    api = sandbox_writes
    api.patch(ids[0], [{"op": "replace", "path": "/name", "value": "Umbenannt & Co. KG"}])
    api.patch(ids[1], [{"op": "replace", "path": "/active", "value": False}])
    api.patch(ids[2], [{"op": "replace", "path": "/contactEmail", "value": "neu@example.com"}])
    sandbox.control.delete_customers([ids[3]])
    api.put_metadata(ids[4], "segment", "gold")
    gone_key = snapshot["metadata"][str(with_metadata[0])][0]["key"]
    api.delete_metadata(with_metadata[0], gone_key)
    new_ids = sandbox.control.create_customers([{"name": "Neukunde AG", "active": True}])

    second = sync(config, path, destination)
    assert landed.differences(destination, path, sandbox.control.snapshot()) == []
    assert second.rows("customers") == len(new_ids)
    assert second.rows("customers", "rows_updated") == 3
    assert second.rows("customers", "rows_deleted") == 1
    assert second.rows("customer_metadata", "rows_deleted") >= 1
    # One page of 121: a customer was deleted, so the first pass is read again to certify it;
    # plus the customers created since the last bookmark and since this run's own.
    assert second.requests["requests"]["list"] == 4

    third = sync(config, path, destination)
    # Nothing deleted since: the previous run's digest certifies the listing in one pass.
    assert third.requests["requests"]["list"] == 3
    assert third.rows("customers", "rows_updated") == 0
    assert third.rows("customers") == 0
    assert third.rows("customer_metadata", "rows_updated") == 0
    if destination == "duckdb":
        versions = _sql(
            path,
            f"SELECT name, _valid_to IS NULL FROM customers_history WHERE id = {ids[0]} "
            "ORDER BY _valid_from",
        )
        assert versions == [(snapshot["customers"][0]["name"], False), ("Umbenannt & Co. KG", True)]
        changed = _sql(
            path,
            f"SELECT _first_seen_at < _changed_at, _deleted_at IS NULL FROM customers "
            f"WHERE id IN ({ids[0]}, {ids[3]}) ORDER BY id",
        )
        assert changed == [(True, True), (False, False)]
        from tap_equipme.pipeline.reporting_views import create_views

        assert "changes_by_day" in create_views(path)
        per_day = _sql(
            path,
            "SELECT sum(inserted), sum(updated), sum(deleted) FROM changes_by_day "
            "WHERE stream = 'customers'",
        )
        assert per_day == [(len(ids) + len(new_ids), 3, 1)]


def test_metadata_is_refreshed_on_a_rolling_slice_with_constant_state(
    tap_config, small_sandbox, tmp_path
):
    sandbox = small_sandbox
    path = tmp_path / "wh.duckdb"
    sync(tap_config, path)
    sandbox.control.clear_stats()
    second = sync(tap_config, path)  # seconds later: a tiny slice of the 7-day window
    by_route = sandbox.control.stats()["by_route"]
    assert by_route.get("GET /v1/sales/customers/{customerId}/metadata", 0) <= 1
    assert second.requests["requests"]["metadata"] <= 1
    state = _sql(path, "SELECT state FROM _equipme_state")[0][0]
    assert '"metadata_refresh"' in state
    assert "partitions" not in state
