"""Loading DuckDB extensions offline from their PyPI wheels, else through DuckDB's INSTALL.

The `duckdb-extension-<name>` wheels (pinned beside `duckdb` in pyproject.toml) each hold one
`<name>.duckdb_extension` file built for that DuckDB version; their Python modules export
nothing, so the file is found inside the installed package's directory and `LOAD`ed by path.
Without the wheel (another DuckDB version, a slim install), DuckDB's own `INSTALL` / `LOAD`
is tried, which needs its extension server: fine online, impossible on an offline worker.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import duckdb

from tap_equipme.warehouse.load_errors import WarehouseError

LAKE_EXTENSIONS = ("ducklake", "postgres_scanner", "httpfs")
"""Extensions a DuckLake warehouse may need: the lake itself, a PostgreSQL catalog, S3."""


@functools.cache
def extension_file(name: str) -> Path | None:
    """Return the `.duckdb_extension` file of an installed extension wheel, if any.

    Args:
        name: The extension (`ducklake`, `postgres_scanner`, `httpfs`).

    Returns:
        The file built for the running DuckDB version, or None.
    """
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        return None
    version = duckdb.__version__
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "extensions" / f"v{version}" / f"{name}.duckdb_extension"
        if candidate.is_file():
            return candidate
    return None


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load one extension into a connection: the wheel's file, else DuckDB's INSTALL.

    Args:
        con: The connection.
        name: The extension.

    Raises:
        WarehouseError: If neither way works (the message says how to fix it).
    """
    path = extension_file(name)
    wheel_error: str | None = None
    if path is not None:
        try:
            con.execute(f"LOAD {_sql_literal(str(path))}")
        except duckdb.Error as exc:
            wheel_error = str(exc)
        else:
            return
    try:
        con.execute(f"INSTALL {name}")
        con.execute(f"LOAD {name}")
    except duckdb.Error as exc:
        package = f"duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}"
        found = (
            f"the wheel's file {str(path)!r} did not load ({wheel_error})"
            if path is not None
            else f"the package {package!r} is not installed"
        )
        msg = (
            f"The DuckDB extension {name!r} is needed but cannot be loaded: {found}, and "
            f"DuckDB's own INSTALL failed ({exc}). Install {package!r} (pip) or let this "
            "machine reach DuckDB's extension server, then run again; nothing was written."
        )
        raise WarehouseError(msg) from exc


def load_lake_extensions(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    """Load the given lake extensions (see `LAKE_EXTENSIONS`) into a connection.

    Args:
        con: The connection.
        names: Which extensions.
    """
    for name in names:
        load_extension(con, name)
