"""A tiny first load of nested customers reads back: no row of theirs is inlined in the catalog.

DuckLake 1.5.5 with a PostgreSQL catalog cannot read inlined rows with a STRUCT nested in a
STRUCT back ("INTERNAL Error: Attempted to access index 0 within vector of size 0"), so the
loader must write even a brand-new table's very first rows (1-3 customers, fewer than
DuckLake's default inlining limit of 10) to Parquet files, for its own reader and for an
analyst's plain `ATTACH`.
"""

from __future__ import annotations

from typing import Any

import duckdb


def _nested_customer(singer_lake: Any, customer_id: int) -> dict[str, Any]:
    link = {"href": f"/v1/sales/customers/{customer_id}", "method": "GET"}
    return singer_lake.customer(
        customer_id,
        companyAddress={
            "id": 1000 + customer_id,
            "city": "Berlin",
            "countryCode": "DE",
            "self": {"href": f"/v1/addresses/{1000 + customer_id}", "method": "GET"},
        },
        accountManager={"id": 7, "username": "jdoe", "self": {"href": "/v1/employees/7"}},
        referredBy={
            "referredOn": "2025-03-01T00:00:00Z",
            "company": {"id": 99, "name": "Referrer AG", "self": link},
        },
    )


def _catalog_rows(lake_postgres: Any, catalog: str, sql: str) -> str:
    from urllib.parse import urlsplit

    database = urlsplit(catalog.removeprefix("postgres:")).path.lstrip("/")
    return str(lake_postgres.psql(sql, database)).strip()


def test_first_load_of_three_nested_customers_is_written_to_files_and_reads_back(
    lake: Any, lake_postgres: Any, singer_lake: Any
) -> None:
    from tap_equipme.warehouse.extensions import load_lake_extensions

    lake.load(singer_lake.messages([_nested_customer(singer_lake, i) for i in (1, 2, 3)]))
    expected = [(i, "Berlin", "/v1/addresses/" + str(1000 + i), "Referrer AG") for i in (1, 2, 3)]
    sql = (
        'SELECT id, "companyAddress".city, "companyAddress".self.href, '
        '"referredBy".company.name FROM customers ORDER BY id'
    )

    # The loader's own reader (quality checks, state, the tests' comparison).
    assert lake.query(sql) == expected

    # An analyst: a plain DuckDB, the lake attached by hand, no help from this project.
    con = duckdb.connect()
    try:
        load_lake_extensions(con, ("ducklake", "postgres_scanner"))
        con.execute(f"ATTACH 'ducklake:{lake.catalog}' AS analyst (READ_ONLY)")
        assert con.execute(sql.replace("FROM customers", "FROM analyst.customers")).fetchall() == (
            expected
        )
    finally:
        con.close()

    # The rows are in a Parquet file, and no inlined-data table of the catalog holds them.
    files = list((lake.tmp_path / "lake-data").rglob("*.parquet"))
    assert any("customers" in str(path) for path in files), files
    inlined = _inlined_rows_by_table(lake_postgres, lake.catalog)
    assert inlined.get("customers", 0) == 0, inlined
    # The flat bookkeeping tables still keep their few rows in the catalog (no file per commit).
    assert inlined.get("_equipme_state", 0) >= 1, inlined


def _inlined_rows_by_table(lake_postgres: Any, catalog: str) -> dict[str, int]:
    """Rows in the catalog's inlined-data tables (`ducklake_inlined_data_<table id>_<n>`)."""
    tables = _catalog_rows(
        lake_postgres,
        catalog,
        "SELECT string_agg(table_name, ' ') FROM information_schema.tables "
        "WHERE table_name ~ '^ducklake_inlined_data_[0-9]+_[0-9]+$'",
    ).split()
    counts: dict[str, int] = {}
    for table in tables:
        table_id = table.split("_")[3]
        name = _catalog_rows(
            lake_postgres,
            catalog,
            f"SELECT DISTINCT table_name FROM ducklake_table WHERE table_id = {table_id}",
        )
        rows = int(_catalog_rows(lake_postgres, catalog, f'SELECT count(*) FROM "{table}"'))
        counts[name] = counts.get(name, 0) + rows
    return counts
