"""Schema evolution: new columns are added; incompatible changes fail and write nothing."""

from __future__ import annotations

import copy

import duckdb


def _snapshot(query):
    return (
        query("SELECT * EXCLUDE (_loaded_at) FROM customers ORDER BY id"),
        query("SELECT state FROM _equipme_state"),
        query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'customers' ORDER BY ordinal_position"
        ),
    )


def _first_load(target, singer):
    run = target.cli(
        [singer.schema(), singer.record(singer.customer(1)), singer.state("2024-01-01")]
    )
    assert run.returncode == 0, run.stderr


def test_new_nullable_property_adds_a_column(target, query, singer):
    _first_load(target, singer)
    schema = singer.customer_schema()
    schema["properties"]["segment"] = {"type": ["string", "null"]}
    target.in_process(
        [
            singer.schema(schema=schema),
            singer.record(singer.customer(2, segment="enterprise")),
        ]
    )
    assert query("SELECT id, segment FROM customers ORDER BY id") == [(1, None), (2, "enterprise")]


def test_new_nested_field_is_added_inside_the_struct(target, query, singer):
    _first_load(target, singer)
    schema = singer.customer_schema()
    schema["properties"]["companyAddress"]["properties"]["latitude"] = {"type": ["number", "null"]}
    address = dict(singer.customer(2)["companyAddress"], latitude=52.52)
    target.in_process(
        [singer.schema(schema=schema), singer.record(singer.customer(2, companyAddress=address))]
    )
    assert query(
        "SELECT id, companyAddress.latitude, companyAddress.city FROM customers ORDER BY id"
    ) == [(1, None, "Zürich"), (2, 52.52, "Paris")]


def test_changed_column_type_fails_naming_stream_and_column_and_writes_nothing(
    target, query, singer
):
    _first_load(target, singer)
    before = _snapshot(query)
    schema = singer.customer_schema()
    schema["properties"]["active"] = {"type": ["string", "null"]}
    run = target.cli(
        [
            singer.schema(schema=schema),
            singer.record(singer.customer(5, active="yes")),
            singer.state("2024-09-09"),
        ]
    )
    assert run.returncode != 0
    assert "Stream 'customers'" in run.stderr
    assert "column 'active'" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.states == []
    assert _snapshot(query) == before


def test_changed_nested_type_names_the_nested_column(target, query, singer):
    _first_load(target, singer)
    before = _snapshot(query)
    schema = singer.customer_schema()
    schema["properties"]["companyAddress"]["properties"]["id"] = {"type": "string"}
    run = target.cli([singer.schema(schema=schema), singer.record(singer.customer(5))])
    assert run.returncode != 0
    assert "column 'companyAddress.id'" in run.stderr
    assert _snapshot(query) == before


def test_new_key_properties_fail_and_write_nothing(target, query, singer):
    _first_load(target, singer)
    before = _snapshot(query)
    run = target.cli(
        [singer.schema(keys=["uuid"]), singer.record(singer.customer(5)), singer.state("x")]
    )
    assert run.returncode != 0
    assert "key properties changed" in run.stderr
    assert "customers" in run.stderr
    assert _snapshot(query) == before


def test_a_property_dropped_from_the_schema_keeps_its_column_as_null(target, query, singer):
    _first_load(target, singer)
    schema = copy.deepcopy(singer.customer_schema())
    del schema["properties"]["name"]
    schema["required"].remove("name")
    record = singer.customer(2)
    del record["name"]
    run = target.cli([singer.schema(schema=schema), singer.record(record)])
    assert run.returncode == 0, run.stderr
    assert query("SELECT id, name FROM customers ORDER BY id") == [(1, "Customer 1"), (2, None)]


def test_records_sent_before_a_schema_change_never_overwrite_later_ones(target, query, singer):
    schema = singer.customer_schema()
    schema["properties"]["segment"] = {"type": ["string", "null"]}
    target.in_process(
        [
            singer.schema(),
            singer.record(singer.customer(1, name="old")),
            singer.schema(schema=schema),
            singer.record(singer.customer(1, name="new", segment="smb")),
            singer.record(singer.customer(2, segment="smb")),  # fills the batch: drained first
        ],
        batch_size_rows=2,
    )
    assert query("SELECT id, name, segment FROM customers ORDER BY id") == [
        (1, "new", "smb"),
        (2, "Customer 2", "smb"),
    ]


def test_repeated_identical_schema_messages_do_not_split_batches(target, query, singer):
    messages = []
    for i in range(1, 21):  # a singer-sdk child stream repeats SCHEMA per parent record
        messages += [singer.schema(), singer.record(singer.customer(i))]
    target.in_process(messages)
    assert query("SELECT count(*), count(DISTINCT _loaded_at) FROM customers") == [(20, 1)]


def test_new_field_inside_a_list_of_structs_is_added(target, query, singer):
    def schema(*fields):
        item = {"type": "object", "properties": {f: {"type": ["string", "null"]} for f in fields}}
        return {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "lines": {"type": "array", "items": item}},
        }

    target.in_process(
        [
            singer.schema("orders", schema("sku"), ["id"]),
            singer.record({"id": 1, "lines": [{"sku": "A"}]}, stream="orders"),
        ]
    )
    target.in_process(
        [
            singer.schema("orders", schema("sku", "note"), ["id"]),
            singer.record({"id": 2, "lines": [{"sku": "B", "note": "gift"}]}, stream="orders"),
        ]
    )
    assert query("SELECT id, lines[1].sku, lines[1].note FROM orders ORDER BY id") == [
        (1, "A", None),
        (2, "B", "gift"),
    ]


def _orders(*, amount=None, note=None):
    """An `orders` schema: id, amount (integer / number / ...) and lines of structs."""
    item = {"type": "object", "properties": {"sku": {"type": ["string", "null"]}}}
    if note is not None:
        item["properties"]["qty"] = {"type": [note, "null"]}
    properties = {"id": {"type": "integer"}, "lines": {"type": "array", "items": item}}
    if amount is not None:
        properties["amount"] = {"type": [amount, "null"]}
    return {"type": "object", "properties": properties}


def _changes(query):
    return query(
        "SELECT stream, field_path, change, old_type, new_type FROM _equipme_schema_changes "
        "ORDER BY changed_at, field_path"
    )


def test_added_columns_and_fields_are_recorded_in_the_change_log(target, query, singer):
    target.in_process(
        [singer.schema("orders", _orders(), ["id"]), singer.record({"id": 1}, stream="orders")]
    )
    assert _changes(query) == []  # a new table is not a change
    target.in_process(
        [
            singer.schema("orders", _orders(amount="integer", note="integer"), ["id"]),
            singer.record({"id": 2, "amount": 5, "lines": [{"sku": "A", "qty": 2}]}, "orders"),
        ],
        run_id="run-2",
    )
    assert _changes(query) == [
        ("orders", "amount", "added", None, "BIGINT"),
        ("orders", "lines[].qty", "added", None, "BIGINT"),
    ]
    assert query("SELECT DISTINCT run_id FROM _equipme_schema_changes") == [("run-2",)]


def test_integer_to_number_widens_the_column_and_keeps_the_old_values(target, query, singer):
    target.in_process(
        [
            singer.schema("orders", _orders(amount="integer", note="integer"), ["id"]),
            singer.record({"id": 1, "amount": 5, "lines": [{"sku": "A", "qty": 2}]}, "orders"),
        ]
    )
    target.in_process(
        [
            singer.schema("orders", _orders(amount="number", note="number"), ["id"]),
            singer.record({"id": 2, "amount": 5.5, "lines": [{"sku": "B", "qty": 0.5}]}, "orders"),
        ]
    )
    assert query("SELECT id, amount, lines[1].qty FROM orders ORDER BY id") == [
        (1, 5.0, 2.0),
        (2, 5.5, 0.5),
    ]
    types = dict(
        query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'orders'"
        )
    )
    # The history table (change tracking) is widened with it: no fraction is rounded away.
    assert query(
        "SELECT DISTINCT data_type FROM information_schema.columns WHERE column_name = 'amount'"
    ) == [("DOUBLE",)]
    assert types["amount"] == "DOUBLE"
    assert ("orders", "amount", "widened", "BIGINT", "DOUBLE") in _changes(query)
    assert ("orders", "lines[].qty", "widened", "BIGINT", "DOUBLE") in _changes(query)
    # Integers again later (a run that saw no fraction): stored in the DOUBLE column.
    target.in_process(
        [
            singer.schema("orders", _orders(amount="integer"), ["id"]),
            singer.record({"id": 3, "amount": 7}, "orders"),
        ]
    )
    assert query("SELECT amount FROM orders WHERE id = 3") == [(7.0,)]


def test_number_to_string_fails_naming_stream_field_and_both_types(target, query, singer):
    target.in_process(
        [
            singer.schema("orders", _orders(amount="number"), ["id"]),
            singer.record({"id": 1, "amount": 1.5}, "orders"),
        ]
    )
    run = target.cli(
        [
            singer.schema("orders", _orders(amount="string"), ["id"]),
            singer.record({"id": 2, "amount": "1.5 EUR"}, "orders"),
            singer.state("x"),
        ]
    )
    assert run.returncode != 0
    assert "Stream 'orders'" in run.stderr
    assert "column 'amount' is DOUBLE" in run.stderr
    assert "makes it VARCHAR" in run.stderr
    assert "Traceback" not in run.stderr
    assert query("SELECT id FROM orders") == [(1,)]


def test_a_json_text_column_takes_later_typed_values_as_json_text(target, query, singer):
    mixed = {"type": ["null", "boolean", "integer", "number", "string", "object", "array"]}
    schema = _orders()
    schema["properties"]["code"] = mixed
    target.in_process(
        [singer.schema("orders", schema, ["id"]), singer.record({"id": 1, "code": "A"}, "orders")]
    )
    schema["properties"]["code"] = {"type": ["object", "null"], "properties": {"x": {}}}
    schema["properties"]["code"]["properties"]["x"] = {"type": "integer"}
    target.in_process(
        [
            singer.schema("orders", schema, ["id"]),
            singer.record({"id": 2, "code": {"x": 1}}, "orders"),
        ]
    )
    assert query("SELECT id, code FROM orders ORDER BY id") == [(1, "A"), (2, '{"x":1}')]


def test_parquet_publishes_the_change_log(target, tmp_path, singer):
    out = tmp_path / "lake"
    for schema, record in (
        (_orders(), {"id": 1}),
        (_orders(amount="integer"), {"id": 2, "amount": 3}),
    ):
        target.in_process(
            [singer.schema("orders", schema, ["id"]), singer.record(record, "orders")],
            destination="parquet",
            path=str(out),
        )
    log = duckdb.sql(
        f"SELECT field_path, change, new_type FROM '{out}/_equipme_schema_changes.parquet'"
    ).fetchall()
    assert log == [("amount", "added", "BIGINT")]
    rows = duckdb.sql(f"SELECT id, amount FROM '{out}/orders.parquet' ORDER BY id").fetchall()
    assert rows == [(1, None), (2, 3)]
