"""JSON Schemas of the tap's streams, derived from the vendored OpenAPI document.

The spec is the single source of truth: a spec change is a data change (and shows up in the
`--discover` snapshot test), not a code change.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

SPEC_RESOURCE = "openapi.json"
_REF_PREFIX = "#/components/schemas/"
# Keywords that describe the API's write rules or documentation, not the shape of a record.
_DROPPED_KEYWORDS = frozenset({"readOnly", "writeOnly", "nullable", "example", "xml"})


@cache
def load_spec() -> dict[str, Any]:
    """Return the vendored OpenAPI document (parsed once per process).

    Returns:
        The OpenAPI 3.0 document as a dict.
    """
    text = resources.files("tap_equipme").joinpath(SPEC_RESOURCE).read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


def component(name: str) -> dict[str, Any]:
    """Return one raw schema of `components.schemas` (a deep copy).

    Args:
        name: The component name, e.g. "Customer".

    Returns:
        The OpenAPI schema object.

    Raises:
        KeyError: If the spec has no such schema.
    """
    schemas = load_spec()["components"]["schemas"]
    if name not in schemas:
        msg = f"The vendored OpenAPI spec has no schema named {name!r}"
        raise KeyError(msg)
    return copy.deepcopy(schemas[name])


def _make_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Let a JSON Schema also accept null.

    Args:
        schema: A JSON Schema (already converted).

    Returns:
        The same schema accepting null.
    """
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list):
        if "null" not in kind:
            schema["type"] = [*kind, "null"]
    else:  # an untyped schema accepts null already; an enum must list it
        pass
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def to_json_schema(openapi_schema: dict[str, Any], *, _depth: int = 0) -> dict[str, Any]:
    """Convert an OpenAPI 3.0 schema object into a plain JSON Schema.

    `$ref`s are inlined; `nullable: true` becomes a `["type", "null"]` union; every property
    not listed in `required` accepts null (real APIs send absent optional objects as null);
    enums, formats and `additionalProperties` are kept; `readOnly` and friends are dropped.

    Args:
        openapi_schema: An OpenAPI schema object.
        _depth: Recursion guard (the spec has no recursive schemas; a cycle is a bug).

    Returns:
        The JSON Schema.

    Raises:
        ValueError: On a `$ref` cycle or a reference outside `components.schemas`.
    """
    if _depth > 32:
        msg = "OpenAPI schema nesting deeper than 32 levels: a $ref cycle?"
        raise ValueError(msg)
    source = openapi_schema
    if "$ref" in source:
        ref = source["$ref"]
        if not ref.startswith(_REF_PREFIX):
            msg = f"Unsupported $ref {ref!r} (only {_REF_PREFIX}...)"
            raise ValueError(msg)
        source = component(ref.removeprefix(_REF_PREFIX))
    result: dict[str, Any] = {}
    for keyword, value in source.items():
        if keyword in _DROPPED_KEYWORDS:
            continue
        if keyword == "properties":
            required = set(source.get("required", ()))
            result["properties"] = {
                name: _property_schema(prop, required=name in required, depth=_depth)
                for name, prop in value.items()
            }
        elif keyword == "items":
            result["items"] = to_json_schema(value, _depth=_depth + 1)
        else:
            result[keyword] = copy.deepcopy(value)
    if source.get("nullable"):
        _make_nullable(result)
    return result


def _property_schema(prop: dict[str, Any], *, required: bool, depth: int) -> dict[str, Any]:
    """Convert one property; optional ones accept null.

    Args:
        prop: The OpenAPI property schema.
        required: Whether the parent lists it in `required`.
        depth: Current recursion depth.

    Returns:
        The JSON Schema of the property.
    """
    converted = to_json_schema(prop, _depth=depth + 1)
    return converted if required else _make_nullable(converted)


def customer_schema() -> dict[str, Any]:
    """Return the JSON Schema of a `customers` record (the spec's `Customer`).

    Returns:
        The JSON Schema.
    """
    return to_json_schema({"$ref": f"{_REF_PREFIX}Customer"})


def customer_metadata_schema() -> dict[str, Any]:
    """Return the JSON Schema of a `customer_metadata` record.

    The spec's `MetadataItem` plus the parent's id, `customer_id`, which makes the key unique.

    Returns:
        The JSON Schema.
    """
    item = to_json_schema({"$ref": f"{_REF_PREFIX}MetadataItem"})
    customer_id = to_json_schema(component("Customer")["properties"]["id"])
    customer_id["description"] = "The identifier of the customer the metadata item belongs to."
    properties = {"customer_id": customer_id, **item["properties"]}
    return {
        **item,
        "properties": properties,
        "required": ["customer_id", *item.get("required", [])],
    }
