"""The fields one run added to or widened in the warehouse (`_equipme_schema_changes`)."""

from __future__ import annotations

import os
import typing as t

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
    from tap_equipme.warehouse.tables import open_table  # the CLI's --help stays light

    with open_table(destination, path, SCHEMA_CHANGES, lake) as table:
        if table is None:
            return []
        con, relation = table
        rows = con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM {relation} WHERE run_id = ? "
            "ORDER BY changed_at, stream, field_path",
            [run_id],
        ).fetchall()
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
