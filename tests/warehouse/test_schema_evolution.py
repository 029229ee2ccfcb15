"""Schema evolution: new columns are added; incompatible changes fail and write nothing."""

from __future__ import annotations

import copy


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
