"""Schema evolution through the DuckLake destination (the DuckDB writer's shared path)."""

from __future__ import annotations

import copy
from typing import Any


def _grown(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same stream after Equipme grew: a top-level field, a nested one, a wider type."""
    grown = copy.deepcopy(messages)
    schema = grown[0]["schema"]["properties"]
    schema["segment"] = {"type": ["string", "null"]}
    schema["companyAddress"]["properties"]["latitude"] = {"type": ["number", "null"]}
    schema["score"] = {"type": ["number", "null"]}
    return grown


def test_new_columns_struct_fields_and_a_widened_type_land_in_the_lake(
    lake: Any, singer_lake: Any
) -> None:
    first = singer_lake.messages([singer_lake.customer(1, score=3)])
    first[0]["schema"]["properties"]["score"] = {"type": ["integer", "null"]}
    lake.load(first)

    address = {"id": 1002, "city": "Bonn", "countryCode": "DE", "latitude": 50.7}
    record = singer_lake.customer(2, score=2.5, segment="smb", companyAddress=address)
    lake.load(_grown(singer_lake.messages([record], bookmark="2026-02-01T00:00:00Z")))

    rows = lake.query(
        "SELECT id, score, segment, companyAddress.latitude FROM customers ORDER BY id"
    )
    assert rows == [(1, 3.0, None, None), (2, 2.5, "smb", 50.7)]
    types = dict(lake.query("SELECT column_name, column_type FROM (DESCRIBE customers)"))
    assert types["score"] == "DOUBLE"
    changes = lake.query(
        "SELECT field_path, change, old_type, new_type FROM _equipme_schema_changes "
        "WHERE stream = 'customers' ORDER BY field_path"
    )
    assert ("segment", "added", None, "VARCHAR") in changes
    assert ("companyAddress.latitude", "added", None, "DOUBLE") in changes
    assert ("score", "widened", "BIGINT", "DOUBLE") in changes
