"""Singer RECORD lines -> one Arrow table per batch (column types: `json_schema`).

Records are never turned into Python objects on the fast paths: each RECORD message line
(or a `{"record": ..., "version": ...}` wrapper around a record's raw text) is kept as bytes,
and a whole batch is parsed at once by Arrow's C++ JSON reader against an explicit schema.
Date, time and date-time values are parsed as strings here and cast to their SQL types by
DuckDB in the same statement that loads the batch.
"""

from __future__ import annotations

import array
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from tap_equipme.warehouse.column_names import BOOKKEEPING_COLUMNS, ROW_NUMBER_COLUMN
from tap_equipme.warehouse.json_schema import (
    Column,
    ColumnType,
    SchemaConversionError,
    column_type,
    columns_for,
    quote,
)

__all__ = [  # the column-type names are re-exported: callers import them from here
    "BOOKKEEPING_COLUMNS",
    "ROW_NUMBER_COLUMN",
    "Column",
    "ColumnType",
    "SchemaConversionError",
    "column_type",
    "columns_for",
    "encode_message",
    "freeform_columns",
    "last_per_key",
    "parse_schema",
    "quote",
    "records_to_arrow",
    "wrap_raw",
]


_BLOCK_SIZE = 1 << 22
"""Arrow JSON reader block (4 MiB): blocks are parsed in parallel."""
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder()


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


def last_per_key(batch: pa.Table, keys: list[str]) -> pa.Table:
    """Keep only the last row of each key in a batch (a tap may send a record twice).

    Args:
        batch: The Arrow batch, with its row-number column.
        keys: Key properties (empty: keep every row).

    Returns:
        The batch itself when its keys are already unique (the usual case, checked cheaply),
        else the de-duplicated rows in arrival order.
    """
    if not keys or batch.num_rows < 2:
        return batch
    if len(keys) == 1:
        distinct = pc.count_distinct(batch.column(keys[0]), mode="all").as_py()
        if distinct == batch.num_rows:
            return batch
    last = batch.group_by(keys, use_threads=False).aggregate([(ROW_NUMBER_COLUMN, "max")])
    if last.num_rows == batch.num_rows:
        return batch
    rows = pc.sort_indices(last.column(f"{ROW_NUMBER_COLUMN}_max"))
    return batch.take(pc.take(last.column(f"{ROW_NUMBER_COLUMN}_max"), rows))
