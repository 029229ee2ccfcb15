"""JSON Schema -> Arrow / DuckDB column types, and Singer record lines -> one Arrow table.

Records are never turned into Python objects on the fast paths: each RECORD message line
(or a `{"record": ..., "version": ...}` wrapper around a record's raw text) is kept as bytes,
and a whole batch is parsed at once by Arrow's C++ JSON reader against an explicit schema.
Date, time and date-time values are parsed as strings here and cast to their SQL types by
DuckDB in the same statement that loads the batch.
"""

from __future__ import annotations

import array
from dataclasses import dataclass
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

ROW_NUMBER_COLUMN = "__equipme_row"
"""Batch-local arrival order, used to keep the last version of a duplicated key."""

_BLOCK_SIZE = 1 << 22
"""Arrow JSON reader block (4 MiB): blocks are parsed in parallel."""
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder()


class SchemaConversionError(ValueError):
    """A JSON schema (or record) that cannot be represented in the warehouse."""


@dataclass(frozen=True)
class ColumnType:
    """How one JSON Schema property is parsed (Arrow) and stored (DuckDB)."""

    arrow: pa.DataType
    duckdb: str
    nullable: bool
    freeform: bool = False
    """True when the value is kept as its JSON text (no fixed shape in the schema)."""


@dataclass(frozen=True)
class Column:
    """A top-level column of a stream's table."""

    name: str
    type: ColumnType
    not_null: bool


def quote(identifier: str) -> str:
    """Quote an SQL identifier (record keys are camelCase and may be reserved words).

    Args:
        identifier: Column, field or table name.

    Returns:
        The identifier in double quotes, inner quotes doubled.
    """
    return '"' + identifier.replace('"', '""') + '"'


def _split_type(schema: dict[str, Any]) -> tuple[list[str], bool]:
    """Return the non-null JSON types of a property and whether null is allowed."""
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        non_null = [o for o in options if o.get("type") not in ("null", ["null"])]
        nullable = len(non_null) < len(options)
        if len(non_null) == 1:
            inner_types, inner_nullable = _split_type(non_null[0])
            return inner_types, nullable or inner_nullable
        return ["__mixed__"], True
    declared = schema.get("type")
    if declared is None:
        if "properties" in schema:
            return ["object"], True
        if "enum" in schema:
            return ["string"], None in schema["enum"]
        return ["__mixed__"], True
    types = [declared] if isinstance(declared, str) else list(declared)
    non_null = [t for t in types if t != "null"]
    return non_null, len(non_null) < len(types) or bool(schema.get("nullable"))


def _non_null_option(schema: dict[str, Any]) -> dict[str, Any]:
    """Return the single non-null option of an anyOf/oneOf, or the schema itself."""
    options = schema.get("anyOf") or schema.get("oneOf")
    if not options:
        return schema
    non_null = [o for o in options if o.get("type") not in ("null", ["null"])]
    return _non_null_option(non_null[0]) if len(non_null) == 1 else schema


_FREEFORM = ColumnType(pa.string(), "VARCHAR", nullable=True, freeform=True)


def column_type(schema: dict[str, Any]) -> ColumnType:
    """Map one JSON Schema property to its Arrow parse type and DuckDB storage type.

    Args:
        schema: The property's JSON schema.

    Returns:
        The column type; shapeless values (free-form objects, mixed types) are kept as
        their JSON text in a VARCHAR column.
    """
    types, nullable = _split_type(schema)
    schema = _non_null_option(schema)
    if len(types) != 1:
        # ["integer", "number"] is a number; anything else mixed is kept as JSON text.
        if sorted(types) == ["integer", "number"]:
            return ColumnType(pa.float64(), "DOUBLE", nullable)
        return _FREEFORM
    json_type = types[0]
    if json_type == "integer":
        return ColumnType(pa.int64(), "BIGINT", nullable)
    if json_type == "number":
        return ColumnType(pa.float64(), "DOUBLE", nullable)
    if json_type == "boolean":
        return ColumnType(pa.bool_(), "BOOLEAN", nullable)
    if json_type == "string":
        sql_type = {"date-time": "TIMESTAMPTZ", "date": "DATE", "time": "TIME"}.get(
            schema.get("format", ""), "VARCHAR"
        )
        return ColumnType(pa.string(), sql_type, nullable)
    if json_type == "object":
        properties = schema.get("properties")
        if not properties:
            return _FREEFORM
        fields = {name: column_type(sub) for name, sub in properties.items()}
        if any(f.freeform for f in fields.values()):
            return _FREEFORM
        arrow = pa.struct([pa.field(name, f.arrow) for name, f in fields.items()])
        sql = ", ".join(f"{quote(name)} {f.duckdb}" for name, f in fields.items())
        return ColumnType(arrow, f"STRUCT({sql})", nullable)
    if json_type == "array":
        items = schema.get("items")
        if not isinstance(items, dict) or not items:
            return _FREEFORM
        item = column_type(items)
        if item.freeform:
            return _FREEFORM
        return ColumnType(pa.list_(item.arrow), f"{item.duckdb}[]", nullable)
    return _FREEFORM


def columns_for(schema: dict[str, Any], key_properties: list[str]) -> list[Column]:
    """Return the table columns of a stream schema, in schema order.

    A column is NOT NULL only where that is safe: a key property, or a required property
    whose type does not admit null.

    Args:
        schema: The stream's JSON schema (from its SCHEMA message).
        key_properties: The stream's key properties.

    Returns:
        One column per property.

    Raises:
        SchemaConversionError: If a key property is missing from the schema.
    """
    properties: dict[str, Any] = schema.get("properties", {})
    missing = [k for k in key_properties if k not in properties]
    if missing:
        msg = f"key properties {missing} are not in the schema's properties"
        raise SchemaConversionError(msg)
    required = set(schema.get("required", []))
    columns = []
    for name, sub in properties.items():
        ctype = column_type(sub)
        not_null = name in key_properties or (name in required and not ctype.nullable)
        columns.append(Column(name, ctype, not_null))
    return columns


def parse_schema(columns: list[Column]) -> pa.Schema:
    """Return the Arrow schema a batch of RECORD message lines is parsed with.

    Lines are whole Singer RECORD messages (or `{"record": ..., "version": ...}` wrappers):
    only `record` and `version` are read, every other key is skipped. All fields are
    nullable; NOT NULL is enforced by the warehouse, with a clear message.

    Args:
        columns: The stream's columns.

    Returns:
        The parse schema.
    """
    record = pa.struct([pa.field(c.name, c.type.arrow) for c in columns])
    return pa.schema([pa.field("record", record), pa.field("version", pa.int64())])


def freeform_columns(columns: list[Column]) -> list[str]:
    """Return the names of columns whose values are stored as JSON text.

    Args:
        columns: The stream's columns.

    Returns:
        Column names.
    """
    return [c.name for c in columns if c.type.freeform]


def _stringify_freeform(record: dict[str, Any], freeform: list[str]) -> dict[str, Any]:
    for name in freeform:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            record[name] = _ENCODER.encode(value).decode()
    return record


def encode_message(record: dict[str, Any], version: int | None, freeform: list[str]) -> bytes:
    """Encode a decoded record as a message line (shapeless values turned into JSON text).

    Args:
        record: The record.
        version: Its table version, if any.
        freeform: Columns to store as JSON text.

    Returns:
        `{"record": ..., "version": ...}` plus a newline.
    """
    message = {"record": _stringify_freeform(record, freeform), "version": version}
    return _ENCODER.encode(message) + b"\n"


def wrap_raw(raw: Any, version: int | None, freeform: list[str]) -> bytes:
    """Wrap a record's raw JSON text as a message line, without decoding it if possible.

    Args:
        raw: The record's JSON text (bytes-like, e.g. `msgspec.Raw`).
        version: Its table version, if any.
        freeform: Columns to store as JSON text (forces a decode).

    Returns:
        `{"record": ..., "version": ...}` plus a newline.
    """
    if freeform:
        return encode_message(_DECODER.decode(raw), version, freeform)
    tail = b"}\n" if version is None else b',"version":%d}\n' % version
    return b'{"record":' + bytes(raw) + tail


def _read_json(data: bytes | bytearray, schema: pa.Schema, block_size: int) -> pa.Table:
    return pa_json.read_json(
        pa.BufferReader(pa.py_buffer(data)),  # zero copy
        read_options=pa_json.ReadOptions(block_size=block_size),
        parse_options=pa_json.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore"
        ),
    )


def records_to_arrow(data: bytes | bytearray, schema: pa.Schema) -> tuple[pa.Table, int | None]:
    """Parse a batch of RECORD message lines into one Arrow table in a single C++ call.

    Args:
        data: JSON messages, one per line, each ending with a newline.
        schema: The parse schema (see `parse_schema`).

    Returns:
        The records (one column per property, plus a row-number column that keeps arrival
        order) and the highest `version` among them (ACTIVATE_VERSION), if any.

    Raises:
        SchemaConversionError: If a record does not fit the schema.
    """
    record_type = schema.field("record").type
    if not data:
        empty = pa.schema(list(record_type)).empty_table()
        return empty.append_column(ROW_NUMBER_COLUMN, _row_numbers(0)), None
    try:
        try:
            parsed = _read_json(data, schema, _BLOCK_SIZE)
        except pa.ArrowInvalid as exc:
            if "straddling" not in str(exc):
                raise
            # A single message longer than a block: parse the batch as one block.
            parsed = _read_json(data, schema, len(data) + 1)
    except pa.ArrowInvalid as exc:
        msg = f"a record does not match the stream's schema: {exc}"
        raise SchemaConversionError(msg) from exc
    highest = pc.max(parsed.column("version")).as_py()
    version = None if highest is None else int(highest)
    # flatten() merges the record's own validity into its fields (a missing record gives
    # NULL fields, caught by NOT NULL on the keys).
    table = parsed.select(["record"]).flatten().rename_columns([f.name for f in record_type])
    return table.append_column(ROW_NUMBER_COLUMN, _row_numbers(table.num_rows)), version


def _row_numbers(count: int) -> pa.Array:
    """Return 0..count-1 as an int64 Arrow array without a Python loop over the rows."""
    values = array.array("q", range(count))
    return pa.Array.from_buffers(pa.int64(), count, [None, pa.py_buffer(values)])
