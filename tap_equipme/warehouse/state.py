"""The Singer state stored in the warehouse itself, and how the pipeline reads it back."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.tables import open_table

STATE_TABLE = "_equipme_state"
STATE_FILE = "_equipme_state.json"
DESTINATIONS = ("duckdb", "parquet", "ducklake")


def stream_bookmark(state: Mapping[str, Any] | None, stream: str | None) -> str | None:
    """Return a stream's bookmark in singer-sdk's state shape, if any.

    Args:
        state: A Singer state.
        stream: The stream (the loader's `bookmark_stream` setting); None: no bookmark.

    Returns:
        `state["bookmarks"][stream]["replication_key_value"]` as text, or None.
    """
    if stream is None:
        return None
    try:
        value = (state or {})["bookmarks"][stream]["replication_key_value"]
    except (KeyError, TypeError):
        return None
    return None if value is None else str(value)


def read_state(
    destination: str,
    path: str | os.PathLike[str],
    lake: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Return the last state committed to a warehouse, or None if there is none yet.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The DuckDB file, the Parquet directory or the DuckLake catalog.
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings.

    Returns:
        The stored state, exactly as the tap emitted it.

    Raises:
        WarehouseError: For an unknown destination or a warehouse that cannot be read.
    """
    if destination not in DESTINATIONS:
        msg = f"Setting 'destination': {destination!r} is not one of {list(DESTINATIONS)}."
        raise WarehouseError(msg)
    location = Path(path)
    if destination == "parquet":
        state_file = location / STATE_FILE
        if not state_file.exists():
            return None
        return parse_state(state_file.read_text(encoding="utf-8"), str(state_file))
    with open_table(destination, path, STATE_TABLE, lake) as table:
        if table is None:
            return None
        con, relation = table
        row = con.execute(f"SELECT state FROM {relation} WHERE id = 1").fetchone()
    return (
        parse_state(row[0], f"{_describe(destination, path, lake)}, table {STATE_TABLE}")
        if row
        else None
    )


def _describe(
    destination: str, path: str | os.PathLike[str], lake: Mapping[str, Any] | None
) -> str:
    if destination != "ducklake":
        return str(path)
    from tap_equipme.warehouse.lake import lake_settings

    settings = lake_settings(path, lake)
    return f"{settings.describe()}, schema {settings.schema!r}"


def parse_state(text: str, where: str) -> dict[str, Any]:
    """Decode a stored state; anything but a JSON object is a corrupt state (clear error)."""
    try:
        state = json.loads(text)
    except ValueError as exc:
        msg = (
            f"The stored state in {where} is corrupt (not valid JSON: {exc}). Restore it, or "
            "delete it to start over from the start date."
        )
        raise WarehouseError(msg) from exc
    problem = _state_shape_problem(state)
    if problem:
        msg = (
            f"The stored state in {where} is corrupt: {problem}. Restore it, or delete it to "
            "start over from the start date."
        )
        raise WarehouseError(msg)
    return state


def _state_shape_problem(state: Any) -> str | None:
    """Say what makes a decoded state unusable (the parts other components read), or None."""
    if not isinstance(state, dict):
        return f"expected a JSON object, found {type(state).__name__}"
    bookmarks = state.get("bookmarks")
    if bookmarks is None:
        return None
    if not isinstance(bookmarks, dict):
        return f"'bookmarks' must be an object, found {type(bookmarks).__name__}"
    for stream, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            return f"the bookmark of stream {stream!r} must be an object"
    return None


def write_json_atomically(path: Path, payload: Any) -> None:
    """Write JSON to `path` through a temp file in the same directory and `os.replace`.

    Args:
        path: Destination file.
        payload: JSON-serialisable value.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; the state holds no secrets
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
