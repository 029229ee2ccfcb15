"""The suppression list: rows whose personal fields must land blank, whatever the source sends.

Contract (shared with `equipme-sync erase`, which writes the entries): a table
`_equipme_suppressions` in the warehouse (a DuckDB file: its main schema; DuckLake: the lake's
schema, the connection's default; Parquet: `_equipme_suppressions.parquet` in the directory)
with the columns `stream VARCHAR, key_column VARCHAR, key_value VARCHAR, request_id VARCHAR,
added_at TIMESTAMPTZ`. An entry means: rows of `stream` whose column `key_column`, as text,
equals `key_value` land with every field the stream's SCHEMA marks as personal
(`x-personal-data`) set to NULL, in the current table and in its history. Text is compared
trimmed and case-insensitively (an email typed with capitals still matches). One entry per
(`stream`, `key_column`, `key_value`): adding it again keeps the first `request_id`.

The loader stays generic: it knows neither Equipme nor its fields, only the schema's marks
and this table (`PersonalFieldBlanker` does the blanking on each Arrow batch).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from tap_equipme.warehouse.connection import utc_now

if TYPE_CHECKING:
    import datetime as dt

SUPPRESSIONS_TABLE = "_equipme_suppressions"
SUPPRESSIONS_FILE = f"{SUPPRESSIONS_TABLE}.parquet"
SUPPRESSIONS_COLUMNS = {
    "stream": "VARCHAR",
    "key_column": "VARCHAR",
    "key_value": "VARCHAR",
    "request_id": "VARCHAR",
    "added_at": "TIMESTAMPTZ",
}
"""`_equipme_suppressions`, in column order (the contract: change it only with `erase`)."""

Suppressions = dict[str, dict[str, set[str]]]
"""stream -> key column -> normalized key values (`normalize_key`)."""


@dataclass(frozen=True)
class Suppression:
    """One entry of the suppression list."""

    stream: str
    key_column: str
    key_value: str
    request_id: str
    added_at: dt.datetime | None = None
    """When it was added (None: now)."""


def normalize_key(value: Any) -> str:
    """Return a key value as the list compares it: text, trimmed, lower case.

    Args:
        value: A key value (any type: it is compared as text).

    Returns:
        The normalized text.
    """
    return str(value).strip().lower()


def _table_exists(con: duckdb.DuckDBPyConnection) -> bool:
    # The connection's default database and schema (a DuckLake connection uses the lake's).
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
        "AND table_catalog = current_database() AND table_schema = current_schema()",
        [SUPPRESSIONS_TABLE],
    ).fetchone()
    return bool(row and row[0])


def ensure_suppressions_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create `_equipme_suppressions` in the connection's default schema if it is absent.

    Args:
        con: A DuckDB connection (a DuckDB file, or a lake attached as the default).
    """
    if _table_exists(con):
        return
    columns = ", ".join(f"{name} {kind}" for name, kind in SUPPRESSIONS_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {SUPPRESSIONS_TABLE} ({columns})")


def add_suppressions(con: duckdb.DuckDBPyConnection, entries: Iterable[Suppression]) -> int:
    """Add entries to the list (creating it); an entry already listed is kept as it is.

    Runs in the caller's transaction if one is open.

    Args:
        con: A DuckDB connection.
        entries: The entries.

    Returns:
        How many entries were new.
    """
    ensure_suppressions_table(con)
    listed = read_suppressions(con)
    added = 0
    for entry in entries:
        key = normalize_key(entry.key_value)
        keys = listed.setdefault(entry.stream, {}).setdefault(entry.key_column, set())
        if key in keys:
            continue
        keys.add(key)
        con.execute(
            f"INSERT INTO {SUPPRESSIONS_TABLE} VALUES (?, ?, ?, ?, ?)",
            [
                entry.stream,
                entry.key_column,
                str(entry.key_value).strip(),
                entry.request_id,
                entry.added_at or utc_now(),
            ],
        )
        added += 1
    return added


def remove_suppressions(
    con: duckdb.DuckDBPyConnection, stream: str, key_column: str, key_values: Iterable[Any]
) -> int:
    """Remove entries (`--unsuppress`): later syncs land those rows' values again.

    Args:
        con: A DuckDB connection.
        stream: The stream.
        key_column: The key column.
        key_values: The key values (compared as `normalize_key` does).

    Returns:
        How many entries were removed.
    """
    if not _table_exists(con):
        return 0
    removed = 0
    for value in key_values:
        where = "stream = ? AND key_column = ? AND lower(trim(key_value)) = ?"
        params = [stream, key_column, normalize_key(value)]
        row = con.execute(
            f"SELECT count(*) FROM {SUPPRESSIONS_TABLE} WHERE {where}", params
        ).fetchone()
        if row and row[0]:
            # DuckLake has no RETURNING on DELETE: counted first.
            con.execute(f"DELETE FROM {SUPPRESSIONS_TABLE} WHERE {where}", params)
            removed += int(row[0])
    return removed


def read_suppressions(con: duckdb.DuckDBPyConnection) -> Suppressions:
    """Read the list (empty if the table does not exist).

    Args:
        con: A DuckDB connection.

    Returns:
        stream -> key column -> normalized key values.
    """
    if not _table_exists(con):
        return {}
    listed: Suppressions = {}
    rows = con.execute(
        f"SELECT stream, key_column, key_value FROM {SUPPRESSIONS_TABLE} "
        "WHERE stream IS NOT NULL AND key_column IS NOT NULL AND key_value IS NOT NULL"
    ).fetchall()
    for stream, key_column, key_value in rows:
        listed.setdefault(stream, {}).setdefault(key_column, set()).add(normalize_key(key_value))
    return listed


# -- the Parquet destination: the list is a file in the directory ---------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_parquet_suppressions(con: duckdb.DuckDBPyConnection, directory: str | Path) -> None:
    """Create the table in `con` and fill it from `<directory>/_equipme_suppressions.parquet`.

    For the Parquet destination: work on the list in any DuckDB connection (an in-memory one
    will do), then `publish_parquet_suppressions`.

    Args:
        con: A DuckDB connection without the table (or with it empty).
        directory: The Parquet directory.
    """
    ensure_suppressions_table(con)
    published = Path(directory) / SUPPRESSIONS_FILE
    if published.exists():
        con.execute(
            f"INSERT INTO {SUPPRESSIONS_TABLE} BY NAME "
            f"SELECT * FROM read_parquet({_literal(str(published))})"
        )


def publish_parquet_suppressions(con: duckdb.DuckDBPyConnection, directory: str | Path) -> Path:
    """Write the connection's table to `<directory>/_equipme_suppressions.parquet` atomically.

    Args:
        con: A DuckDB connection holding the table.
        directory: The Parquet directory.

    Returns:
        The file written.
    """
    ensure_suppressions_table(con)
    target = Path(directory) / SUPPRESSIONS_FILE
    temp = target.with_name(f".{SUPPRESSIONS_FILE}.tmp")
    con.execute(
        f"COPY (SELECT * FROM {SUPPRESSIONS_TABLE} ORDER BY stream, key_column, key_value) "
        f"TO {_literal(str(temp))} (FORMAT parquet)"
    )
    os.replace(temp, target)
    return target


def read_parquet_suppressions(directory: str | Path) -> Suppressions:
    """Read the Parquet destination's list (empty without the file).

    Args:
        directory: The Parquet directory.

    Returns:
        stream -> key column -> normalized key values.
    """
    con = duckdb.connect()
    try:
        load_parquet_suppressions(con, directory)
        return read_suppressions(con)
    finally:
        con.close()
