"""The peer matrix with plugins from PyPI, each in a venv of its own (see conftest).

- tap-equipme (over real HTTP from the sandbox) into `target-jsonl` 0.1.4 and jwills'
  `target-duckdb` 0.8.0: every customer and metadata row compared with the sandbox's, field by
  field (`tests/reliability/compare.py`).
- MeltanoLabs `tap-postgres` 0.10.0 (a singer-sdk SQL tap: FULL_TABLE, ACTIVATE_VERSION only
  before the records) reading a real PostgreSQL table into `target-duckdb-lake` with
  `activate_version_mode: opening`: rows compared with the table's, and a row deleted at the
  source is marked deleted in the warehouse.

Slow: the first run builds the venvs (about 30-45 s each); later runs reuse them.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest

pytestmark = pytest.mark.slow

TARGET_JSONL = ["target-jsonl==0.1.4"]
# Its duckdb pinned to the project's, so this process can open the file it writes.
TARGET_DUCKDB = ["target-duckdb==0.8.0", f"duckdb=={duckdb.__version__}"]
TAP_POSTGRES = ["meltanolabs-tap-postgres==0.10.0"]


def _tap_argv(peers: Any, tmp_path: Path, tap_config: dict[str, Any]) -> list[str]:
    config = {**tap_config, "full_refresh": True}
    return [*peers.tap, "--config", str(peers.write_config(tmp_path / "tap.json", config))]


def test_tap_equipme_into_target_jsonl_lands_every_row(
    peers, sandbox, tap_config, tmp_path, landed
):
    sandbox.control.reset(customers=60, seed=3)
    bin_dir = peers.venv("target-jsonl", TARGET_JSONL)
    out = tmp_path / "jsonl"
    out.mkdir()
    target_config = peers.write_config(
        tmp_path / "target.json", {"destination_path": str(out), "do_timestamp_file": False}
    )
    run = peers.pipe(
        _tap_argv(peers, tmp_path, tap_config),
        [str(bin_dir / "target-jsonl"), "--config", str(target_config)],
    ).check()

    def rows(stream: str) -> list[dict[str, Any]]:
        lines = (out / f"{stream}.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    warehouse = landed.Warehouse(
        customers=rows("customers"), metadata=rows("customer_metadata"), state=None, loads=[]
    )
    snapshot = sandbox.control.snapshot()
    result = landed.compare_with_snapshot(warehouse, snapshot)
    assert result.ok, result.summary()
    assert result.customers_compared == len(snapshot["customers"]) == 60
    assert result.metadata_compared == sum(len(v) for v in snapshot["metadata"].values()) > 0
    reads = rows("customer_metadata_reads")
    assert sorted(r["customer_id"] for r in reads) == sorted(c["id"] for c in snapshot["customers"])
    assert sandbox.control.snapshot() == snapshot
    assert tap_config["api_key"] not in run.tap_log + run.target_log


def _as_jwills_stores(value: Any) -> Any:
    """An API record as jwills' target-duckdb 0.8.0 stores it: column names lower-cased and
    empty strings as NULL (its own deviation; nested objects keep their keys, as JSON)."""
    return {k.lower(): (None if v == "" else v) for k, v in value.items()}


def _integral_decimals_as_int(row: dict[str, Any]) -> dict[str, Any]:
    # target-duckdb 0.8.0 types JSON Schema integers as DECIMAL: same value, other type.
    return {
        k: int(v) if isinstance(v, Decimal) and v == v.to_integral_value() else v
        for k, v in row.items()
    }


def test_tap_equipme_into_jwills_target_duckdb_lands_every_row(
    peers, sandbox, tap_config, tmp_path, landed
):
    """jwills' target-duckdb lower-cases column names, keeps nested objects as JSON text, types
    integers as DECIMAL and stores empty strings as NULL; the comparison reads its tables back
    that way, and nothing else may differ."""
    sandbox.control.reset(customers=60, seed=3)
    bin_dir = peers.venv("target-duckdb", TARGET_DUCKDB)
    path = tmp_path / "jwills.duckdb"
    target_config = peers.write_config(
        tmp_path / "target.json", {"filepath": str(path), "default_target_schema": "equipme"}
    )
    peers.pipe(
        _tap_argv(peers, tmp_path, tap_config),
        [str(bin_dir / "target-duckdb"), "--config", str(target_config)],
    ).check()

    con = duckdb.connect(str(path), read_only=True)
    try:

        def rows(table: str) -> list[dict[str, Any]]:
            arrow = con.sql(f"SELECT * FROM equipme.{table}").to_arrow_table()
            return [
                _integral_decimals_as_int(
                    {k: v for k, v in row.items() if not k.startswith("_sdc_")}
                )
                for row in arrow.to_pylist()
            ]

        customers, metadata = rows("customers"), rows("customer_metadata")
    finally:
        con.close()
    snapshot = sandbox.control.snapshot()
    expected = {
        **snapshot,
        "customers": [_as_jwills_stores(c) for c in snapshot["customers"]],
        "metadata": {
            cid: [_as_jwills_stores(item) for item in items]
            for cid, items in snapshot["metadata"].items()
        },
    }
    warehouse = landed.Warehouse(customers=customers, metadata=metadata, state=None, loads=[])
    result = landed.compare_with_snapshot(warehouse, expected)
    assert result.ok, result.summary()
    assert result.customers_compared == 60
    assert result.metadata_compared == sum(len(v) for v in snapshot["metadata"].values()) > 0


PRODUCTS = [
    (1, "T-100", "Biberschwanz «rot»", Decimal("12.50"), True, dt.date(2024, 1, 2)),
    (2, "T-200", "Falzziegel", Decimal("14.00"), False, None),
    (3, "T-300", None, Decimal("99.99"), True, dt.date(2025, 6, 30)),
    (4, "T-400", "Mönch & Nonne", None, None, dt.date(2023, 12, 31)),
]


def _products_sql(rows: list[tuple[Any, ...]]) -> str:
    def literal(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, Decimal)):
            return str(value)
        return "'" + str(value).replace("'", "''") + "'"

    values = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    return f"INSERT INTO shop.products VALUES {values}"


def test_meltanolabs_tap_postgres_into_the_loader_deletes_rows_removed_at_the_source(
    peers, lake_postgres, tmp_path, landed
):
    bin_dir = peers.venv("tap-postgres", TAP_POSTGRES)
    catalog = lake_postgres.create_database()
    uri = urlsplit(catalog.removeprefix("postgres:"))
    database = uri.path.lstrip("/")
    lake_postgres.psql(
        "CREATE SCHEMA shop; CREATE TABLE shop.products (id integer PRIMARY KEY, sku text "
        "NOT NULL, name text, price numeric(10, 2), active boolean, launched date); "
        + _products_sql(PRODUCTS),
        database,
    )
    tap_config = peers.write_config(
        tmp_path / "tap.json",
        {
            # Trust auth on the server's Unix socket (the query's `host`); the tap insists on
            # a host and a password in the URL, both unused.
            "sqlalchemy_url": (
                f"postgresql+psycopg2://postgres:unused@localhost/{database}"
                f"?host={parse_qs(uri.query)['host'][0]}"
            ),
            "filter_schemas": ["shop"],
            "emit_activate_version_messages": True,
        },
    )
    warehouse = tmp_path / "warehouse.duckdb"
    target_config = peers.write_config(
        tmp_path / "target.json", {"path": str(warehouse), "activate_version_mode": "opening"}
    )
    tap = [str(bin_dir / "tap-postgres"), "--config", str(tap_config)]
    # As a user would: discover, then select the table (tap-postgres selects nothing itself).
    catalog_json = json.loads(
        subprocess.run(
            [*tap, "--discover"], capture_output=True, text=True, timeout=120, check=True
        ).stdout
    )
    for stream in catalog_json["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    catalog_file = peers.write_config(tmp_path / "catalog.json", catalog_json)
    argv = (
        [*tap, "--catalog", str(catalog_file)],
        [*peers.target, "--config", str(target_config)],
    )

    def landed_rows() -> list[dict[str, Any]]:
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            rows: list[dict[str, Any]] = (
                con.sql('SELECT * FROM "shop-products" ORDER BY id').to_arrow_table().to_pylist()
            )
        finally:
            con.close()
        return rows

    def expected(rows: list[tuple[Any, ...]]) -> dict[int, dict[str, Any]]:
        names = ("id", "sku", "name", "price", "active", "launched")
        return {row[0]: dict(zip(names, row, strict=True)) for row in rows}

    def assert_live_equal(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        table = landed_rows()
        live = {row["id"]: row for row in table if row["_deleted_at"] is None}
        want = expected(rows)
        assert sorted(live) == sorted(want)
        for key, row in want.items():
            stored = {name: live[key][name] for name in row}
            # Numbers travel as JSON numbers: compare prices as decimals of two places.
            if stored["price"] is not None:
                stored["price"] = Decimal(str(stored["price"])).quantize(Decimal("0.01"))
            if isinstance(stored["launched"], dt.datetime):
                stored["launched"] = stored["launched"].date()
            assert stored == row, key
        return table

    first = peers.pipe(*argv).check()
    assert "ACTIVATE_VERSION" in first.target_log
    assert_live_equal(PRODUCTS)

    lake_postgres.psql("DELETE FROM shop.products WHERE id IN (2, 4)", database)
    lake_postgres.psql("UPDATE shop.products SET price = 13.00 WHERE id = 1", database)
    # singer-sdk's table version is the tap's start in whole seconds.
    time.sleep(1.1)
    second = peers.pipe(*argv).check()
    now = [(1, *PRODUCTS[0][1:3], Decimal("13.00"), *PRODUCTS[0][4:]), PRODUCTS[2]]
    table = assert_live_equal(now)
    assert sorted(r["id"] for r in table if r["_deleted_at"] is not None) == [2, 4]
    assert "WARNING" not in "\n".join(
        line for line in second.target_log.splitlines() if "ACTIVATE_VERSION" in line
    )
