"""Opening a DuckDB file with clear errors for missing directories, permissions and locks."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from tap_equipme.warehouse.load_errors import WarehouseError


def utc_now() -> dt.datetime:
    """Return the current time in UTC (load and deletion timestamps).

    Returns:
        A timezone-aware datetime.
    """
    return dt.datetime.now(tz=dt.timezone.utc)


def connect_duckdb(path: str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, turning lock and permission failures into clear errors.

    Args:
        path: The DuckDB file.
        read_only: Open without taking the write lock.

    Returns:
        The connection, with the session time zone set to UTC.

    Raises:
        WarehouseError: If the file cannot be opened for writing.
    """
    target = Path(path)
    if not read_only:
        parent = target.parent if str(target.parent) else Path()
        if not parent.is_dir():
            msg = (
                f"Setting 'path': the directory {str(parent)!r} of the DuckDB file does not "
                "exist. Create it or point 'path' at an existing directory; nothing was written."
            )
            raise WarehouseError(msg)
        if target.is_dir():
            msg = f"Setting 'path': {path!r} is a directory, but destination 'duckdb' needs a file."
            raise WarehouseError(msg)
        writable = os.access(target, os.W_OK) if target.exists() else os.access(parent, os.W_OK)
        if not writable:
            msg = (
                f"Setting 'path': {path!r} is not writable by this user. Fix its permissions "
                "or choose another path; nothing was written."
            )
            raise WarehouseError(msg)
    try:
        con = duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            msg = (
                f"Setting 'path': the DuckDB file {path!r} is locked by another process "
                "(another sync or an open DuckDB session holds it). Wait for it to finish or "
                f"close it, then run again; nothing was written. DuckDB said: {text}"
            )
        else:
            msg = f"Setting 'path': cannot open the DuckDB file {path!r}: {text}"
        raise WarehouseError(msg) from exc
    con.execute("SET TimeZone = 'UTC'")
    return con
