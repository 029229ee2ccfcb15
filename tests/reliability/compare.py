"""Warehouse vs sandbox: read the DuckDB tables back as API JSON and diff them field by field.

A DuckDB row cannot tell a missing key from a null one (both are NULL), so the comparison
treats "absent" and "null" as equal; everything else must match exactly: "" is not NULL,
1 is not 1.5, and a date-time column must hold the same instant as the API's string.

Also the root conftest's `landed` fixture (loaded by path: test modules cannot import each
other under `--import-mode=importlib`): `differences(destination, path, snapshot)` and
`deleted_ids(destination, path)` for the pipeline, DAG and Meltano tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

BOOKKEEPING = {
    "_loaded_at",
    "_deleted_at",
    "_sdc_table_version",
    "_first_seen_at",
    "_changed_at",
    "_content_hash",
}


@dataclass
class Warehouse:
    """What one DuckDB warehouse holds, converted back to Python values."""

    customers: list[dict[str, Any]]
    metadata: list[dict[str, Any]]
    state: dict[str, Any] | None
    loads: list[dict[str, Any]]

    @property
    def live_customers(self) -> list[dict[str, Any]]:
        return [row for row in self.customers if row.get("_deleted_at") is None]

    @property
    def live_metadata(self) -> list[dict[str, Any]]:
        return [row for row in self.metadata if row.get("_deleted_at") is None]


def _table_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND "
        "table_catalog = current_database() AND table_schema = current_schema()",
        [table],
    ).fetchall()
    if not exists[0][0]:
        return []
    rows: list[dict[str, Any]] = con.sql(f'SELECT * FROM "{table}"').to_arrow_table().to_pylist()
    return rows


def read_warehouse(path: Path) -> Warehouse:
    """Read every table the comparison needs (read-only; the connection is closed after)."""
    import json

    con = duckdb.connect(str(path), read_only=True)
    try:
        state_rows = _table_rows(con, "_equipme_state")
        state = None
        if state_rows:
            raw = state_rows[0]["state"]
            state = json.loads(raw) if isinstance(raw, str) else raw
        return Warehouse(
            customers=_table_rows(con, "customers"),
            metadata=_table_rows(con, "customer_metadata"),
            state=state,
            loads=_table_rows(con, "_equipme_loads"),
        )
    finally:
        con.close()


def read_lake_warehouse(catalog: str, lake: dict[str, Any]) -> Warehouse | None:
    """Read a DuckLake warehouse the same way (None if no lake was created yet)."""
    import json

    from tap_equipme.warehouse.lake import LakeMissingError, connect_lake, lake_settings

    try:
        con = connect_lake(lake_settings(catalog, lake), read_only=True)
    except LakeMissingError:
        return None
    try:
        state_rows = _table_rows(con, "_equipme_state")
        return Warehouse(
            customers=_table_rows(con, "customers"),
            metadata=_table_rows(con, "customer_metadata"),
            state=json.loads(state_rows[0]["state"]) if state_rows else None,
            loads=_table_rows(con, "_equipme_loads"),
        )
    finally:
        con.close()


def read_parquet_warehouse(folder: Path) -> Warehouse:
    """Read a Parquet warehouse (one file per stream, the state as JSON) the same way."""
    import json

    import pyarrow.parquet as pq

    def rows(name: str) -> list[dict[str, Any]]:
        path = folder / f"{name}.parquet"
        return pq.read_table(path).to_pylist() if path.exists() else []

    state_file = folder / "_equipme_state.json"
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.exists() else None
    return Warehouse(
        customers=rows("customers"),
        metadata=rows("customer_metadata"),
        state=state,
        loads=rows("_equipme_loads"),
    )


def _parse_instant(text: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def diff_values(api: Any, stored: Any, where: str = "") -> list[str]:
    """Return the differences between an API JSON value and its warehouse value."""
    if api is None or stored is None:
        if api is None and stored is None:
            return []
        # An empty struct read back as all-NULL fields equals an absent object.
        if api is None and isinstance(stored, dict) and all(v is None for v in stored.values()):
            return []
        return [f"{where or '.'}: API {api!r} != warehouse {stored!r}"]
    if isinstance(api, dict):
        if isinstance(stored, str):  # a free-form object kept as JSON text
            import json

            return diff_values(api, json.loads(stored), where)
        if not isinstance(stored, dict):
            return [f"{where}: API object != warehouse {stored!r}"]
        problems = []
        for key in sorted(set(api) | set(stored)):
            if key in BOOKKEEPING:
                continue
            if key not in stored and api.get(key) is not None:
                problems.append(f"{where}.{key}: API {api[key]!r} missing from the warehouse")
                continue
            problems += diff_values(api.get(key), stored.get(key), f"{where}.{key}")
        return problems
    if isinstance(api, list):
        if isinstance(stored, str):
            import json

            stored = json.loads(stored)
        if not isinstance(stored, list) or len(stored) != len(api):
            return [f"{where}: API list of {len(api)} != warehouse {stored!r}"]
        problems = []
        for index, (a, s) in enumerate(zip(api, stored, strict=True)):
            problems += diff_values(a, s, f"{where}[{index}]")
        return problems
    if isinstance(stored, dt.datetime) and isinstance(api, str):
        instant = _parse_instant(api)
        if instant is None or instant != stored:
            return [f"{where}: API {api!r} != warehouse {stored.isoformat()}"]
        return []
    if isinstance(stored, (dt.date, dt.time)) and isinstance(api, str):
        return [] if stored.isoformat() == api else [f"{where}: API {api!r} != {stored!r}"]
    if isinstance(api, bool) or isinstance(stored, bool):
        return [] if api is stored else [f"{where}: API {api!r} != warehouse {stored!r}"]
    if isinstance(api, (int, float)) and isinstance(stored, (int, float)):
        return [] if api == stored else [f"{where}: API {api!r} != warehouse {stored!r}"]
    if type(api) is not type(stored) or api != stored:
        return [f"{where}: API {api!r} != warehouse {stored!r}"]
    return []


@dataclass
class Comparison:
    """The outcome of comparing a warehouse with the source."""

    customers_compared: int = 0
    metadata_compared: int = 0
    missing: list[Any] = field(default_factory=list)
    unexpected: list[Any] = field(default_factory=list)
    duplicates: list[Any] = field(default_factory=list)
    field_diffs: list[str] = field(default_factory=list)

    @property
    def rows_compared(self) -> int:
        return self.customers_compared + self.metadata_compared

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicates or self.field_diffs)

    def summary(self) -> str:
        if self.ok:
            return (
                f"equal: {self.customers_compared} customers and "
                f"{self.metadata_compared} metadata rows"
            )
        parts = []
        for name in ("missing", "unexpected", "duplicates", "field_diffs"):
            items = getattr(self, name)
            if items:
                parts.append(f"{len(items)} {name} (first: {items[:3]})")
        return "; ".join(parts)


def _duplicates(keys: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    repeated = []
    for key in keys:
        if key in seen:
            repeated.append(key)
        seen.add(key)
    return repeated


def compare(
    warehouse: Warehouse,
    customers: list[dict[str, Any]],
    metadata: dict[str, list[dict[str, Any]]],
    *,
    optional_metadata: set[int] | None = None,
) -> Comparison:
    """Compare the warehouse's live rows with the expected customers and metadata.

    Args:
        warehouse: What the warehouse holds.
        customers: The expected customers (API JSON).
        metadata: Expected metadata items by customer id (as text, like the snapshot).
        optional_metadata: Customers whose metadata may be absent (deleted mid-run): if the
            warehouse holds some, it must still equal the expected items.

    Returns:
        The comparison.
    """
    result = Comparison()
    result.duplicates += _duplicates(row["id"] for row in warehouse.customers)
    result.duplicates += _duplicates((row["customer_id"], row["key"]) for row in warehouse.metadata)
    stored = {row["id"]: row for row in warehouse.live_customers}
    expected = {c["id"]: c for c in customers}
    result.missing += sorted(set(expected) - set(stored))
    result.unexpected += sorted(set(stored) - set(expected))
    for cid in sorted(set(expected) & set(stored)):
        result.customers_compared += 1
        result.field_diffs += diff_values(expected[cid], stored[cid], f"customer {cid}")

    stored_meta = {(r["customer_id"], r["key"]): r for r in warehouse.live_metadata}
    expected_meta = {
        (int(cid), item["key"]): {"customer_id": int(cid), **item}
        for cid, items in metadata.items()
        for item in items
    }
    optional = optional_metadata or set()
    result.missing += [
        ("metadata", *key)
        for key in sorted(set(expected_meta) - set(stored_meta))
        if key[0] not in optional
    ]
    result.unexpected += [
        ("metadata", *key) for key in sorted(set(stored_meta) - set(expected_meta))
    ]
    for key in sorted(set(expected_meta) & set(stored_meta)):
        result.metadata_compared += 1
        result.field_diffs += diff_values(
            expected_meta[key], stored_meta[key], f"metadata {key[0]}/{key[1]}"
        )
    return result


def compare_with_snapshot(warehouse: Warehouse, snapshot: dict[str, Any]) -> Comparison:
    """Compare the warehouse with everything the sandbox holds (live customers only)."""
    return compare(warehouse, snapshot["customers"], snapshot["metadata"])


def bookmark_problems(warehouse: Warehouse, snapshot: dict[str, Any]) -> list[str]:
    """Customers created at or before the stored bookmark that the warehouse lacks.

    An incremental run asks only for customers created after the bookmark, so any such
    customer would never be loaded: the bookmark would be ahead of the data.
    """
    state = warehouse.state or {}
    try:
        bookmark = state["bookmarks"]["customers"]["replication_key_value"]
    except (KeyError, TypeError):
        return []
    if bookmark is None:
        return []
    limit = _parse_instant(str(bookmark))
    if limit is None:
        return [f"bookmark {bookmark!r} is not an ISO-8601 instant"]
    stored = {row["id"] for row in warehouse.customers}
    problems = []
    for cid, created in snapshot["created_at"].items():
        instant = _parse_instant(created)
        if instant is not None and instant <= limit and int(cid) not in stored:
            problems.append(f"customer {cid} created {created} <= bookmark {bookmark} not loaded")
    return problems


def read_if_any(
    destination: str, path: Path | str, lake: dict[str, Any] | None = None
) -> Warehouse | None:
    """Read a warehouse of any destination; None if nothing was written there yet.

    Args:
        destination: `duckdb` (a file), `parquet` (a folder) or `ducklake`.
        path: The file, the folder or the lake's catalog (the loader's `path`).
        lake: Destination `ducklake`: the loader's `lake_*` / `s3_*` settings (the S3
            credentials come from the environment, as for the loader).

    Returns:
        What the warehouse holds, or None.
    """
    if destination == "ducklake":
        return read_lake_warehouse(str(path), lake or {})
    if not Path(path).exists():
        return None
    if destination == "parquet":
        return read_parquet_warehouse(Path(path))
    return read_warehouse(Path(path))


def read(destination: str, path: Path | str, lake: dict[str, Any] | None = None) -> Warehouse:
    """Read a warehouse of any destination (see `read_if_any`) that must exist."""
    warehouse = read_if_any(destination, path, lake)
    if warehouse is None:
        msg = f"no {destination} warehouse at {path} yet"
        raise FileNotFoundError(msg)
    return warehouse


def differences(destination: str, path: Path | str, snapshot: dict[str, Any]) -> list[str]:
    """Every difference between the warehouse and the sandbox's `control.snapshot()`.

    Live rows only; missing and unexpected rows, duplicate keys (soft-deleted rows included)
    and field differences each give one line.
    """
    result = compare_with_snapshot(read(destination, path), snapshot)
    problems = [f"missing {key}" for key in result.missing]
    problems += [f"unexpected {key}" for key in result.unexpected]
    problems += [f"duplicate {key}" for key in result.duplicates]
    return problems + result.field_diffs


def deleted_ids(destination: str, path: Path | str) -> set[int]:
    """The ids of the soft-deleted customers."""
    warehouse = read(destination, path)
    return {row["id"] for row in warehouse.customers if row.get("_deleted_at") is not None}
