"""The JSON Schema of values the spec does not declare: inferred, merged, named.

Pure logic (no I/O), used by `schema_widening` (see its docstring for the rules: always
nullable, null tells no type, anything ambiguous is `FREEFORM`).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

JSON_TYPES = ("boolean", "integer", "number", "string", "object", "array")
FREEFORM: dict[str, Any] = {"type": ["null", *JSON_TYPES]}
"""The schema of a value whose type cannot be told: any JSON value."""


def _non_null_types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type")
    if declared is None:
        return list(JSON_TYPES)  # an untyped schema ({}) accepts anything
    types = [declared] if isinstance(declared, str) else list(declared)
    return [t for t in types if t != "null"]


def is_freeform(schema: dict[str, Any]) -> bool:
    """Whether a schema accepts any JSON value (no single shape).

    Args:
        schema: A JSON Schema.

    Returns:
        True for `{}` and for a type list with more than one non-null type (except the
        integer / number pair).
    """
    types = _non_null_types(schema)
    return len(types) > 1 and sorted(types) != ["integer", "number"]


def type_name(schema: dict[str, Any]) -> str:
    """A short name of a schema's type for messages and the warehouse's change log.

    Args:
        schema: A JSON Schema.

    Returns:
        `string`, `integer`, `number`, `boolean`, `object`, `array` or `any`.
    """
    if is_freeform(schema):
        return "any"
    types = _non_null_types(schema)
    if "number" in types:
        return "number"
    return types[0] if types else "any"


def infer(value: Any) -> dict[str, Any] | None:
    """The JSON Schema of one value (nullable; see the module docstring).

    Args:
        value: A decoded JSON value.

    Returns:
        A new JSON Schema, or None when the value tells no type: null, or an object or
        array holding nothing but such values (`{}`, `[]`, `[null]`).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": ["boolean", "null"]}
    if isinstance(value, int):
        return {"type": ["integer", "null"]}
    if isinstance(value, (float, Decimal)):
        return {"type": ["number", "null"]}
    if isinstance(value, str):
        return {"type": ["string", "null"]}
    if isinstance(value, dict):
        properties = {}
        for key, item in value.items():
            inferred = infer(item)
            if inferred is not None:
                properties[key] = inferred
        return {"type": ["object", "null"], "properties": properties} if properties else None
    if isinstance(value, list):
        items: dict[str, Any] | None = None
        for element in value:
            inferred = infer(element)
            if inferred is not None:
                items = inferred if items is None else merge(items, inferred)
        return {"type": ["array", "null"], "items": items} if items is not None else None
    return copy.deepcopy(FREEFORM)


def merge(current: dict[str, Any], seen: dict[str, Any]) -> dict[str, Any]:
    """The narrowest inferred schema that accepts the values of both.

    Args:
        current: The schema so far.
        seen: The schema of a new value (from `infer`).

    Returns:
        `current`, updated in place where possible, or a new schema.
    """
    if is_freeform(current):
        return current
    if is_freeform(seen):
        return copy.deepcopy(FREEFORM)
    old, new = type_name(current), type_name(seen)
    if old == new == "object":
        properties = current.setdefault("properties", {})
        for key, sub in seen.get("properties", {}).items():
            properties[key] = merge(properties[key], sub) if key in properties else sub
        return current
    if old == new == "array":
        current["items"] = merge(current.get("items", {}), seen.get("items", {}))
        return current
    if old == new:
        return current
    if {old, new} == {"integer", "number"}:
        return {"type": ["number", "null"]}
    return copy.deepcopy(FREEFORM)
