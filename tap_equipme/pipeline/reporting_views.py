"""tap-equipme's reporting views (DuckDB file or DuckLake) and the Parquet export.

They read tap-equipme's tables, so they belong to the pipeline, not to the loader (which
knows no source): `equipme-sync` creates them after each load into a lake, the DAG's publish
task and `equipme-sync publish` after any load.

`create_views(path)` is idempotent (`CREATE OR REPLACE VIEW`). The static views live in
`reporting_views.sql`; `customer_metadata_wide` is generated here because DuckDB cannot keep
a data-dependent PIVOT in a view: its columns are the metadata keys present when the views
are (re)created, so run `create_views` after each load (the DAG does).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from tap_equipme.warehouse.arrow import quote
from tap_equipme.warehouse.column_names import fold, readable_name
from tap_equipme.warehouse.connection import connect_duckdb
from tap_equipme.warehouse.lake import connect_lake, lake_settings
from tap_equipme.warehouse.load_errors import WarehouseError

REPORT_VIEWS = (
    "customers_report",
    "customer_metadata_long",
    "customer_metadata_wide",
    "customer_counts_by_country",
    "customer_counts_by_language",
    "customer_counts_by_active",
    "changes_by_day",
)
EXPORTED_TABLES = ("customers", "customer_metadata")
COUNTS_BY: dict[str, tuple[str, str]] = {
    "customer_counts_by_country": ("companyAddress.countryCode", "country_code"),
    "customer_counts_by_language": ("language", "language"),
}
"""Live customers (and the active ones) counted by one attribute: view -> (expression, column)."""
_REQUIRES = re.compile(r"^--\s*requires:\s*(.+)$", re.MULTILINE)
_VIEW_NAME = re.compile(r"CREATE OR REPLACE VIEW (\w+)")


def _static_views() -> list[tuple[str, set[str], str]]:
    """Return `(view name, required tables, statement)` for each view in the SQL file."""
    sql = resources.files("tap_equipme.pipeline").joinpath("reporting_views.sql")
    text = sql.read_text("utf-8")
    views = []
    for chunk in text.split(";"):
        requires = _REQUIRES.search(chunk)
        name = _VIEW_NAME.search(chunk)
        if requires and name:
            tables = {t.strip() for t in requires.group(1).split(",")}
            views.append((name.group(1), tables, chunk[name.start() :].strip()))
    return views


def _existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
        "current_database() AND table_schema = current_schema() AND table_type = 'BASE TABLE'"
    ).fetchall()
    return {r[0] for r in rows}


def counts_by_sql(view: str, expression: str, column: str) -> str:
    """Return a view counting live (and active) customers by one attribute.

    Args:
        view: The view's name.
        expression: What to group by (an SQL expression over `customers`).
        column: The name of its column in the view.

    Returns:
        The `CREATE OR REPLACE VIEW` statement.
    """
    return (
        f"CREATE OR REPLACE VIEW {view} AS\n"
        f"SELECT\n    {expression} AS {column},\n    count(*) AS customers,\n"
        "    count(*) FILTER (WHERE active) AS active_customers\n"
        "FROM customers\nWHERE _deleted_at IS NULL\nGROUP BY ALL\n"
        f"ORDER BY customers DESC, {column} NULLS LAST"
    )


def metadata_wide_sql(keys: list[str]) -> str:
    """Return the `customer_metadata_wide` view for the given metadata keys.

    One row per live customer, one column per key (DuckDB column names are
    case-insensitive, so keys differing only in case get a numeric suffix; a key that cannot
    name a column, empty or with a NUL, gets `column_names.readable_name`).

    Args:
        keys: Distinct metadata keys, in column order.

    Returns:
        The CREATE OR REPLACE VIEW statement.
    """
    taken = {"customer_id", "customer_name"}
    columns = []
    for key in keys:
        base = readable_name(key)
        name, suffix = base, 2
        while fold(name) in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(fold(name))
        # SQL text cannot carry a NUL: spliced in with chr(0).
        literal = " || chr(0) || ".join("'" + p.replace("'", "''") + "'" for p in key.split("\x00"))
        columns.append(f"max(m.value) FILTER (WHERE m.key = {literal}) AS {quote(name)}")
    select = ",\n    ".join(["c.id AS customer_id", "c.name AS customer_name", *columns])
    return (
        "CREATE OR REPLACE VIEW customer_metadata_wide AS\n"
        f"SELECT\n    {select}\n"
        "FROM customers AS c\n"
        "LEFT JOIN customer_metadata AS m\n"
        "    ON m.customer_id = c.id AND m._deleted_at IS NULL\n"
        "WHERE c._deleted_at IS NULL\n"
        "GROUP BY c.id, c.name"
    )


def create_views(path: str | os.PathLike[str]) -> list[str]:
    """Create (or replace) the reporting views in a DuckDB warehouse.

    Views whose source tables do not exist yet are skipped.

    Args:
        path: The DuckDB file.

    Returns:
        The names of the views created.

    Raises:
        WarehouseError: If the file does not exist or cannot be opened.
    """
    if not Path(path).is_file():
        msg = f"Setting 'path': the DuckDB file {str(path)!r} does not exist (load data first)."
        raise WarehouseError(msg)
    con = connect_duckdb(str(path))
    # Closing would checkpoint the WAL the last load left (see `warehouse.wal`): every
    # hourly publish would rewrite the tables that load touched. Views replay from the WAL.
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    try:
        con.execute("BEGIN TRANSACTION")
        created = create_views_in(con)
        con.execute("COMMIT")
    finally:
        con.close()
    return created


def create_lake_views(catalog: str, lake: Mapping[str, Any] | None = None) -> list[str]:
    """Create (or replace) the reporting views in a DuckLake, beside its tables.

    In a transaction of their own, after the load's: a view that cannot be created (e.g. a
    stream selected without a column it reads) fails clearly and leaves the committed data
    and state in place.

    Args:
        catalog: The lake's catalog (`postgres:<conninfo>` or a catalog file).
        lake: The `lake_*` / `s3_*` settings; credentials come from the environment.

    Returns:
        The names of the views created.

    Raises:
        WarehouseError: If the lake cannot be opened or a view cannot be created.
    """
    settings = lake_settings(catalog, lake)
    con = connect_lake(settings)
    try:
        con.execute("BEGIN TRANSACTION")
        created = create_views_in(con)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        msg = (
            f"The data and state are committed to schema {settings.schema!r}, but the "
            f"reporting views could not be created there: {exc}"
        )
        raise WarehouseError(msg) from exc
    finally:
        con.close()
    return created


def create_views_in(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create (or replace) the reporting views in the connection's current schema.

    On a lake, `create_lake_views` calls this with the lake attached as the default
    database, so the views land in the lake's schema beside the tables.

    Args:
        con: A connection whose default schema holds the loaded tables.

    Returns:
        The names of the views created.
    """
    created = []
    tables = _existing_tables(con)
    for name, required, statement in _static_views():
        if required <= tables:
            con.execute(statement)
            created.append(name)
    if "customers" in tables:
        for view, (expression, column) in COUNTS_BY.items():
            con.execute(counts_by_sql(view, expression, column))
            created.append(view)
    if {"customers", "customer_metadata"} <= tables:
        keys = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT key FROM customer_metadata "
                "WHERE _deleted_at IS NULL AND key IS NOT NULL ORDER BY key"
            ).fetchall()
        ]
        con.execute(metadata_wide_sql(keys))
        created.append("customer_metadata_wide")
    return sorted(created, key=REPORT_VIEWS.index)


def export_parquet(
    duckdb_path: str | os.PathLike[str], out_dir: str | os.PathLike[str]
) -> dict[str, Path]:
    """Export the loaded tables and the reporting views to `<out_dir>/<name>.parquet`.

    Each file is written to a temp file in `out_dir` and moved into place with `os.replace`,
    so readers never see a partial file. Deleted rows are kept in the table exports (with
    `_deleted_at`), and absent from the views, as in DuckDB.

    Args:
        duckdb_path: The DuckDB warehouse file.
        out_dir: Directory for the Parquet files (created if missing).

    Returns:
        Name -> written file, for every table and view that exists.

    Raises:
        WarehouseError: If the warehouse does not exist.
    """
    if not Path(duckdb_path).is_file():
        msg = f"the DuckDB file {str(duckdb_path)!r} does not exist (load data first)."
        raise WarehouseError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = connect_duckdb(str(duckdb_path), read_only=True)
    written: dict[str, Path] = {}
    try:
        relations = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        }
        for name in (*EXPORTED_TABLES, *REPORT_VIEWS):
            if name not in relations:
                continue
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
            os.close(fd)
            try:
                target = "'" + tmp.replace("'", "''") + "'"
                con.execute(f"COPY (FROM {quote(name)}) TO {target} (FORMAT parquet)")
                os.replace(tmp, out / f"{name}.parquet")
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            written[name] = out / f"{name}.parquet"
    finally:
        con.close()
    return written
