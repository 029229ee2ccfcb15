"""A small load into a DuckDB file writes its changes to the WAL, not the whole file again.

DuckDB's checkpoint rewrites every row group a commit touched (a table under 122,880 rows is
one row group), and a connection checkpoints when it closes: each hourly run that changed a
few customers rewrote most of the file (benchmark 8: 3.3 MB per run for 10 changed rows of
1,000). The loader now leaves a small run's changes in the WAL and folds it in only when it
grew past half the file, when the run created or altered a table, or at `equipme-sync
maintain`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import duckdb

CUSTOMERS = 300


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _first_load(target: Any, singer: Any, tmp_path: Path) -> tuple[Path, Path]:
    """A first load of `CUSTOMERS` customers; the DuckDB file and its WAL's path."""
    records = [singer.record(singer.customer(i)) for i in range(1, CUSTOMERS + 1)]
    target.in_process([singer.schema(), *records, singer.state("2024-01-01T00:00:00Z")])
    return tmp_path / "warehouse.duckdb", tmp_path / "warehouse.duckdb.wal"


def test_a_small_load_leaves_the_file_alone_and_its_rows_readable(
    target: Any, query: Any, singer: Any, tmp_path: Path
) -> None:
    from tap_equipme.warehouse.maintenance import maintain_duckdb

    database, wal = _first_load(target, singer, tmp_path)
    # A first load created its tables: folded into the file at once.
    assert not wal.exists()
    first = _digest(database)

    renamed = [singer.record(singer.customer(i, name=f"Renamed {i}")) for i in (5, 50, 150)]
    target.in_process(
        [singer.schema(), *renamed, singer.state("2024-01-02T00:00:00Z")], run_id="run-2"
    )
    # The three changed rows are in the WAL; the file itself was not rewritten.
    assert wal.exists()
    assert 0 < wal.stat().st_size < database.stat().st_size // 4
    assert _digest(database) == first
    # A reader (read-only: it replays the WAL) sees them, and their history.
    assert query("SELECT id, name FROM customers WHERE name LIKE 'Renamed%' ORDER BY id") == [
        (5, "Renamed 5"),
        (50, "Renamed 50"),
        (150, "Renamed 150"),
    ]
    assert query("SELECT count(*) FROM customers_history") == [(CUSTOMERS + 3,)]

    # A schema change never stays in the WAL (DuckDB 1.5.5 failed to replay an ALTER of a
    # struct field): a new top-level field folds the WAL in when the load closes.
    schema = singer.customer_schema()
    schema["properties"]["loyaltyTier"] = {"type": ["string", "null"]}
    changed = singer.customer(7, loyaltyTier="gold")
    target.in_process(
        [
            singer.schema(schema=schema),
            singer.record(changed),
            singer.state("2024-01-03T00:00:00Z"),
        ],
        run_id="run-3",
    )
    assert not wal.exists() or wal.stat().st_size == 0
    assert query('SELECT "loyaltyTier" FROM customers WHERE id = 7') == [("gold",)]

    # Maintenance folds in whatever a later small load left.
    target.in_process(
        [
            singer.schema(schema=schema),
            singer.record(singer.customer(8, name="Renamed 8")),
            singer.state("2024-01-04T00:00:00Z"),
        ],
        run_id="run-4",
    )
    assert wal.exists()
    report = maintain_duckdb(database, apply=True)
    assert report.steps[0].files == 1
    assert not wal.exists() or wal.stat().st_size == 0
    # The checkpoints wrote the touched tables anew and freed the old blocks: more than a
    # quarter of the file was free, so maintenance rewrote it without them.
    rewrite = report.steps[1]
    assert rewrite.name == "rewrite"
    assert rewrite.files == 1, rewrite
    assert report.after["bytes"] is not None
    assert report.before["bytes"] is not None
    assert report.after["bytes"] < report.before["bytes"]
    with duckdb.connect(str(database), read_only=True) as con:
        size = con.execute("PRAGMA database_size").fetchone()
    assert size is not None
    assert size[5] == 0  # no free blocks left
    # Right after, nothing to rewrite.
    assert maintain_duckdb(database, apply=True).steps[1].files == 0
    assert query("SELECT name FROM customers WHERE id IN (5, 8) ORDER BY id") == [
        ("Renamed 5",),
        ("Renamed 8",),
    ]


def test_publishing_the_views_after_a_small_load_leaves_the_file_alone(
    target: Any, query: Any, singer: Any, tmp_path: Path
) -> None:
    # The DAG publishes after every hourly load; closing its connection must not fold the
    # load's WAL into the file (a rewrite of every table the load touched).
    from tap_equipme.pipeline.publish import publish

    database, wal = _first_load(target, singer, tmp_path)
    publish("duckdb", str(database), str(tmp_path / "export"))
    renamed = [singer.record(singer.customer(i, name=f"Renamed {i}")) for i in (5, 50)]
    target.in_process(
        [singer.schema(), *renamed, singer.state("2024-01-02T00:00:00Z")], run_id="run-2"
    )
    assert wal.exists()
    before = _digest(database)
    publish("duckdb", str(database), str(tmp_path / "export"))
    assert _digest(database) == before
    assert query("SELECT name FROM customers_report WHERE id = 50") == [("Renamed 50",)]
