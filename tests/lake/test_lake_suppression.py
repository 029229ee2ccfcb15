"""It stays erased on DuckLake: the suppression list in the lake schema, over the sandbox.

The list is written the way `equipme-sync erase` does (a writable lake connection and
`suppression.add_suppressions`); a later sync blanks the suppressed customer's personal
fields in the current and history tables, and its new values are in no data file and no row
of the catalog database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tap_equipme.pipeline.sync import run_sync
from tap_equipme.warehouse.lake import connect_lake, lake_settings
from tap_equipme.warehouse.suppression import (
    SUPPRESSIONS_TABLE,
    Suppression,
    add_suppressions,
    remove_suppressions,
)

NEW_EMAIL = "lake.renamed@suppressed.example"


@pytest.mark.slow  # three syncs into a lake (PostgreSQL catalog), 30-100 s on a shared machine
def test_a_suppressed_customer_lands_blank_in_the_lake_until_unsuppressed(
    sandbox: Any, tap_config: dict[str, Any], sandbox_writes: Any, lake: Any,
    lake_postgres: Any, tmp_path: Path,
) -> None:  # fmt: skip
    sandbox.control.reset(customers=30, seed=7)

    def sync() -> Any:
        return run_sync(
            tap_config, "ducklake", lake.catalog, full_refresh=True, progress_out=None,
            lake=lake.settings,
        )  # fmt: skip

    def edit(remove: bool = False) -> None:
        con = connect_lake(lake_settings(lake.catalog, lake.settings))
        try:
            if remove:
                assert remove_suppressions(con, "customers", "id", ["5"]) == 1
            else:
                add_suppressions(con, [Suppression("customers", "id", "5", "req-lake")])
        finally:
            con.close()

    sync()
    edit()
    assert lake.query(f"SELECT stream, key_column, key_value FROM {SUPPRESSIONS_TABLE}") == [
        ("customers", "id", "5")
    ]
    sandbox_writes.patch(5, [{"op": "replace", "path": "/contactEmail", "value": NEW_EMAIL}])
    sync()
    assert lake.query(
        "SELECT contactName, contactEmail, accountManager.lastName FROM customers WHERE id = 5"
    ) == [(None, None, None)]
    assert lake.query(
        "SELECT contactEmail FROM customers_history WHERE id = 5 AND _valid_to IS NULL"
    ) == [(None,)]
    others = dict(lake.query("SELECT id, contactName FROM customers WHERE id <> 5"))
    api = {c["id"]: c["contactName"] for c in sandbox.control.snapshot()["customers"]}
    assert others == {k: v for k, v in api.items() if k != 5}
    data = b"".join(f.read_bytes() for f in Path(lake.settings["lake_data_path"]).rglob("*")
                    if f.is_file())  # fmt: skip
    assert NEW_EMAIL.encode() not in data
    assert NEW_EMAIL not in lake_postgres.dump(lake.catalog)

    edit(remove=True)
    sync()
    assert lake.query("SELECT contactEmail FROM customers WHERE id = 5") == [(NEW_EMAIL,)]
