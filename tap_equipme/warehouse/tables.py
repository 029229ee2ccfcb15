"""Read-only access to a warehouse's tables, whatever the destination (the pipeline's read API).

A DuckDB file, a Parquet directory (one `<table>.parquet` per table) or a DuckLake (attached
read-only, its schema the default): the caller gets a DuckDB connection and, per table, the
SQL that reads it, and never needs to know which destination it reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from tap_equipme.warehouse.load_errors import WarehouseError


def connect_read_only(
    destination: str, path: str | os.PathLike[str], lake: Mapping[str, Any] | None = None
) -> duckdb.DuckDBPyConnection | None:
    """Open a warehouse for reading; None when nothing was loaded there yet.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The DuckDB file, the Parquet directory or the DuckLake catalog.
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings.

    Returns:
        A connection (the caller closes it), or None.

    Raises:
        WarehouseError: If the warehouse exists but cannot be opened (the message names the
            setting).
    """
    if destination == "ducklake":
        from tap_equipme.warehouse.lake import LakeMissingError, connect_lake, lake_settings

        try:
            return connect_lake(lake_settings(path, lake), read_only=True)
        except LakeMissingError:
            return None
    location = Path(path)
    if destination == "parquet":
        return duckdb.connect() if location.is_dir() else None
    if not location.is_file():
        return None
    try:
        return duckdb.connect(str(location), read_only=True)
    except duckdb.Error as exc:
        msg = f"Setting 'path': cannot read the DuckDB file {str(path)!r}: {exc}"
        raise WarehouseError(msg) from exc


def relation(destination: str, path: str | os.PathLike[str], table: str) -> str:
    """The SQL that reads `table` on a connection from `connect_read_only`.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: As for `connect_read_only`.
        table: The table's name.

    Returns:
        A table name, or `read_parquet('...')` for a Parquet directory.
    """
    if destination != "parquet":
        return table
    source = str(Path(path) / f"{table}.parquet").replace("'", "''")
    return f"read_parquet('{source}')"


def has_table(
    con: duckdb.DuckDBPyConnection, destination: str, path: str | os.PathLike[str], table: str
) -> bool:
    """Whether the warehouse holds `table` (in the default schema of the connection).

    Args:
        con: From `connect_read_only`.
        destination: `duckdb`, `parquet` or `ducklake`.
        path: As for `connect_read_only`.
        table: The table's name.

    Returns:
        True if it exists.
    """
    if destination == "parquet":
        return (Path(path) / f"{table}.parquet").is_file()
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
        "current_database() AND table_schema = current_schema() AND table_name = ?",
        [table],
    ).fetchall()
    return bool(rows and rows[0][0])


@contextmanager
def open_table(
    destination: str,
    path: str | os.PathLike[str],
    table: str,
    lake: Mapping[str, Any] | None = None,
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str] | None]:
    """Read one table: yields `(connection, relation)`, or None if it does not exist yet.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: As for `connect_read_only`.
        table: The table's name.
        lake: As for `connect_read_only`.

    Yields:
        The open connection and the SQL reading the table (closed on exit), or None.
    """
    con = connect_read_only(destination, path, lake)
    if con is None:
        yield None
        return
    try:
        found = has_table(con, destination, path, table)
        yield (con, relation(destination, path, table)) if found else None
    finally:
        con.close()
