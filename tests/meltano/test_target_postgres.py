"""The standard route to any other warehouse: `meltano run tap-equipme target-postgres`.

MeltanoLabs' target-postgres (from PyPI, defined inline in meltano.yml) loads the tap into a
real PostgreSQL server; every customer and metadata row must equal the sandbox's, field by
field, through the same comparison as the DuckDB tests (tests/reliability/compare.py).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.slow

NEW_CUSTOMERS = [
    {"name": "Porto Telhados Lda", "customerNumber": "PG-1", "active": True},
    {"name": "Kraków Dachy Sp. z o.o.", "customerNumber": "PG-2", "active": False},
]


def postgres_rows(con: Any, schema: str, table: str) -> list[dict[str, Any]]:
    """The table's rows as the API would spell them: target-postgres' _sdc_* columns dropped.

    Its soft-delete column becomes the comparison's `_deleted_at`; a UUID column reads back
    as `uuid.UUID`, the API's value is the text.
    """
    from psycopg.rows import dict_row

    with con.cursor(row_factory=dict_row) as cur:
        cur.execute(f'SELECT * FROM "{schema}"."{table}"')
        rows = cur.fetchall()
    result = []
    for row in rows:
        clean = {k: v for k, v in row.items() if not k.startswith("_sdc_")}
        clean["_deleted_at"] = row.get("_sdc_deleted_at")
        result.append({k: str(v) if isinstance(v, uuid.UUID) else v for k, v in clean.items()})
    return result


class Database:
    """One fresh database on the session's embedded PostgreSQL (the `lake_postgres` fixture)."""

    def __init__(self, lake_postgres: Any) -> None:
        self.name = f"pg_{uuid.uuid4().hex[:12]}"
        uri = urlparse(lake_postgres.create_database(self.name).removeprefix("postgres:"))
        self.socket_dir = parse_qs(uri.query)["host"][0]  # trust auth on a Unix socket

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg://postgres@/{self.name}?host={self.socket_dir}"

    def read(self, landed: Any, schema: str) -> Any:
        import psycopg

        with psycopg.connect(dbname=self.name, user="postgres", host=self.socket_dir) as con:
            return landed.Warehouse(
                customers=postgres_rows(con, schema, "customers"),
                metadata=postgres_rows(con, schema, "customer_metadata"),
                state=None,
                loads=[],
            )


def test_meltano_run_target_postgres_lands_every_row_then_only_the_new_customers(
    meltano, sandbox, api_key, lake_postgres, landed
):
    database = Database(lake_postgres)
    schema = "equipme"
    env = {
        "TAP_EQUIPME_API_KEY": api_key,
        "TAP_EQUIPME_API_URL": sandbox.base_url,
        "TARGET_POSTGRES_SQLALCHEMY_URL": database.sqlalchemy_url,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }
    run = ("run", "--state-id-suffix", database.name, "tap-equipme", "target-postgres")

    first = meltano.run(*run, env=env)
    snapshot = sandbox.control.snapshot()
    result = landed.compare_with_snapshot(database.read(landed, schema), snapshot)
    assert result.ok, result.summary()
    expected_metadata = sum(len(items) for items in snapshot["metadata"].values())
    assert result.customers_compared == len(snapshot["customers"]) > 0
    assert result.metadata_compared == expected_metadata > 0

    # The second run reads only customers created after the bookmark, and upserts by key:
    # duplicates of the first run's rows would fail the comparison.
    sandbox.control.create_customers(NEW_CUSTOMERS)
    sandbox.control.clear_stats()
    second = meltano.run(*run, env=env)
    snapshot = sandbox.control.snapshot()
    result = landed.compare_with_snapshot(database.read(landed, schema), snapshot)
    assert result.ok, result.summary()
    assert result.customers_compared == len(snapshot["customers"])
    assert any("createdAfter=" in q for q in sandbox.control.stats()["queries"])

    for proc in (first, second):
        assert api_key not in proc.stdout + proc.stderr
