"""Column types, nullability, unicode, empty strings and nested access in DuckDB."""

from __future__ import annotations


def _column_types(query, table="customers"):
    return dict(
        query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        )
    )


def test_column_types_follow_the_json_schema(target, query, singer):
    run = target.in_process(
        [singer.schema(), singer.record(singer.customer(1)), singer.state("2024-01-01T00:00:00Z")]
    )
    assert run.states
    types = _column_types(query)
    assert types["id"] == "BIGINT"
    assert types["active"] == "BOOLEAN"
    assert types["name"] == "VARCHAR"
    assert types["language"] == "VARCHAR"  # an enum
    assert types["companyAddress"].startswith("STRUCT(")
    assert "countryCode VARCHAR" in types["companyAddress"]
    assert "referredOn TIMESTAMP WITH TIME ZONE" in types["referredBy"]
    assert "company STRUCT(" in types["referredBy"]
    assert types["_loaded_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["_deleted_at"] == "TIMESTAMP WITH TIME ZONE"
    # Column names are the record keys exactly (camelCase kept).
    assert "contactName" in types
    assert "customerNumber" in types


def test_numbers_lists_dates_and_free_form_objects_get_sql_types(target, query, singer):
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "price": {"type": ["number", "null"]},
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            "lines": {
                "type": "array",
                "items": {"type": "object", "properties": {"sku": {"type": "string"}}},
            },
            "day": {"type": ["string", "null"], "format": "date"},
            "extra": {"type": ["object", "null"]},
        },
        "required": ["id", "lines"],
    }
    record = {
        "id": 1,
        "price": 9.5,
        "tags": ["a", "b"],
        "lines": [{"sku": "X-1"}, {"sku": "X-2"}],
        "day": "2024-02-29",
        "extra": {"free": ["form", 1]},
    }
    target.in_process([singer.schema("orders", schema), singer.record(record, stream="orders")])
    types = _column_types(query, "orders")
    assert types["price"] == "DOUBLE"
    assert types["tags"] == "VARCHAR[]"
    assert types["lines"] == "STRUCT(sku VARCHAR)[]"
    assert types["day"] == "DATE"
    assert types["extra"] == "VARCHAR"
    row = query(
        "SELECT price, tags[2], lines[1].sku, len(lines), day, extra::JSON->>'$.free[0]' "
        "FROM orders"
    )
    assert row == [(9.5, "b", "X-1", 2, __import__("datetime").date(2024, 2, 29), "form")]


def test_required_non_null_properties_become_not_null_columns(target, query, singer):
    target.in_process([singer.schema(), singer.record(singer.customer(1))])
    nullable = dict(
        query(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'customers'"
        )
    )
    assert nullable["id"] == "NO"  # key
    assert nullable["name"] == "NO"  # required, not null-typed
    assert nullable["contactName"] == "YES"  # nullable in the spec
    assert nullable["companyAddress"] == "YES"  # an optional $ref


def test_unicode_and_empty_strings_are_preserved(target, query, singer):
    names = ["Müller & Söhne GmbH", "株式会社テスト", "Ελληνικά 🚜", 'Zoë O\'Brien "Q"']
    records = [
        singer.record(singer.customer(i + 1, name=name, contactName=""))
        for i, name in enumerate(names)
    ]
    records.append(singer.record(singer.customer(9, contactName=None)))
    target.cli([singer.schema(), *records])
    rows = query("SELECT id, name, contactName FROM customers ORDER BY id")
    assert [r[1] for r in rows[:4]] == names
    assert [r[2] for r in rows[:4]] == ["", "", "", ""]
    assert rows[4][2] is None
    assert query("SELECT count(*) FROM customers WHERE contactName = ''") == [(4,)]


def test_nested_struct_fields_are_queryable_with_dot_access(target, query, singer):
    target.in_process([singer.schema(), *(singer.record(singer.customer(i)) for i in range(1, 4))])
    rows = query(
        "SELECT id, companyAddress.city, companyAddress.self.href, referredBy.company.name, "
        "referredBy.referredOn, referredBy.employee FROM customers ORDER BY id"
    )
    assert rows[0][1] == "Zürich"
    assert rows[0][2] == "v1/addresses/1001"
    assert rows[0][3] == "Partner GmbH"
    assert rows[0][4].isoformat() == "2024-03-01T10:30:00+00:00"  # +02:00 normalised to UTC
    assert rows[0][5] is None


def test_a_record_larger_than_a_parse_block_loads(target, query, singer):
    huge = "x" * (5 * 1024 * 1024)  # larger than Arrow's 4 MiB JSON block
    target.cli([singer.schema(), singer.record(singer.customer(1, description=huge))])
    assert query("SELECT length(description) FROM customers") == [(len(huge),)]
