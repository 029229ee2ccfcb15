"""Several writers and readers on one lake: nothing lost, nothing duplicated, clear conflicts."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

TARGET = str(Path(sys.executable).parent / "target-duckdb-lake")


def _start_target(lake: Any, schema: str, body: str, name: str) -> Any:
    """Start a real loader process on `body`; return a thread whose `.result` is its run."""
    config = lake.tmp_path / f"{name}.json"
    config.write_text(json.dumps(lake.config(lake_schema=schema)))

    class Run(threading.Thread):
        result: subprocess.CompletedProcess[str]

        def run(self) -> None:
            self.result = subprocess.run(
                [TARGET, "--config", str(config)],
                input=body,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

    thread = Run()
    thread.start()
    return thread


def test_two_tenants_loading_at_once_into_two_schemas_both_succeed(
    lake: Any, singer_lake: Any
) -> None:
    def body(offset: int) -> str:
        records = [singer_lake.customer(offset + i) for i in range(800)]
        # Several STATEs: several commits of each writer interleave with the other's.
        out: list[dict[str, Any]] = []
        for start in range(0, 800, 200):
            chunk = singer_lake.messages(records[start : start + 200], f"2026-01-0{offset + 1}")
            out += chunk if not out else chunk[1:]
        return "".join(json.dumps(m) + "\n" for m in out)

    first = _start_target(lake, "tenant_a", body(0), "a")
    second = _start_target(lake, "tenant_b", body(1), "b")
    for run in (first, second):
        run.join(150)
        assert run.result.returncode == 0, run.result.stderr[-3000:]
    from tap_equipme.warehouse.state import read_state

    for offset, schema in enumerate(("tenant_a", "tenant_b")):
        assert lake.query(
            "SELECT min(id), count(*), count(DISTINCT id) FROM customers", schema
        ) == [(offset, 800, 800)]
        assert lake.query("SELECT status FROM _equipme_loads", schema) == [("succeeded",)]
        state = read_state("ducklake", lake.catalog, {**lake.settings, "lake_schema": schema})
        assert state["bookmarks"]["customers"]["replication_key_value"] == f"2026-01-0{offset + 1}"
    assert read_state("ducklake", lake.catalog, {**lake.settings, "lake_schema": "nobody"}) is None


def test_a_reader_during_a_load_sees_only_whole_commits(lake: Any, singer_lake: Any) -> None:
    """Each commit adds 200 rows with the state counting them: a snapshot never disagrees."""
    from tap_equipme.schemas import customer_schema
    from tap_equipme.warehouse.arrow import columns_for, parse_schema, records_to_arrow
    from tap_equipme.warehouse.ducklake_writer import DuckLakeWarehouse
    from tap_equipme.warehouse.lake import lake_settings

    settings = lake_settings(lake.catalog, lake.settings)
    columns = columns_for(customer_schema(), ["id"])
    parse = parse_schema(columns)
    writer = DuckLakeWarehouse(lake.catalog, "writer", settings)
    writer.commit_state({"rows": 0})
    done = threading.Event()

    def write() -> None:
        try:
            for n in range(1, 6):
                lines = b"".join(
                    json.dumps({"record": singer_lake.customer(n * 1000 + i)}).encode() + b"\n"
                    for i in range(200)
                )
                table, version = records_to_arrow(lines, parse)
                writer.upsert("customers", columns, ["id"], table, version)
                writer.commit_state({"rows": n * 200})
            writer.finish()
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    reader = lake.connect()
    seen = set()
    try:
        while not done.is_set() or not seen:
            reader.execute("BEGIN TRANSACTION")
            state = reader.execute("SELECT state FROM _equipme_state").fetchall()
            tables = reader.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'customers' "
                "AND table_catalog = current_database() AND table_schema = current_schema()"
            ).fetchall()[0][0]
            count = (
                reader.execute("SELECT count(*) FROM customers").fetchall()[0][0] if tables else 0
            )
            reader.execute("COMMIT")
            claimed = json.loads(state[0][0])["rows"] if state else 0
            assert count == claimed, f"snapshot with {count} rows but a state claiming {claimed}"
            seen.add(count)
    finally:
        thread.join(60)
        reader.close()
    assert lake.query("SELECT count(*) FROM customers") == [(1000,)]


def _warehouse(lake: Any, run_id: str) -> Any:
    from tap_equipme.warehouse.ducklake_writer import DuckLakeWarehouse
    from tap_equipme.warehouse.lake import lake_settings

    return DuckLakeWarehouse(lake.catalog, run_id, lake_settings(lake.catalog, lake.settings))


def _batch(singer_lake: Any, ids: range, name: str) -> tuple[Any, Any, Any]:
    from tap_equipme.schemas import customer_schema
    from tap_equipme.warehouse.arrow import columns_for, parse_schema, records_to_arrow

    columns = columns_for(customer_schema(), ["id"])
    lines = b"".join(
        json.dumps({"record": singer_lake.customer(i, name=name)}).encode() + b"\n" for i in ids
    )
    table, _ = records_to_arrow(lines, parse_schema(columns))
    return columns, table, None


def test_a_commit_conflict_on_the_same_table_is_replayed_on_the_new_snapshot(
    lake: Any, singer_lake: Any
) -> None:
    first = _warehouse(lake, "first")
    columns, table, _ = _batch(singer_lake, range(20), "original")
    first.upsert("customers", columns, ["id"], table, None)
    first.commit_state({"n": 1})
    second = _warehouse(lake, "second")
    # Both update overlapping keys in open transactions; the second commit conflicts.
    first.upsert("customers", columns, ["id"], _batch(singer_lake, range(10), "first")[1], None)
    second.upsert(
        "customers", columns, ["id"], _batch(singer_lake, range(5, 15), "second")[1], None
    )
    first.commit_state({"n": 2})
    second.commit_state({"n": 3})
    first.finish()
    second.finish()
    rows = dict(lake.query("SELECT id, name FROM customers"))
    assert len(rows) == 20
    assert [rows[i] for i in (0, 4, 5, 14, 15)] == [
        "first",
        "first",
        "second",
        "second",
        "original",
    ]
    assert lake.query("SELECT state FROM _equipme_state") == [('{"n": 3}',)]


def test_a_conflict_that_outlasts_the_retries_fails_clearly_and_loses_nothing(
    lake: Any, singer_lake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tap_equipme.warehouse import ducklake_writer
    from tap_equipme.warehouse.load_errors import WarehouseError

    monkeypatch.setattr(ducklake_writer, "COMMIT_ATTEMPTS", 1)
    first = _warehouse(lake, "first")
    columns, table, _ = _batch(singer_lake, range(20), "original")
    first.upsert("customers", columns, ["id"], table, None)
    first.commit_state({"n": 1})
    second = _warehouse(lake, "second")
    first.upsert("customers", columns, ["id"], _batch(singer_lake, range(10), "first")[1], None)
    second.upsert("customers", columns, ["id"], _batch(singer_lake, range(5, 15), "x")[1], None)
    first.commit_state({"n": 2})
    with pytest.raises(WarehouseError, match="Another writer kept changing") as info:
        second.commit_state({"n": 3})
    assert "'lake_schema'" in str(info.value)
    second.fail(str(info.value))
    first.finish()
    assert lake.query("SELECT count(*), count(DISTINCT id) FROM customers") == [(20, 20)]
    assert lake.query("SELECT count(*) FROM customers WHERE name = 'x'") == [(0,)]
    assert lake.query("SELECT state FROM _equipme_state") == [('{"n": 2}',)]
