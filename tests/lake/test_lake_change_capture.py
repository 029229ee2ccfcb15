"""Change capture into DuckLake: real API writes between two syncs, checked on the lake.

The same change tracking as the DuckDB file (tests/pipeline/test_change_capture.py), but
every statement runs on a lake attached from a PostgreSQL catalog, data files local.
"""

from __future__ import annotations

from typing import Any

from tap_equipme.pipeline.sync import run_sync

RENAMED = "Umbenannt am See GmbH"


def test_a_second_change_capture_sync_tracks_edits_deletions_and_metadata_on_the_lake(
    sandbox: Any, tap_config: dict[str, Any], sandbox_writes: Any, lake: Any, landed: Any
) -> None:
    sandbox.control.reset(customers=30, seed=7)
    # A window shorter than the time between the runs: the second run re-reads all metadata.
    config = {**tap_config, "metadata_refresh_days": 1e-6}

    def sync(run_id: str) -> Any:
        return run_sync(
            config, "ducklake", lake.catalog, run_id=run_id, progress_out=None, lake=lake.settings
        )

    assert sync("one").sync_mode == "change_capture"
    before = sandbox.control.snapshot()
    ids = sorted(c["id"] for c in before["customers"])
    renamed, deactivated, deleted = ids[0], ids[1], ids[2]
    assert next(c for c in before["customers"] if c["id"] == deactivated)["active"] is True
    with_keys = sorted(int(c) for c, items in before["metadata"].items() if items)
    keyed = next(c for c in with_keys if c not in (renamed, deactivated, deleted))
    gone_key = before["metadata"][str(keyed)][0]["key"]
    gained = next(c for c in reversed(ids) if c not in (keyed, deleted))
    rows_one = {
        r[0]: r[1:]
        for r in lake.query("SELECT id, _loaded_at, _first_seen_at, _changed_at FROM customers")
    }

    api = sandbox_writes
    api.patch(renamed, [{"op": "replace", "path": "/name", "value": RENAMED}])
    api.patch(deactivated, [{"op": "replace", "path": "/active", "value": False}])
    assert sandbox.control.delete_customers([deleted]) == [deleted]
    api.delete_metadata(keyed, gone_key)
    api.put_metadata(gained, "lake-segment", "gold")
    sync("two")

    after = sandbox.control.snapshot()
    stored = landed.read_lake_warehouse(lake.catalog, lake.settings)
    comparison = landed.compare_with_snapshot(stored, after)
    assert comparison.ok, comparison.summary()
    assert comparison.customers_compared == len(ids) - 1

    started = dict(lake.query("SELECT run_id, started_at FROM _equipme_loads GROUP BY ALL"))
    loads = {
        r[0]: r[1:]
        for r in lake.query(
            "SELECT stream, rows_inserted, rows_updated, rows_deleted, rows_undeleted "
            "FROM _equipme_loads WHERE run_id = 'two'"
        )
    }
    assert loads["customers"] == (0, 2, 1, 0)  # only the two edited rows were rewritten
    # The gone key, plus every key of the deleted customer (they go with it); one new key.
    assert loads["customer_metadata"][:3] == (1, 0, 1 + len(before["metadata"][str(deleted)]))

    rows = {
        r[0]: r[1:]
        for r in lake.query(
            "SELECT id, _loaded_at, _first_seen_at, _changed_at, _deleted_at FROM customers"
        )
    }
    assert rows[deleted][3] == started["two"]
    assert rows[renamed][1:4] == (rows_one[renamed][1], started["two"], None)
    assert rows_one[renamed][1] == started["one"]
    assert rows[deactivated][2] == started["two"]
    untouched = set(ids) - {renamed, deactivated, deleted}
    assert {i: rows[i][:3] for i in untouched} == {i: rows_one[i] for i in untouched}
    assert all(rows[i][3] is None for i in untouched)

    versions = lake.query(
        "SELECT name, _valid_from, _valid_to FROM customers_history "
        f"WHERE id = {renamed} ORDER BY _valid_from"
    )
    old_name = next(c["name"] for c in before["customers"] if c["id"] == renamed)
    assert versions == [(old_name, started["one"], started["two"]), (RENAMED, started["two"], None)]
    overlaps = lake.query(
        "SELECT count(*) FROM customers_history a JOIN customers_history b ON a.id = b.id "
        "AND a._valid_from < b._valid_from AND coalesce(a._valid_to, 'infinity') > b._valid_from"
    )
    assert overlaps == [(0,)]
    assert (
        lake.query(
            f"SELECT _valid_to FROM customers_history WHERE id = {deleted} AND _valid_to IS NULL"
        )
        == []
    )

    metadata = lake.query(
        "SELECT customer_id, key, _deleted_at FROM customer_metadata "
        f"WHERE (customer_id = {keyed} AND key = '{gone_key}') "
        f"OR (customer_id = {gained} AND key = 'lake-segment')"
    )
    assert sorted(metadata) == sorted(
        [(keyed, gone_key, started["two"]), (gained, "lake-segment", None)]
    )
