"""Change tracking in the loader: first seen / changed / deleted per row, SCD2 history.

The same SQL serves every destination; each case runs on DuckDB and on Parquet.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

READS_SCHEMA = {
    "type": "object",
    "properties": {
        "customer_id": {"type": "integer"},
        "read_at": {"type": ["string", "null"], "format": "date-time"},
        "key_count": {"type": ["integer", "null"]},
        "found": {"type": ["boolean", "null"]},
    },
    "required": ["customer_id"],
}


def _activate(version: int) -> dict[str, Any]:
    return {"type": "ACTIVATE_VERSION", "stream": "customers", "version": version}


def _listing(singer: Any, version: int, customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A change-capture listing of customers: a complete version."""
    records = [singer.record(c, version=version) for c in customers]
    return [singer.schema(), _activate(version), *records, _activate(version)]


class Warehouse:
    """Runs the target on one destination and reads tables back through DuckDB."""

    def __init__(self, destination: str, target: Any, tmp_path: Any) -> None:
        self.destination = destination
        self.target = target
        self.path = tmp_path / ("parquet" if destination == "parquet" else "warehouse.duckdb")

    def load(self, messages: list[dict[str, Any]], run_id: str, **settings: Any) -> None:
        self.target.in_process(
            [*messages, {"type": "STATE", "value": {"bookmarks": {}}}],
            run_id=run_id,
            destination=self.destination,
            path=str(self.path),
            **settings,
        )

    def sql(self, text: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.path) if self.destination == "duckdb" else ":memory:")
        try:
            if self.destination == "parquet":
                for parquet in self.path.glob("*.parquet"):
                    con.execute(
                        f"CREATE VIEW \"{parquet.stem}\" AS SELECT * FROM read_parquet('{parquet}')"
                    )
            con.execute("SET TimeZone = 'UTC'")
            return con.execute(text).fetchall()
        finally:
            con.close()

    def loads(self, run_id: str, stream: str = "customers") -> tuple[Any, ...]:
        return self.sql(
            "SELECT rows_inserted, rows_updated, rows_deleted, rows_undeleted FROM _equipme_loads "
            f"WHERE run_id = '{run_id}' AND stream = '{stream}'"
        )[0]


@pytest.fixture(params=["duckdb", "parquet"])
def warehouse(request: pytest.FixtureRequest, target: Any, tmp_path: Any) -> Warehouse:
    return Warehouse(request.param, target, tmp_path)


def test_an_unchanged_listing_rewrites_nothing_and_reports_zero_updates(warehouse, singer):
    customers = [singer.customer(i) for i in range(1, 6)]
    warehouse.load(_listing(singer, 1, customers), "one")
    before = warehouse.sql("SELECT id, _loaded_at, _changed_at FROM customers ORDER BY id")
    warehouse.load(_listing(singer, 2, customers), "two")
    assert warehouse.loads("two") == (0, 0, 0, 0)
    assert warehouse.sql("SELECT id, _loaded_at, _changed_at FROM customers ORDER BY id") == before
    assert warehouse.sql("SELECT count(*) FROM customers_history") == [(5,)]


def test_an_edit_a_deletion_and_a_comeback_are_each_tracked_per_row(warehouse, singer):
    customers = [singer.customer(i) for i in range(1, 5)]
    warehouse.load(_listing(singer, 1, customers), "one")
    edited = [dict(customers[0], name="Renamed"), customers[1], customers[2]]  # 4 is gone
    warehouse.load(_listing(singer, 2, edited), "two")
    assert warehouse.loads("two") == (0, 1, 1, 0)
    warehouse.load(_listing(singer, 3, [*edited, customers[3]]), "three")  # 4 is back
    assert warehouse.loads("three") == (0, 0, 0, 1)

    rows = warehouse.sql(
        "SELECT id, name, _first_seen_at = _changed_at, _deleted_at IS NULL FROM customers "
        "ORDER BY id"
    )
    assert rows == [
        (1, "Renamed", False, True),
        (2, "Customer 2", True, True),
        (3, "Customer 3", True, True),
        (4, "Customer 4", True, True),
    ]
    history = warehouse.sql(
        "SELECT id, name, _valid_to IS NULL FROM customers_history ORDER BY id, _valid_from"
    )
    assert history == [
        (1, "Customer 1", False),
        (1, "Renamed", True),
        (2, "Customer 2", True),
        (3, "Customer 3", True),
        (4, "Customer 4", False),  # closed when it was deleted
        (4, "Customer 4", True),  # opened again when it came back
    ]


def test_history_versions_never_overlap_and_answer_as_of_questions(warehouse, singer):
    first = singer.customer(1)
    warehouse.load(_listing(singer, 1, [first]), "one")
    moved = dict(first, companyAddress={**first["companyAddress"], "city": "Bern"})
    warehouse.load(_listing(singer, 2, [moved]), "two")
    overlaps = warehouse.sql(
        "SELECT count(*) FROM customers_history a JOIN customers_history b ON a.id = b.id "
        "AND a._valid_from < b._valid_from AND coalesce(a._valid_to, 'infinity') > b._valid_from"
    )
    assert overlaps == [(0,)]
    as_of = warehouse.sql(
        "SELECT h.companyAddress.city FROM customers_history h, "
        "(SELECT _valid_from AS t FROM customers_history ORDER BY _valid_from LIMIT 1) "
        "WHERE h._valid_from <= t AND (h._valid_to IS NULL OR h._valid_to > t)"
    )
    assert as_of == [(first["companyAddress"]["city"],)]


def test_a_new_nullable_property_does_not_make_stored_rows_look_changed(warehouse, singer):
    customers = [singer.customer(i) for i in range(1, 4)]
    warehouse.load(_listing(singer, 1, customers), "one")
    schema = singer.customer_schema()
    schema["properties"]["loyaltyTier"] = {"type": ["string", "null"]}
    messages = _listing(singer, 2, customers)
    messages[0] = singer.schema(schema=schema)
    warehouse.load(messages, "two")
    assert warehouse.loads("two") == (0, 0, 0, 0)


def _metadata(singer: Any, customer_id: int, key: str, value: str) -> dict[str, Any]:
    record = {
        "customer_id": customer_id,
        "key": key,
        "value": value,
        "scope": "Customer",
        "self": {"href": "v1/x"},
    }
    return singer.record(record, stream="customer_metadata")


def _reads(singer: Any, *customer_ids: int) -> list[dict[str, Any]]:
    schema = singer.schema("customer_metadata_reads", READS_SCHEMA, ["customer_id"])
    records = [
        singer.record(
            {"customer_id": c, "read_at": "2026-12-01T00:00:00Z", "key_count": 0, "found": True},
            stream="customer_metadata_reads",
        )
        for c in customer_ids
    ]
    return [schema, *records]


def test_keys_gone_from_a_reread_customer_are_soft_deleted_others_untouched(warehouse, singer):
    meta = singer.schema("customer_metadata", singer.metadata_schema, ["customer_id", "key"])
    customers = [singer.customer(i) for i in (1, 2, 3)]
    first = [meta, _metadata(singer, 1, "a", "x"), _metadata(singer, 1, "b", "y")]
    first += [_metadata(singer, 2, "a", "z"), _metadata(singer, 3, "a", "w")]
    warehouse.load([*_listing(singer, 1, customers), *first, *_reads(singer, 1, 2, 3)], "one")
    # Customer 1 re-read: key b is gone; customer 2 re-read: empty; 3 not re-read this run.
    second = [meta, _metadata(singer, 1, "a", "x")]
    warehouse.load([*_listing(singer, 2, customers), *second, *_reads(singer, 1, 2)], "two")

    live = warehouse.sql(
        "SELECT customer_id, key FROM customer_metadata WHERE _deleted_at IS NULL ORDER BY 1, 2"
    )
    assert live == [(1, "a"), (3, "a")]
    assert warehouse.loads("two", "customer_metadata") == (0, 0, 2, 0)


def test_metadata_of_a_deleted_customer_goes_with_it(warehouse, singer):
    meta = singer.schema("customer_metadata", singer.metadata_schema, ["customer_id", "key"])
    customers = [singer.customer(i) for i in (1, 2)]
    rows = [meta, _metadata(singer, 1, "a", "x"), _metadata(singer, 2, "a", "y")]
    warehouse.load([*_listing(singer, 1, customers), *rows, *_reads(singer, 1, 2)], "one")
    warehouse.load([*_listing(singer, 2, customers[:1]), meta, *_reads(singer)], "two")
    live = warehouse.sql("SELECT customer_id FROM customer_metadata WHERE _deleted_at IS NULL")
    assert live == [(1,)]


def test_history_can_be_switched_off(target, tmp_path, singer, query):
    customers = [singer.customer(i) for i in (1, 2)]
    target.in_process([*_listing(singer, 1, customers), singer.state("x")], history=False)
    tables = query("SELECT table_name FROM information_schema.tables ORDER BY 1")
    assert ("customers_history",) not in tables


def test_a_warehouse_loaded_before_change_tracking_is_upgraded_in_place(target, query, singer):
    path = target.config()["path"]
    con = duckdb.connect(path)
    con.execute(
        "CREATE TABLE customers AS SELECT 1::BIGINT AS id, 'Old'::VARCHAR AS name, "
        "now()::TIMESTAMPTZ AS _loaded_at, NULL::TIMESTAMPTZ AS _deleted_at, "
        "NULL::BIGINT AS _sdc_table_version"
    )
    con.execute("ALTER TABLE customers ADD PRIMARY KEY (id)")
    con.close()
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}},
    }
    target.in_process(
        [singer.schema(schema=schema), singer.record({"id": 1, "name": "Old"}), singer.state("x")],
        run_id="upgrade",
    )
    assert query("SELECT rows_updated FROM _equipme_loads WHERE run_id = 'upgrade'") == [(0,)]
    assert query("SELECT count(*) FROM customers_history WHERE _valid_to IS NULL") == [(1,)]
