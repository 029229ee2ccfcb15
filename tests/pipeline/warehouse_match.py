"""Compare what landed in a warehouse with what the sandbox holds (`control.snapshot()`).

Loaded by path from the conftests of tests/pipeline, tests/dags and tests/meltano (test
modules cannot import each other under `--import-mode=importlib`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

BOOKKEEPING = ("_loaded_at", "_deleted_at", "_sdc_table_version")


def _relation(destination: str, path: Path, table: str) -> str:
    if destination == "parquet":
        return "read_parquet('" + str(path / f"{table}.parquet").replace("'", "''") + "')"
    return table


def live_rows(destination: str, path: Path | str, table: str) -> list[dict[str, Any]]:
    """Return the live (not soft-deleted) rows of a table as dicts, bookkeeping removed."""
    path = Path(path)
    con = (
        duckdb.connect() if destination == "parquet" else duckdb.connect(str(path), read_only=True)
    )
    try:
        cursor = con.execute(
            f"SELECT * FROM {_relation(destination, path, table)} WHERE _deleted_at IS NULL"
        )
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()
    for row in rows:
        for column in BOOKKEEPING:
            row.pop(column, None)
    return rows


def deleted_ids(destination: str, path: Path | str) -> set[int]:
    """Return the ids of soft-deleted customers."""
    path = Path(path)
    con = (
        duckdb.connect() if destination == "parquet" else duckdb.connect(str(path), read_only=True)
    )
    try:
        rows = con.execute(
            f"SELECT id FROM {_relation(destination, path, 'customers')} "
            "WHERE _deleted_at IS NOT NULL"
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def _same(loaded: Any, api: Any, where: str, diffs: list[str]) -> None:
    if isinstance(loaded, dt.datetime) and isinstance(api, str):
        parsed = dt.datetime.fromisoformat(api.replace("Z", "+00:00"))
        if parsed != loaded:
            diffs.append(f"{where}: {loaded!r} != {api!r}")
        return
    if isinstance(api, dict) or isinstance(loaded, dict):
        api, loaded = api or {}, loaded or {}
        for key in set(api) | set(loaded):
            _same(loaded.get(key), api.get(key), f"{where}.{key}", diffs)
        return
    if isinstance(api, list) and isinstance(loaded, list) and len(api) == len(loaded):
        for index, (a, b) in enumerate(zip(loaded, api, strict=True)):
            _same(a, b, f"{where}[{index}]", diffs)
        return
    if loaded != api:
        diffs.append(f"{where}: {loaded!r} != {api!r}")


def differences(destination: str, path: Path | str, snapshot: dict[str, Any]) -> list[str]:
    """Return every difference between the warehouse's live rows and the sandbox's data."""
    diffs: list[str] = []
    loaded = {row["id"]: row for row in live_rows(destination, path, "customers")}
    api = {c["id"]: c for c in snapshot["customers"]}
    if set(loaded) != set(api):
        missing, extra = sorted(set(api) - set(loaded)), sorted(set(loaded) - set(api))
        diffs.append(f"customer ids differ: missing {missing[:10]}, extra {extra[:10]}")
    for cid in sorted(set(loaded) & set(api)):
        _same(loaded[cid], api[cid], f"customers[{cid}]", diffs)
    loaded_meta = {
        (row["customer_id"], row["key"]): row
        for row in live_rows(destination, path, "customer_metadata")
    }
    api_meta = {
        (int(cid), item["key"]): {**item, "customer_id": int(cid)}
        for cid, items in snapshot["metadata"].items()
        for item in items
    }
    if set(loaded_meta) != set(api_meta):
        missing = sorted(set(api_meta) - set(loaded_meta))
        extra = sorted(set(loaded_meta) - set(api_meta))
        diffs.append(f"metadata keys differ: missing {missing[:10]}, extra {extra[:10]}")
    for key in sorted(set(loaded_meta) & set(api_meta)):
        _same(loaded_meta[key], api_meta[key], f"customer_metadata{key}", diffs)
    return diffs
