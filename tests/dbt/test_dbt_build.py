"""The dbt package built over each destination that equipme-sync filled from the sandbox.

One test per destination (DuckDB file, Parquet directory, DuckLake on PostgreSQL): two syncs
with an edit and a deletion between them, then `dbt build` (models and tests) through the
pipeline's `run_dbt_build`, then the models' rows compared with the sandbox's own data, now and
as of before the changes. Slow: two syncs and a dbt run (about 30 s each on 2 cores).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tap_equipme.pipeline.sync import run_sync
from tap_equipme.pipeline.transform import PROJECT_DIR, run_dbt, run_dbt_build

pytestmark = pytest.mark.slow

MODELS = "main_equipme"
CUSTOMERS = 80
RENAMED = "Renamed By dbt Test GmbH"


def customer_row(c: dict[str, Any]) -> tuple[Any, ...]:
    """The staging model's columns for one sandbox customer (one of each nested object)."""
    address = c.get("companyAddress") or {}
    manager = c.get("accountManager") or {}
    referral = c.get("referredBy") or {}
    return (
        c["id"],
        c["name"],
        c.get("customerNumber"),
        c.get("active"),
        c.get("language"),
        address.get("city"),
        address.get("countryCode"),
        manager.get("id"),
        manager.get("email"),
        (referral.get("company") or {}).get("id"),
        (referral.get("employee") or {}).get("id"),
    )


STAGED = (
    "customer_id, customer_name, customer_number, is_active, language, address_city, "
    "address_country_code, account_manager_id, account_manager_email, referred_by_customer_id, "
    "referred_by_employee_id"
)


def warehouse(destination: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Any, dict]:
    """The warehouse location (and lake settings) of one destination."""
    if destination == "duckdb":
        return tmp_path / "wh.duckdb", {}
    if destination == "parquet":
        return tmp_path / "wh-parquet", {}
    catalog = request.getfixturevalue("lake_postgres").create_database()
    return catalog, {"lake_data_path": str(tmp_path / "lake-data"), "lake_schema": "tenant_a"}


@pytest.mark.parametrize("destination", ["duckdb", "parquet", "ducklake"])
def test_models_hold_the_sandbox_now_and_as_of_before_its_last_changes(
    destination, sandbox, tap_config, sandbox_writes, tmp_path, request
):
    sandbox.control.reset(customers=CUSTOMERS, seed=5)  # small: the syncs take seconds
    path, lake = warehouse(destination, tmp_path, request)
    run_sync(tap_config, destination, path, lake=lake)
    before = sandbox.control.snapshot()
    time.sleep(0.05)
    between = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.05)
    customers = before["customers"]
    renamed, gone = customers[3]["id"], customers[7]["id"]
    sandbox_writes.patch(renamed, [{"op": "replace", "path": "/name", "value": RENAMED}])
    sandbox.control.delete_customers([gone])
    run_sync(tap_config, destination, path, lake=lake)
    after = sandbox.control.snapshot()

    models = tmp_path / "models.duckdb"
    summary = run_dbt_build(destination, path, lake=lake, dbt_path=models, echo=False)
    assert summary.models == 4
    # Only the referral check may warn: a referrer can be gone from the tenant.
    assert all("referred_by_customer_id" in w for w in summary.warnings), summary.warnings
    assert summary.tests_passed + summary.tests_warned == 26

    with duckdb.connect(str(models), read_only=True) as con:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return sorted(con.execute(sql).fetchall(), key=repr)

        # Staging: one row per live customer, typed and flattened, as the API has them now.
        staged = rows(f"SELECT {STAGED} FROM {MODELS}.stg_equipme__customers")
        assert staged == sorted((customer_row(c) for c in after["customers"]), key=repr)
        assert (renamed, RENAMED) in {(r[0], r[1]) for r in staged}
        assert gone not in {r[0] for r in staged}

        # Metadata, keyed: exactly the API's items of live customers.
        metadata = rows(
            "SELECT customer_id, metadata_key, metadata_value, metadata_scope "
            f"FROM {MODELS}.stg_equipme__customer_metadata"
        )
        expected = [
            (int(cid), item["key"], item.get("value"), item.get("scope"))
            for cid, items in after["metadata"].items()
            for item in items
            if int(cid) in {c["id"] for c in after["customers"]}
        ]
        assert metadata == sorted(expected, key=repr)
        assert metadata, "the sandbox's customers have metadata"

        # Pivoted: a column per key, the same values.
        wide = con.execute(f"SELECT * FROM {MODELS}.equipme__customer_metadata_wide").fetchall()
        columns = [d[0] for d in con.description]  # type: ignore[union-attr]
        pivoted = {
            (row[0], key, value)
            for row in wide
            for key, value in zip(columns[1:], row[1:], strict=True)
            if value is not None
        }
        assert pivoted == {
            (cid, key.lower(), value) for cid, key, value, _ in metadata if value is not None
        }
        assert len(wide) == len(after["customers"])

        # As of: the state before the changes, and the current state.
        def state_on(at: dt.datetime) -> list[tuple[Any, ...]]:
            return rows(
                f"SELECT {STAGED} FROM {MODELS}.equipme__customers_as_of "
                "WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)".replace(
                    "?", f"TIMESTAMPTZ '{at.isoformat()}'"
                )
            )

        assert state_on(between) == sorted((customer_row(c) for c in customers), key=repr)
        now = dt.datetime.now(dt.timezone.utc)
        assert state_on(now) == staged
        versions = rows(
            "SELECT customer_id, version_number, is_current "
            f"FROM {MODELS}.equipme__customers_as_of WHERE customer_id IN ({renamed}, {gone})"
        )
        assert set(versions) == {(gone, 1, False), (renamed, 1, False), (renamed, 2, True)}

        # Every column of the built staging model is documented (and nothing else is).
        built = [r[0] for r in con.execute(f"DESCRIBE {MODELS}.stg_equipme__customers").fetchall()]
    documented = yaml.safe_load((PROJECT_DIR / "models" / "_equipme__models.yml").read_text())
    stg = next(m for m in documented["models"] if m["name"] == "stg_equipme__customers")
    assert built == [c["name"] for c in stg["columns"]]

    if destination == "duckdb":
        # Docs: the catalog sees the sources' and the models' columns with the spec's words.
        done, work = run_dbt(["docs", "generate"], destination, path, dbt_path=models)
        assert done.returncode == 0, done.stdout[-3000:]
        catalog = json.loads((work / "catalog.json").read_text())
        manifest = json.loads((work / "manifest.json").read_text())
        source = catalog["sources"]["source.equipme.equipme.customers"]
        assert {"id", "companyaddress", "_loaded_at"} <= {c.lower() for c in source["columns"]}
        city = manifest["nodes"]["model.equipme.stg_equipme__customers"]["columns"]
        assert city["address_city"]["description"] == "The city name of the address."
