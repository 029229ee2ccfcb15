"""The fields one run added to or widened in the warehouse (`_equipme_schema_changes`)."""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

SCHEMA_CHANGES = "_equipme_schema_changes"
COLUMNS = ("stream", "field_path", "change", "old_type", "new_type")


def read_schema_changes(
    destination: str,
    path: str | os.PathLike[str],
    run_id: str,
    lake: t.Mapping[str, t.Any] | None = None,
) -> list[dict[str, t.Any]]:
    """Return the schema changes the loader recorded for one run, in the order they happened.

    Args:
        destination: `duckdb` or `parquet`.
        path: The DuckDB file or the Parquet directory.
        run_id: The run.
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings.

    Returns:
        One `{stream, field_path, change, old_type, new_type}` per added or widened column
        or field; empty if there were none or the warehouse does not exist.
    """
    import duckdb  # imported here: the CLI's --help and the DAG files stay light

    location = Path(path)
    if destination == "ducklake":
        from tap_equipme.warehouse.lake import LakeMissingError, connect_lake, lake_settings

        try:
            con = connect_lake(lake_settings(path, lake), read_only=True)
        except LakeMissingError:
            return []
        relation = SCHEMA_CHANGES
        params: list[t.Any] = [run_id]
    elif destination == "parquet":
        source = location / f"{SCHEMA_CHANGES}.parquet"
        if not source.is_file():
            return []
        con = duckdb.connect()
        relation = "read_parquet(?)"
        params = [str(source), run_id]
    else:
        if not location.is_file():
            return []
        con = duckdb.connect(str(location), read_only=True)
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
            [SCHEMA_CHANGES],
        ).fetchall()
        if not found or not found[0][0]:
            con.close()
            return []
        relation = SCHEMA_CHANGES
        params = [run_id]
    try:
        rows = con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM {relation} WHERE run_id = ? "
            "ORDER BY changed_at, stream, field_path",
            params,
        ).fetchall()
    finally:
        con.close()
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def describe(change: t.Mapping[str, t.Any]) -> str:
    """One line of the run summary for a change.

    Args:
        change: A row of `read_schema_changes`.

    Returns:
        E.g. `customers.segment: new VARCHAR` or `customers.x: BIGINT -> DOUBLE`.
    """
    name = f"{change['stream']}.{change['field_path']}"
    if change["change"] == "added":
        return f"{name}: new {change['new_type']}"
    return f"{name}: {change['old_type']} -> {change['new_type']}"
