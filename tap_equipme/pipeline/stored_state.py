"""The warehouse's location and the state stored in it, as the pipeline reads them.

The loader stores the tap's state as it came; reading its bookmark is the pipeline's job.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from tap_equipme.pipeline.loader_settings import BOOKMARK_STREAM
from tap_equipme.pipeline.sync_errors import SyncError


def read_pipeline_state(
    destination: str, path: Path | str, lake: Mapping[str, t.Any] | None = None
) -> dict[str, t.Any] | None:
    """Return the state last committed to the warehouse (None before the first run).

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The warehouse (see `warehouse_location`).
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings.

    Returns:
        The stored state, exactly as the tap emitted it.

    Raises:
        SyncError: If the state cannot be read, or its bookmark is not a date-time.
    """
    from tap_equipme.warehouse.load_errors import WarehouseError
    from tap_equipme.warehouse.state import read_state

    try:
        state = read_state(destination, path, lake)
    except WarehouseError as exc:
        raise SyncError(f"equipme-sync: {exc}") from exc
    bookmark = bookmark_of(state)
    if bookmark is not None:
        try:
            datetime.fromisoformat(bookmark.replace("Z", "+00:00"))
        except ValueError:
            msg = (
                f"equipme-sync: the stored state in {path} is corrupt: the customers bookmark "
                f"{bookmark!r} is not an ISO-8601 date-time. Restore it, or delete it to start "
                "over from the start date."
            )
            raise SyncError(msg) from None
    return state


def warehouse_location(
    destination: str, path: str | os.PathLike[str], lake: Mapping[str, t.Any]
) -> str:
    """Resolve `path` (a DuckLake catalog is checked, not resolved) and create its directory.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The DuckDB file, the Parquet directory or the DuckLake catalog.
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings.

    Returns:
        The location the loader and the readers are given.

    Raises:
        SyncError: If the directory cannot be created or the lake settings are bad.
    """
    if destination == "ducklake":
        from tap_equipme.warehouse.lake import lake_settings
        from tap_equipme.warehouse.load_errors import WarehouseError

        try:
            return lake_settings(path, lake).catalog
        except WarehouseError as exc:
            raise SyncError(f"equipme-sync: {exc}") from None
    location = Path(path).expanduser().resolve()
    try:
        (location.parent if destination == "duckdb" else location).mkdir(
            parents=True, exist_ok=True
        )
    except OSError as exc:
        msg = f"equipme-sync: setting 'path' {str(path)!r}: cannot create its directory: {exc}"
        raise SyncError(msg) from exc
    return str(location)


def bookmark_of(state: Mapping[str, t.Any] | None) -> str | None:
    """Return tap-equipme's bookmark (the customers' `createdAfter`) of a state, if any.

    Args:
        state: A Singer state, as the tap emitted it.

    Returns:
        `state["bookmarks"]["customers"]["replication_key_value"]` as text, or None.
    """
    try:
        value = (state or {})["bookmarks"][BOOKMARK_STREAM]["replication_key_value"]
    except (KeyError, TypeError):
        return None
    return None if value is None else str(value)
