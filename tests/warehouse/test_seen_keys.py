"""The loader remembers a run's keys (`seen_table`) only for the streams that read them back."""

from __future__ import annotations

from typing import Any

from tap_equipme.warehouse.arrow import columns_for, parse_schema, records_to_arrow
from tap_equipme.warehouse.child_sets import ChildSet
from tap_equipme.warehouse.duckdb_writer import BatchLoad, DuckDBWarehouse

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
COLUMNS = columns_for(SCHEMA, ["id"])


def _batch(*ids: int) -> Any:
    lines = b"".join(b'{"record": {"id": %d, "name": "n%d"}}\n' % (i, i) for i in ids)
    return records_to_arrow(lines, parse_schema(COLUMNS))[0]


def _temp_tables(warehouse: DuckDBWarehouse) -> set[str]:
    rows = warehouse.con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '%seen%'"
    ).fetchall()
    return {row[0] for row in rows}


def test_only_child_set_streams_keep_their_keys_for_the_run(tmp_path):
    # A first load of a million customers kept a million listing keys (and their index) in
    # memory for nothing: only a child set's child and "reads" streams are read back.
    warehouse = DuckDBWarehouse(
        str(tmp_path / "w.duckdb"),
        "run-1",
        child_sets=[ChildSet(stream="children", key="id", reads_stream="reads")],
    )
    try:
        for stream in ("listing", "children", "reads"):
            warehouse.upsert(*BatchLoad(stream, COLUMNS, ["id"], _batch(1, 2, 3), None))
        assert _temp_tables(warehouse) == {"__equipme_seen_children", "__equipme_seen_reads"}
        assert warehouse.tracker.seen_exists("children")
        assert not warehouse.tracker.keeps_seen("listing")
        warehouse.commit_state({"bookmarks": {}})
        # The state commit applied the child set of the parents read and forgot their keys.
        for table in ("__equipme_seen_children", "__equipme_seen_reads"):
            assert warehouse.con.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    finally:
        warehouse.finish()


def test_a_tracker_without_child_sets_given_keeps_every_streams_keys(tmp_path):
    from tap_equipme.warehouse.change_tracking import ChangeTracker

    warehouse = DuckDBWarehouse(str(tmp_path / "w.duckdb"), "run-1")
    try:
        tracker = ChangeTracker(warehouse.con, warehouse.started_at)
        assert tracker.keeps_seen("anything")
        assert not warehouse.tracker.keeps_seen("anything")  # no child sets: no seen keys
    finally:
        warehouse.finish()
