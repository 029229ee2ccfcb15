"""Property-based tests: JSON Schema -> Arrow/DuckDB types, and records -> DuckDB -> records.

Generated schemas mix every JSON type the target maps (nullable or not, nested objects,
arrays, date-time strings, shapeless objects); generated records use nulls, absent keys,
unicode, empty strings, empty containers and deep nesting. Each batch goes through the real
target (in process) into a real DuckDB file and is read back and compared field by field.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_equipme.warehouse.arrow import column_type, columns_for

from .compare import diff_values, read_warehouse

PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text as JSON can carry it: any code point except lone surrogates.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
# Property names: any printable text; a leading "_" is left to the target's own columns.
NAMES = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=8).filter(
    lambda name: not name.startswith("_")
)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)
INSTANTS = st.datetimes(
    min_value=dt.datetime(1900, 1, 1),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [
            dt.timezone.utc,
            dt.timezone(dt.timedelta(hours=2)),
            dt.timezone(dt.timedelta(hours=-9, minutes=-30)),
        ]
    ),
)


def _distinct_names(names: list[str]) -> list[str]:
    """DuckDB identifiers are case-insensitive: keep one spelling per lower-case name."""
    seen: set[str] = set()
    kept = []
    for name in names:
        if name.casefold() not in seen and name.lower() not in seen:
            seen.update({name.casefold(), name.lower()})
            kept.append(name)
    return kept


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if nullable:
        kind = schema["type"]
        schema = {**schema, "type": [kind, "null"]}
    return schema


LEAF_SCHEMAS = st.sampled_from(
    [
        {"type": "integer"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "string"},
        {"type": "string", "format": "date-time"},
        {"type": "object"},  # shapeless: kept as JSON text
    ]
)


def schemas(depth: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    """JSON Schemas of one property, nested up to `depth` levels."""
    leaf = st.builds(_nullable, LEAF_SCHEMAS, st.booleans())
    if depth == 0:
        return leaf
    inner = schemas(depth - 1)
    objects = st.builds(
        lambda props, nullable: _nullable({"type": "object", "properties": dict(props)}, nullable),
        st.lists(st.tuples(NAMES, inner), min_size=1, max_size=4, unique_by=lambda p: p[0]),
        st.booleans(),
    )
    arrays = st.builds(
        lambda items, nullable: _nullable({"type": "array", "items": items}, nullable),
        inner,
        st.booleans(),
    )
    return st.one_of(leaf, objects, arrays)


def _shapeless_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), INT64, FLOATS, TEXT)
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3), st.dictionaries(TEXT, children, max_size=3)
        ),
        max_leaves=8,
    )


def values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that fit a generated schema (None where it is nullable)."""
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    kind = next(k for k in kinds if k != "null")
    strategy: st.SearchStrategy[Any]
    if kind == "integer":
        strategy = INT64
    elif kind == "number":
        strategy = FLOATS
    elif kind == "boolean":
        strategy = st.booleans()
    elif kind == "string" and schema.get("format") == "date-time":
        strategy = INSTANTS.map(lambda d: d.isoformat())
    elif kind == "string":
        strategy = TEXT
    elif kind == "array":
        strategy = st.lists(values(schema["items"]), max_size=3)
    elif "properties" in schema:
        strategy = objects_of(schema["properties"])
    else:
        strategy = st.dictionaries(TEXT, _shapeless_values(), max_size=3)
    return st.one_of(st.none(), strategy) if "null" in kinds else strategy


def objects_of(properties: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of `properties` present (absent keys mean null)."""
    names = list(properties)
    return st.fixed_dictionaries({}, optional={name: values(properties[name]) for name in names})


@st.composite
def streams(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A stream schema (key `id`) and a batch of records with distinct ids."""
    props = draw(st.lists(st.tuples(NAMES, schemas()), min_size=1, max_size=5))
    kept = _distinct_names([name for name, _ in props])
    properties = {"id": {"type": "integer"}}
    properties.update({name: sub for name, sub in props if name in kept and name.lower() != "id"})
    schema = {"type": "object", "properties": properties, "required": ["id"]}
    body = {k: v for k, v in properties.items() if k != "id"}
    records = draw(st.lists(objects_of(body), min_size=1, max_size=6))
    return schema, [{"id": index + 1, **record} for index, record in enumerate(records)]


def _load(path: Path, schema: dict[str, Any], records: list[dict[str, Any]]) -> None:
    from tap_equipme.warehouse.target import TargetDuckdbLake

    messages = [{"type": "SCHEMA", "stream": "things", "schema": schema, "key_properties": ["id"]}]
    messages += [{"type": "RECORD", "stream": "things", "record": r} for r in records]
    messages.append({"type": "STATE", "value": {"bookmarks": {}}})
    text = "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)
    target = TargetDuckdbLake(config={"path": str(path)}, validate_config=True)
    target.listen(io.StringIO(text))


@PROPERTY_SETTINGS
@given(schemas())
def test_every_generated_property_schema_maps_to_a_valid_duckdb_column(
    schema: dict[str, Any],
) -> None:
    ctype = column_type(schema)
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE t (c {ctype.duckdb})")
        stored = con.execute("SELECT data_type FROM information_schema.columns").fetchall()
    finally:
        con.close()
    assert len(stored) == 1
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    assert ctype.nullable == ("null" in kinds) or ctype.freeform


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(NAMES, schemas(2)), min_size=1, max_size=6))
def test_only_key_and_required_non_null_properties_become_not_null_columns(
    props: list[tuple[str, dict[str, Any]]],
) -> None:
    properties = dict(props)
    required = list(properties)[::2]
    schema = {"type": "object", "properties": properties, "required": required}
    columns = columns_for(schema, [])
    for column in columns:
        kinds = properties[column.name]["type"]
        admits_null = isinstance(kinds, list) and "null" in kinds
        expected = column.name in required and not admits_null
        # Shapeless (JSON text) columns are always nullable: never NOT NULL where null is allowed.
        assert column.not_null == expected or (column.type.freeform and not column.not_null)


@settings(PROPERTY_SETTINGS, max_examples=30)
@given(streams())
def test_records_round_trip_through_the_target_and_duckdb_unchanged(
    stream: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    schema, records = stream
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.duckdb"
        _load(path, schema, records)
        con = duckdb.connect(str(path), read_only=True)
        try:
            rows = con.sql("SELECT * FROM things ORDER BY id").to_arrow_table().to_pylist()
        finally:
            con.close()
    assert [row["id"] for row in rows] == [r["id"] for r in records]
    problems: list[str] = []
    for record, row in zip(records, rows, strict=True):
        problems += diff_values(record, row, f"record {record['id']}")
    assert not problems, "\n".join(problems[:10])


@settings(PROPERTY_SETTINGS, max_examples=15)
@given(streams(), st.data())
def test_reloading_a_batch_with_changed_values_upserts_without_duplicates(
    stream: tuple[dict[str, Any], list[dict[str, Any]]], data: st.DataObject
) -> None:
    schema, first = stream
    body = {k: v for k, v in schema["properties"].items() if k != "id"}
    second = [
        {"id": record["id"], **data.draw(objects_of(body))}
        for record in first
        if data.draw(st.booleans())
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.duckdb"
        _load(path, schema, first)
        _load(path, schema, second)
        warehouse_rows = _rows(path)
    latest = {r["id"]: r for r in first} | {r["id"]: r for r in second}
    assert sorted(r["id"] for r in warehouse_rows) == sorted(latest)
    problems: list[str] = []
    for row in warehouse_rows:
        problems += diff_values(latest[row["id"]], row, f"record {row['id']}")
    assert not problems, "\n".join(problems[:10])


def _rows(path: Path) -> list[dict[str, Any]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows: list[dict[str, Any]] = con.sql("SELECT * FROM things").to_arrow_table().to_pylist()
        return rows
    finally:
        con.close()


def test_compare_reads_back_a_warehouse_without_tables_as_empty(tmp_path: Path) -> None:
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    warehouse = read_warehouse(tmp_path / "empty.duckdb")
    assert (warehouse.customers, warehouse.metadata, warehouse.state) == ([], [], None)
