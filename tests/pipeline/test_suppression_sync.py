"""It stays erased: rows on the suppression list land with blank personal fields, over HTTP.

The real tap and loader against the sandbox, into a real DuckDB file and a Parquet directory:
a suppressed customer whose contact changes in the API lands NULL in its personal fields, in
the current table and in its history, and the new values are nowhere in the warehouse's
bytes; every other customer lands as before; removing the entry lets values land again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_equipme.pipeline.sync import run_sync
from tap_equipme.warehouse.suppression import (
    Suppression,
    add_suppressions,
    load_parquet_suppressions,
    publish_parquet_suppressions,
    remove_suppressions,
)

SUPPRESSED = 7
NEW_EMAIL = "renamed.person@suppressed.example"
NEW_NAME = "Renamed Suppressed-Person"
PERSONAL = (
    "contactName, contactEmail, contactPhone, accountManager.firstName, "
    "accountManager.lastName, accountManager.email"
)


class Warehouse:
    """One destination's suppression list and tables, read the way a user would."""

    def __init__(self, destination: str, path: Path) -> None:
        self.destination = destination
        self.path = path

    def edit_list(self, *, remove: bool = False) -> None:
        con = duckdb.connect(str(self.path) if self.destination == "duckdb" else ":memory:")
        try:
            if self.destination == "parquet":
                load_parquet_suppressions(con, self.path)
            if remove:
                remove_suppressions(con, "customers", "id", [SUPPRESSED])
                remove_suppressions(con, "customer_metadata", "customer_id", [SUPPRESSED])
            else:
                add_suppressions(
                    con,
                    [
                        Suppression("customers", "id", str(SUPPRESSED), "req-42"),
                        Suppression("customer_metadata", "customer_id", str(SUPPRESSED), "req-42"),
                    ],
                )
            if self.destination == "parquet":
                publish_parquet_suppressions(con, self.path)
        finally:
            con.close()

    def table(self, name: str) -> str:
        if self.destination == "duckdb":
            return name
        return f"read_parquet('{self.path / (name + '.parquet')}')"

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.path) if self.destination == "duckdb" else ":memory:",
                             read_only=self.destination == "duckdb")  # fmt: skip
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def all_bytes(self) -> bytes:
        files = [self.path] if self.path.is_file() else sorted(self.path.rglob("*"))
        return b"".join(f.read_bytes() for f in files if f.is_file())


@pytest.mark.slow  # three syncs of 200 customers each (about 20-40 s per destination)
@pytest.mark.parametrize("destination", ["duckdb", "parquet"])
def test_a_suppressed_customer_lands_blank_until_its_entry_is_removed(
    tap_config: dict[str, Any], sandbox: Any, sandbox_writes: Any, tmp_path: Path,
    destination: str,
) -> None:  # fmt: skip
    path = tmp_path / ("wh.duckdb" if destination == "duckdb" else "wh")
    warehouse = Warehouse(destination, path)
    assert run_sync(tap_config, destination, path, progress_out=None).status == "succeeded"
    customers, history = warehouse.table("customers"), warehouse.table("customers_history")
    before = dict(warehouse.query(f"SELECT id, contactEmail FROM {customers}"))

    warehouse.edit_list()
    sandbox_writes.put_metadata(SUPPRESSED, "contactMobile", "+49 170 5550123")
    sandbox_writes.patch(
        SUPPRESSED,
        [
            {"op": "replace", "path": "/contactName", "value": NEW_NAME},
            {"op": "replace", "path": "/contactEmail", "value": NEW_EMAIL},
        ],
    )
    # A full refresh re-reads every customer and all metadata: every row comes again.
    run_sync(tap_config, destination, path, full_refresh=True, progress_out=None)

    row = warehouse.query(f"SELECT name, {PERSONAL} FROM {customers} WHERE id = {SUPPRESSED}")
    assert row[0][0]  # the company's name is not personal: still there
    assert row[0][1:] == (None,) * 6
    current_history = warehouse.query(
        f"SELECT {PERSONAL} FROM {history} WHERE id = {SUPPRESSED} AND _valid_to IS NULL"
    )
    assert current_history == [(None,) * 6]
    metadata = warehouse.query(
        f"SELECT key, value FROM {warehouse.table('customer_metadata')} "
        f"WHERE customer_id = {SUPPRESSED}"
    )
    assert metadata
    assert all(value is None for _, value in metadata)
    # The new values never reached the warehouse, in any table or file.
    stored = warehouse.all_bytes()
    for value in (NEW_EMAIL, NEW_NAME, "+49 170 5550123"):
        assert value.encode() not in stored
    # Every other customer landed as the API has it.
    after = dict(warehouse.query(f"SELECT id, contactEmail FROM {customers}"))
    assert {k: v for k, v in after.items() if k != SUPPRESSED} == {
        k: v for k, v in before.items() if k != SUPPRESSED
    }

    warehouse.edit_list(remove=True)
    run_sync(tap_config, destination, path, full_refresh=True, progress_out=None)
    assert warehouse.query(
        f"SELECT contactName, contactEmail FROM {customers} WHERE id = {SUPPRESSED}"
    ) == [(NEW_NAME, NEW_EMAIL)]
    assert ("contactMobile", "+49 170 5550123") in warehouse.query(
        f"SELECT key, value FROM {warehouse.table('customer_metadata')} "
        f"WHERE customer_id = {SUPPRESSED}"
    )
