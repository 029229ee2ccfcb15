"""The suppression list's contract (`warehouse/suppression.py`), on a real DuckDB file."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tap_equipme.warehouse.suppression import (
    SUPPRESSIONS_TABLE,
    Suppression,
    add_suppressions,
    ensure_suppressions_table,
    load_parquet_suppressions,
    publish_parquet_suppressions,
    read_parquet_suppressions,
    read_suppressions,
    remove_suppressions,
)


def test_the_table_is_created_with_exactly_the_contract_columns(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_suppressions_table(con)
    ensure_suppressions_table(con)  # idempotent
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_name = '{SUPPRESSIONS_TABLE}' AND table_schema = 'main' "
        "ORDER BY ordinal_position"
    ).fetchall()
    assert columns == [
        ("stream", "VARCHAR"),
        ("key_column", "VARCHAR"),
        ("key_value", "VARCHAR"),
        ("request_id", "VARCHAR"),
        ("added_at", "TIMESTAMP WITH TIME ZONE"),
    ]


def test_entries_are_added_once_read_normalized_and_removed(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert read_suppressions(con) == {}  # no table yet: nothing suppressed
    added = add_suppressions(
        con,
        [
            Suppression("customers", "id", "42", "req-1"),
            Suppression("customers", "contactEmail", " Jane.Doe@Example.com ", "req-1"),
            Suppression("customer_metadata", "customer_id", "42", "req-1"),
        ],
    )
    assert added == 3
    assert add_suppressions(con, [Suppression("customers", "id", "42", "req-2")]) == 0
    assert read_suppressions(con) == {
        "customers": {"id": {"42"}, "contactEmail": {"jane.doe@example.com"}},
        "customer_metadata": {"customer_id": {"42"}},
    }
    kept = con.execute(
        f"SELECT request_id FROM {SUPPRESSIONS_TABLE} WHERE key_value = '42' "
        "AND stream = 'customers'"
    ).fetchall()
    assert kept == [("req-1",)]
    assert remove_suppressions(con, "customers", "contactEmail", ["JANE.DOE@example.com"]) == 1
    assert remove_suppressions(con, "customers", "id", ["7"]) == 0
    assert read_suppressions(con)["customers"] == {"id": {"42"}}


def test_the_parquet_list_round_trips_through_its_file(tmp_path: Path) -> None:
    assert read_parquet_suppressions(tmp_path) == {}
    con = duckdb.connect()
    load_parquet_suppressions(con, tmp_path)
    add_suppressions(con, [Suppression("customers", "id", "7", "req-9")])
    written = publish_parquet_suppressions(con, tmp_path)
    assert written == tmp_path / "_equipme_suppressions.parquet"
    assert read_parquet_suppressions(tmp_path) == {"customers": {"id": {"7"}}}
    assert [p.name for p in tmp_path.iterdir()] == ["_equipme_suppressions.parquet"]
