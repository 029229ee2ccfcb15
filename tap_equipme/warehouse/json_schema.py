"""JSON Schema -> column types: how each property is parsed (Arrow) and stored (DuckDB).

integer -> BIGINT, number -> DOUBLE, boolean -> BOOLEAN, string -> VARCHAR (date-time ->
TIMESTAMPTZ, date -> DATE, time -> TIME), object -> STRUCT, array -> LIST, enum -> VARCHAR.
Shapeless values (objects without properties, mixed types) are kept as JSON text (VARCHAR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tap_equipme.warehouse.column_names import name_problems


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
JSON_TEXT = _FREEFORM
"""A column kept as its values' JSON text."""


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


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
"""DuckDB folds only ASCII letters when it compares identifiers (`É` and `é` may coexist)."""


def _name_groups(schema: dict[str, Any], path: str = "") -> list[list[tuple[str, str]]]:
    """Return every object's property names, grouped by case-folded name, with their paths.

    Each entry is `(name, dotted path)`. DuckDB identifiers (columns and STRUCT fields) are
    case-insensitive for ASCII letters, so the names of one group cannot all be stored.
    """
    found: list[list[tuple[str, str]]] = []
    properties = schema.get("properties")
    if isinstance(properties, dict):
        by_folded: dict[str, list[tuple[str, str]]] = {}
        for name in properties:
            entry = (name, f"{path}{name}")
            by_folded.setdefault(name.translate(_ASCII_LOWER), []).append(entry)
        found += list(by_folded.values())
        for name, sub in properties.items():
            if isinstance(sub, dict):
                found += _name_groups(sub, f"{path}{name}.")
    items = schema.get("items")
    if isinstance(items, dict):
        found += _name_groups(items, f"{path}[]." if path else "[].")
    for option in schema.get("anyOf") or schema.get("oneOf") or []:
        if isinstance(option, dict):
            found += _name_groups(option, path)
    return found


def _case_collisions(schema: dict[str, Any]) -> list[list[str]]:
    """Return the groups of property names that differ only in case, at any depth."""
    return [[p for _, p in group] for group in _name_groups(schema) if len(group) > 1]


def _empty_names(schema: dict[str, Any]) -> list[str]:
    """Return the paths of properties named `""`, at any depth (no column or field can be)."""
    return [f"{p}''" for group in _name_groups(schema) for name, p in group if name == ""]


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
        SchemaConversionError: If a key property is missing from the schema, property
            names differ only in case, or a name cannot be stored or is the loader's own
            (see `column_names`).
    """
    empty = _empty_names(schema)
    if empty:
        msg = (
            f"a property has an empty name (at {', '.join(empty)}), which no warehouse column "
            "or field can have; rename it (for example with a stream map)"
        )
        raise SchemaConversionError(msg)
    collisions = _case_collisions(schema)
    if collisions:
        groups = "; ".join(" and ".join(repr(n) for n in names) for names in collisions)
        msg = (
            f"properties {groups} differ only in case, but warehouse column and field names "
            "are case-insensitive (DuckDB), so they cannot both be stored; rename one of them "
            "(for example with a stream map)"
        )
        raise SchemaConversionError(msg)
    problems = name_problems(schema)
    if problems:
        msg = (
            f"{'; '.join(problems)}: the warehouse cannot store it as it is; rename or drop "
            "the field before the loader (for example with a stream map)"
        )
        raise SchemaConversionError(msg)
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
