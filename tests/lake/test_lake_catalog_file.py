"""A lake's local catalog file: small blocks, and an hourly load's catalog changes in its WAL.

The catalog file is a DuckDB database. With DuckDB's 256 KiB blocks its ~25 tables made a
6.5 MB file for a lake of 1 MB of data, and the checkpoint DuckDB makes when a connection
closes rewrote the catalog tables every load touched: 5.7 MB written per hourly run of a
1,000-customer lake (benchmark 8). A new catalog file now has 16 KiB blocks, a load leaves
its catalog changes in the WAL (folded in once it is half the file's size, or when the load
created or altered a table), and `equipme-sync maintain` checkpoints it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import duckdb

CUSTOMERS = 40


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load(local_lake: Any, singer_lake: Any) -> tuple[Path, Path, list[dict[str, Any]]]:
    """A first load of `CUSTOMERS` customers: the catalog file, its WAL, the customers."""
    from tap_equipme.warehouse.wal import wal_path

    catalog = Path(local_lake.catalog)
    customers = [singer_lake.customer(i) for i in range(1, CUSTOMERS + 1)]
    local_lake.load(singer_lake.messages(customers))
    return catalog, wal_path(catalog), customers


def _rename_fifth(local_lake: Any, singer_lake: Any, customers: list[dict[str, Any]]) -> None:
    """An hourly load that changed one customer."""
    customers[4] = singer_lake.customer(5, name="Renamed 5")
    local_lake.load(singer_lake.messages(customers, bookmark="2026-02-01T00:00:00Z"))


def test_small_loads_leave_the_catalog_file_alone_until_maintenance(
    local_lake: Any, singer_lake: Any
) -> None:
    from tap_equipme.warehouse.lake import CATALOG_BLOCK_SIZE, lake_settings
    from tap_equipme.warehouse.maintenance import maintain_lake
    from tap_equipme.warehouse.maintenance_report import parse_retention

    catalog, wal, customers = _load(local_lake, singer_lake)
    # The first load created the tables: its catalog changes are in the file already.
    assert not wal.exists() or wal.stat().st_size == 0
    with duckdb.connect(str(catalog), read_only=True) as con:
        block_size = con.execute("PRAGMA database_size").fetchone()
    assert block_size is not None
    assert block_size[2] == CATALOG_BLOCK_SIZE
    first = _digest(catalog)

    _rename_fifth(local_lake, singer_lake, customers)
    assert wal.exists()
    assert wal.stat().st_size > 0
    assert _digest(catalog) == first  # the catalog file was not rewritten
    # A reader replays the catalog's WAL: it sees the new snapshot.
    assert local_lake.query("SELECT name FROM customers WHERE id = 5") == [("Renamed 5",)]
    local_lake.close()  # maintenance needs the catalog file to itself

    settings = lake_settings(local_lake.catalog, local_lake.settings)
    report = maintain_lake(settings, parse_retention("7d"), apply=True)
    checkpoint = [s for s in report.steps if s.name == "checkpoint"]
    assert checkpoint
    assert checkpoint[0].files == 1
    assert not wal.exists() or wal.stat().st_size == 0
    assert local_lake.query("SELECT count(*), max(name) FROM customers WHERE id = 5") == [
        (1, "Renamed 5")
    ]


def test_rewriting_a_catalog_file_takes_the_changes_in_its_wal_along(
    local_lake: Any, singer_lake: Any
) -> None:
    # `equipme-sync erase` rewrites a local catalog file (`duckdb_rewrite`); the last load's
    # catalog changes are still in the WAL, which must not be left beside the fresh file.
    from tap_equipme.warehouse.duckdb_rewrite import rewrite_duckdb_file

    catalog, wal, customers = _load(local_lake, singer_lake)
    _rename_fifth(local_lake, singer_lake, customers)
    assert wal.exists()

    rewrite_duckdb_file(catalog)
    assert not wal.exists() or wal.stat().st_size == 0
    assert local_lake.query("SELECT name FROM customers WHERE id = 5") == [("Renamed 5",)]
    local_lake.close()  # one process cannot attach a catalog file twice
    # And the lake takes the next load.
    customers[5] = singer_lake.customer(6, name="Renamed 6")
    local_lake.load(singer_lake.messages(customers, bookmark="2026-03-01T00:00:00Z"))
    local_lake.close()
    assert local_lake.query(
        "SELECT id, name FROM customers WHERE name LIKE 'Renamed%' ORDER BY id"
    ) == [
        (5, "Renamed 5"),
        (6, "Renamed 6"),
    ]
