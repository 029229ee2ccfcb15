"""Request validation against the vendored OpenAPI spec (never against the tap's code).

OpenAPI 3.0 schemas become JSON Schema (draft 2020-12) by turning ``nullable: true`` into a
``null`` alternative and ``#/components/schemas/X`` into ``#/$defs/X``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from tap_equipme.sandbox.api_error import bad_request

_REF_PREFIX = "#/components/schemas/"


@cache
def openapi_spec() -> dict[str, Any]:
    """The vendored spec ``tap_equipme/openapi.json``, parsed once."""
    text = resources.files("tap_equipme").joinpath("openapi.json").read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


def to_json_schema(node: Any) -> Any:
    """Translate one OpenAPI 3.0 schema node (recursively) to JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("nullable", "readOnly", "deprecated", "description"):
            continue
        if key == "properties":
            # A map of field names to schemas: its keys are names, never keywords.
            converted[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        else:
            converted[key] = to_json_schema(value)
    ref = converted.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        converted["$ref"] = "#/$defs/" + ref[len(_REF_PREFIX) :]
    if node.get("nullable"):
        if "type" in converted:
            kind = converted["type"]
            converted["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        elif "$ref" in converted:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def schema_for(name_or_schema: str) -> dict[str, Any]:
    """A self-contained JSON Schema for component ``name_or_schema`` (e.g. ``"Customer"``)."""
    components = openapi_spec()["components"]["schemas"]
    definitions = {name: to_json_schema(schema) for name, schema in components.items()}
    # The PATCH body is an inline array in the spec; give it a name.
    definitions["PatchDocument"] = {"type": "array", "items": {"$ref": "#/$defs/Operation"}}
    return {"$ref": f"#/$defs/{name_or_schema}", "$defs": definitions}


def validator_for(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for an already converted schema (used by tests for inline schemas)."""
    return Draft202012Validator(schema)


@cache
def _component_validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema_for(name))


def _describe(error: ValidationError) -> str:
    location = ".".join(str(part) for part in error.absolute_path) or "(body)"
    return f"Field '{location}': {error.message}"


def validate_body(component: str, body: Any) -> None:
    """Raise a 400 ApiError naming each offending field if ``body`` breaks ``component``."""
    errors = sorted(
        _component_validator(component).iter_errors(body), key=lambda e: list(e.absolute_path)
    )
    if errors:
        messages = [_describe(error) for error in errors]
        raise bad_request(
            f"The request body is not a valid {component}: " + "; ".join(messages[:5]),
            data=messages,
        )
