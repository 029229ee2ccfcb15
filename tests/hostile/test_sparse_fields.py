"""Fields a real API adds: sparse and nullable, first seen on any record, into a warehouse.

The tap widens its schema when it meets a field the spec does not declare and sends a new
SCHEMA in the middle of the stream; the loader must then evolve a table it has already
written in the same run. Each case runs `equipme-sync` over real HTTP against the sandbox,
whose `extra_fields` hook adds fields to chosen customers only, on an existing warehouse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_equipme.pipeline.sync import SyncError, run_sync

CUSTOMERS = 12
BATCH = 4
"""Target batch size: customers 9..12 arrive in the third batch."""
GROWN: dict[str, Any] = {
    # from the 3rd customer on (the first two were loaded before the new SCHEMA came)
    "customer": {"segment": "smb"},
    "ids": list(range(3, CUSTOMERS + 1)),
    "also": [
        {"customer": {"origin": "crm"}, "ids": [1]},  # the first record only
        {"customer": {"companyAddress.latitude": 46.5}, "ids": [4, 7]},  # nested, sparse
        {"customer": {"tier": 2}, "ids": [9, 10, 11, 12]},  # a later batch
        {"metadata": {"updatedBy": "api"}, "ids": [5]},  # metadata of a later customer
    ],
}


class Warehouse:
    """One destination's location, sync and read-back."""

    def __init__(self, destination: str, tmp_path: Path, lake: Any = None) -> None:
        self.destination = destination
        self.lake = lake
        if destination == "duckdb":
            self.path: Any = tmp_path / "wh.duckdb"
        elif destination == "parquet":
            self.path = tmp_path / "wh"
        else:
            self.path = lake.catalog

    def sync(self, tap_config: dict[str, Any]) -> Any:
        return run_sync(
            tap_config,
            self.destination,
            self.path,
            full_refresh=True,  # every customer's metadata read again (change capture would not)
            progress_out=None,
            target_settings={"batch_size_rows": BATCH},
            lake=self.lake.settings if self.lake else None,
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.destination == "ducklake":
            result: list[tuple[Any, ...]] = self.lake.query(sql)
            return result
        if self.destination == "duckdb":
            con = duckdb.connect(str(self.path), read_only=True)
        else:
            con = duckdb.connect()
            for table in ("customers", "customer_metadata"):
                source = self.path / f"{table}.parquet"
                con.execute(f"CREATE VIEW {table} AS FROM read_parquet('{source}')")
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


class Lake:
    """A fresh DuckLake catalog (a database on the session's PostgreSQL), data in tmp_path."""

    def __init__(self, lake_postgres: Any, tmp_path: Path) -> None:
        self.catalog = lake_postgres.create_database()
        self.settings = {"lake_data_path": str(tmp_path / "lake-data")}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        from tap_equipme.warehouse.lake import connect_lake, lake_settings

        con = connect_lake(lake_settings(self.catalog, self.settings), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


@pytest.fixture(
    params=[
        "duckdb",
        pytest.param("parquet", marks=pytest.mark.slow),
        pytest.param("ducklake", marks=pytest.mark.slow),
    ]
)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    lake = None
    if request.param == "ducklake":
        lake = Lake(request.getfixturevalue("lake_postgres"), tmp_path)
    return Warehouse(request.param, tmp_path, lake)


def test_a_field_first_seen_on_any_record_lands_in_an_existing_warehouse(
    sandbox: Any, tap_config: dict[str, Any], warehouse: Warehouse
) -> None:
    sandbox.control.reset(customers=CUSTOMERS, seed=2)
    snapshot = sandbox.control.snapshot()
    # The listing order the cases rely on, and metadata on the customer that grows a field.
    assert [c["id"] for c in snapshot["customers"]] == list(range(1, CUSTOMERS + 1))
    assert snapshot["metadata"]["3"]
    assert snapshot["metadata"]["5"]
    warehouse.sync(tap_config)  # an existing warehouse, loaded before the API grew

    sandbox.control.set_extra_fields(**GROWN)
    grown = warehouse.sync(tap_config)
    assert grown.status == "succeeded"
    assert {(c["stream"], c["field_path"]) for c in grown.schema_changes} == {
        ("customers", "segment"),
        ("customers", "origin"),
        ("customers", "companyAddress.latitude"),
        ("customers", "tier"),
        ("customer_metadata", "updatedBy"),
    }
    rows = warehouse.query(
        "SELECT id, segment, origin, companyAddress.latitude, tier FROM customers ORDER BY id"
    )
    assert [r[1] for r in rows] == [None, None] + ["smb"] * (CUSTOMERS - 2)
    assert {r[0] for r in rows if r[2] is not None} == {1}
    assert {r[0]: r[3] for r in rows if r[3] is not None} == {4: 46.5, 7: 46.5}
    assert {r[0] for r in rows if r[4] == 2} == {9, 10, 11, 12}
    metadata = warehouse.query(
        "SELECT DISTINCT customer_id FROM customer_metadata WHERE updatedBy = 'api'"
    )
    assert metadata == [(5,)]

    # The next run over the same API loads again, with nothing left to evolve.
    again = warehouse.sync(tap_config)
    assert again.status == "succeeded"
    assert again.schema_changes == []
    assert warehouse.query("SELECT count(*), count(segment) FROM customers") == [
        (CUSTOMERS, CUSTOMERS - 2)
    ]


def test_a_run_that_fails_after_a_mid_stream_schema_change_leaves_a_loadable_warehouse(
    sandbox: Any, tap_config: dict[str, Any], tmp_path: Path
) -> None:
    warehouse = Warehouse("duckdb", tmp_path)
    sandbox.control.reset(customers=CUSTOMERS, seed=2)
    warehouse.sync(tap_config)
    # A new integer field from the 3rd customer on, then a string on the 10th: the run adds
    # the column mid-stream, then stops with a clear error (a column's type never changes).
    sandbox.control.set_extra_fields(
        customer={"tier": 2},
        ids=list(range(3, CUSTOMERS + 1)),
        also=[{"customer": {"tier": "gold"}, "ids": [10]}],
    )
    with pytest.raises(SyncError) as failure:
        warehouse.sync(tap_config)
    message = str(failure.value)
    assert "'tier' is BIGINT in the warehouse" in message
    assert "Traceback" not in message
    # The API is repaired: the next run loads everything.
    sandbox.control.set_extra_fields(customer={"tier": 2}, ids=list(range(3, CUSTOMERS + 1)))
    assert warehouse.sync(tap_config).status == "succeeded"
    assert warehouse.query("SELECT count(*), count(tier) FROM customers") == [
        (CUSTOMERS, CUSTOMERS - 2)
    ]
