"""Reporting views: flattened customers, metadata long and wide, counts; deleted rows hidden."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from tap_equipme.pipeline.reporting_views import REPORT_VIEWS, create_views, export_parquet
from tap_equipme.warehouse.load_errors import WarehouseError


def _meta(customer_id, key, value):
    return {
        "customer_id": customer_id,
        "key": key,
        "value": value,
        "scope": "Customer",
        "self": {"href": "v1/x"},
    }


@pytest.fixture
def loaded(target, tmp_path, singer):
    """Customers 1-4 (4 inactive), metadata, and customer 3 soft-deleted by a full refresh."""
    meta_schema = singer.schema("customer_metadata", singer.metadata_schema, ["customer_id", "key"])
    target.in_process(
        [
            singer.schema(),
            meta_schema,
            *(singer.record(singer.customer(i)) for i in range(1, 5)),
            *(
                singer.record(_meta(*m), stream="customer_metadata")
                for m in [
                    (1, "tier", "gold"),
                    (1, "Region", "north"),
                    (2, "tier", ""),
                    (3, "tier", "silver"),
                ]
            ),
        ]
    )
    activate = {"type": "ACTIVATE_VERSION", "stream": "customers", "version": 2}
    target.in_process(
        [
            singer.schema(),
            activate,
            *(singer.record(singer.customer(i), version=2) for i in (1, 2, 4)),
            activate,
        ]
    )
    path = tmp_path / "warehouse.duckdb"
    assert create_views(path) == list(REPORT_VIEWS)
    return path


def test_customers_report_flattens_nested_fields_and_skips_deleted(loaded, query):
    rows = query(
        "SELECT id, name, customer_number, country_code, city, account_manager_id, "
        "account_manager_name, account_manager_email, referred_by_company_name, "
        "referred_on FROM customers_report ORDER BY id"
    )
    assert [r[0] for r in rows] == [1, 2, 4]
    first = rows[0]
    assert first[1:8] == (
        "Customer 1",
        "C-00001",
        "CH",
        "Zürich",
        7,
        "Mustermann Max",
        "max@supplier.example",
    )
    assert first[8] == "Partner GmbH"
    assert first[9].isoformat() == "2024-03-01T10:30:00+00:00"


def test_metadata_long_and_wide(loaded, query):
    assert query(
        "SELECT customer_id, customer_name, key, value FROM customer_metadata_long "
        "ORDER BY customer_id, key"
    ) == [
        (1, "Customer 1", "Region", "north"),
        (1, "Customer 1", "tier", "gold"),
        (2, "Customer 2", "tier", ""),
    ]
    wide = query('SELECT customer_id, "Region", tier FROM customer_metadata_wide ORDER BY 1')
    assert wide == [(1, "north", "gold"), (2, None, ""), (4, None, None)]


def test_count_views(loaded, query):
    # Live customers 1, 2 and 4 (3 was soft-deleted): CH, FR, CH; de, fr, de; 4 is inactive.
    assert query(
        "SELECT country_code, customers, active_customers FROM customer_counts_by_country"
    ) == [
        ("CH", 2, 1),
        ("FR", 1, 1),
    ]
    assert query("SELECT language, customers FROM customer_counts_by_language") == [
        ("de", 2),
        ("fr", 1),
    ]
    assert query("SELECT active, customers FROM customer_counts_by_active") == [
        (True, 2),
        (False, 1),
    ]


def test_create_views_is_idempotent_and_picks_up_new_metadata_keys(loaded, target, query, singer):
    target.in_process(
        [
            singer.schema("customer_metadata", singer.metadata_schema, ["customer_id", "key"]),
            singer.record(_meta(2, "color", "red"), stream="customer_metadata"),
        ]
    )
    assert create_views(loaded) == list(REPORT_VIEWS)
    assert query("SELECT color FROM customer_metadata_wide WHERE customer_id = 2") == [("red",)]


def test_views_are_skipped_until_their_tables_exist(target, tmp_path, singer):
    target.in_process([singer.schema(), singer.record(singer.customer(1))])
    created = create_views(tmp_path / "warehouse.duckdb")
    assert "customers_report" in created
    assert "customer_metadata_long" not in created


def test_create_views_on_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseError, match="does not exist"):
        create_views(tmp_path / "nope.duckdb")


def test_export_parquet_writes_tables_and_views(loaded, tmp_path):
    written = export_parquet(loaded, tmp_path / "export")
    assert set(written) == {"customers", "customer_metadata", *REPORT_VIEWS}
    report = pq.read_table(written["customers_report"])
    assert sorted(report.column("id").to_pylist()) == [1, 2, 4]
    assert duckdb.sql(f"SELECT count(*) FROM '{written['customers']}'").fetchall() == [(4,)]
    assert not [p for p in (tmp_path / "export").iterdir() if p.name.startswith(".")]


def test_the_pipelines_publish_makes_the_views_and_the_export_the_dag_publishes(loaded, tmp_path):
    from tap_equipme.pipeline.publish import publish

    published = publish("duckdb", loaded, tmp_path / "out")
    assert published["views"] == list(REPORT_VIEWS)
    assert set(published["exported"]) == {"customers", "customer_metadata", *REPORT_VIEWS}
    assert published["exported"]["customers"] == str(tmp_path / "out" / "customers.parquet")
    # Default export directory: `export/` beside the DuckDB file; other destinations: nothing.
    assert publish("duckdb", loaded)["exported"]["customers"] == str(
        loaded.parent / "export" / "customers.parquet"
    )
    assert publish("parquet", tmp_path / "lake") == {"views": [], "exported": {}}
