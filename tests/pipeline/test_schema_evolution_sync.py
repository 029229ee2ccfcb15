"""equipme-sync when the API grows: new fields land, widen, disappear; a type change stops."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tap_equipme.pipeline.sync import SyncError, run_sync

CUSTOMERS = 20
GROWN = {
    "segment": "enterprise",
    "billingAddress": {"city": "Bern", "countryCode": "CH"},
    "companyAddress.latitude": 46,
}


def _sync(tap_config, path: Path, destination: str, **kwargs):
    return run_sync(tap_config, destination, path, progress_out=None, full_refresh=True, **kwargs)


def _query(destination: str, path: Path, sql: str) -> list[tuple]:
    if destination == "duckdb":
        con = duckdb.connect(str(path), read_only=True)
    else:
        con = duckdb.connect()
        for table in ("customers", "customer_metadata", "_equipme_schema_changes"):
            if (path / f"{table}.parquet").exists():
                con.execute(
                    f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}/{table}.parquet')"
                )
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("destination", ["duckdb", "parquet"])
def test_fields_the_api_grows_land_widen_and_disappear_across_syncs(
    tap_config, sandbox, tmp_path, destination
):
    sandbox.control.reset(customers=CUSTOMERS, seed=1)
    path = tmp_path / ("wh.duckdb" if destination == "duckdb" else "wh")
    first = _sync(tap_config, path, destination)
    assert first.schema_changes == []

    # The API grows three fields on half of the customers, and one on metadata items.
    half = list(range(1, CUSTOMERS // 2 + 1))
    sandbox.control.set_extra_fields(customer=GROWN, metadata={"updatedBy": "api"}, ids=half)
    second = _sync(tap_config, path, destination)
    added = {(c["stream"], c["field_path"]) for c in second.schema_changes}
    assert added == {
        ("customers", "segment"),
        ("customers", "billingAddress"),
        ("customers", "companyAddress.latitude"),
        ("customer_metadata", "updatedBy"),
    }
    assert "schema change: customers.segment: new VARCHAR" in second.render()
    rows = _query(
        destination,
        path,
        "SELECT id, segment, billingAddress.city, companyAddress.latitude FROM customers "
        "WHERE companyAddress IS NOT NULL ORDER BY id",
    )
    assert {r[1:] for r in rows if r[0] in half} == {("enterprise", "Bern", 46)}
    assert {r[1:] for r in rows if r[0] not in half} == {(None, None, None)}

    # latitude turns out to carry fractions: integer -> number widens the column.
    sandbox.control.set_extra_fields(customer={"companyAddress.latitude": 46.95}, ids=half)
    third = _sync(tap_config, path, destination)
    assert [
        (c["field_path"], c["change"], c["old_type"], c["new_type"]) for c in third.schema_changes
    ] == [("companyAddress.latitude", "widened", "BIGINT", "DOUBLE")]
    # segment and billingAddress disappeared from the API: the columns stay, rows read NULL.
    rows = _query(
        destination,
        path,
        "SELECT count(*), count(segment), count(billingAddress), max(companyAddress.latitude) "
        "FROM customers",
    )
    assert rows == [(CUSTOMERS, 0, 0, 46.95)]
    log = _query(destination, path, "SELECT count(*) FROM _equipme_schema_changes")
    assert log == [(5,)]

    # A number that becomes a string is refused, naming stream, field and both types.
    sandbox.control.set_extra_fields(customer={"companyAddress.latitude": "46.95N"}, ids=half)
    with pytest.raises(SyncError) as failure:
        _sync(tap_config, path, destination)
    message = str(failure.value)
    assert "customers" in message
    assert "companyAddress.latitude" in message
    assert "DOUBLE" in message
    assert "VARCHAR" in message
    assert _query(destination, path, "SELECT max(companyAddress.latitude) FROM customers") == [
        (46.95,)
    ]
