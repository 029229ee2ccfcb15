"""Fields the vendored spec does not declare: find them cheaply, infer their types, widen.

Pure logic (no I/O, no singer-sdk). A `SchemaEvolver` holds a stream's current JSON Schema
(the spec's, widened as the run goes) and a compiled checker that answers, per record, "does
this record fit?" with a few set comparisons; only a record that does not fit takes the slow
path (`widen`, `strip_unknown` or `first_unknown`). The inference rules below live in
`type_inference`.

Inference: a JSON boolean, integer, number, string, object or array gives that type (always
nullable: a field the spec does not promise may be absent or null). A field seen only as null
so far is left out of the schema and of the records until it carries a value, as dlt does: a
null says nothing that a missing field would not, and a type guessed from it would be wrong
for the first real value. A value whose type cannot be told otherwise (an empty object or
array, mixed types) gets `FREEFORM`, every JSON type listed: valid JSON Schema that every
Singer target accepts (also those that require a `type` keyword); SQL targets store it as
JSON or text. A free-form field stays free-form. Strings get no `format`: a guessed date-time
would break on the first string that is not one.
Widening: integer and number give number; new properties of an object (also of the objects
inside an array) are added; any other mix becomes free-form. Types of fields the spec declares
are never changed: the spec is their authority.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tap_equipme.type_inference import FREEFORM, infer, is_freeform, merge, type_name

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float, Decimal),  # the tap's JSON decoder reads fractions as Decimal
    "string": (str,),
    "object": (dict,),
    "array": (list,),
}

Check = Callable[[Any], bool]


@dataclass(frozen=True)
class FieldChange:
    """One field added to (or widened in) a stream's schema."""

    path: str
    """Dotted path from the record's top level; `[]` marks the items of an array."""
    kind: str
    """`added` or `widened`."""
    old_type: str | None
    new_type: str


class UnknownFieldError(ValueError):
    """A record carries a field the schema does not declare (the `fail` policy)."""


def _describe(path: tuple[str, ...]) -> str:
    return ".".join(path).replace(".[]", "[]")


class SchemaEvolver:
    """A stream's schema, widened by the fields its records carry beyond it.

    Args:
        schema: The stream's schema (not modified: widening works on a copy).
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._copied = False
        self._inferred: set[tuple[str, ...]] = set()
        self.fits: Check = self._compile()

    # -- the fast check ---------------------------------------------------------------

    def _compile(self) -> Check:
        """Generate the check as one flat function of inline set comparisons.

        A closure per nested object cost a call each and made the check three times slower.
        """
        lines: list[str] = []
        constants: dict[str, Any] = {}
        self._emit(self.schema, (), "value", 1, lines, constants, inferred=False)
        body = "\n".join(lines) if lines else "    pass"
        source = f"def fits(value):\n{body}\n    return True\n"
        namespace: dict[str, Any] = {**constants, "Decimal": Decimal}
        exec(compile(source, "<schema_evolution.fits>", "exec"), namespace)  # noqa: S102
        fits: Check = namespace["fits"]
        return fits

    def _emit(
        self,
        schema: dict[str, Any],
        path: tuple[str, ...],
        var: str,
        depth: int,
        lines: list[str],
        constants: dict[str, Any],
        *,
        inferred: bool,
    ) -> None:
        """Append the statements that return False when `var` does not fit `schema`.

        Spec-declared values are checked only for keys beyond their properties; values of
        inferred fields also for their type (a later value may need a wider one). `var` is
        known to be non-null here.
        """
        inferred = inferred or path in self._inferred
        if is_freeform(schema):
            return
        pad = "    " * depth
        kind = type_name(schema)
        if kind == "object":
            properties = schema.get("properties")
            if not properties:
                return
            name = f"K{len(constants)}"
            constants[name] = frozenset(properties)
            body = [f"{pad}    if not {name}.issuperset({var}):", f"{pad}        return False"]
            for key, sub in properties.items():
                child: list[str] = []
                item = f"v{depth}"
                self._emit(sub, (*path, key), item, depth + 2, child, constants, inferred=inferred)
                if child:
                    body.append(f"{pad}    {item} = {var}.get({key!r})")
                    body.append(f"{pad}    if {item} is not None:")
                    body.extend(child)
            _type_block(lines, pad, var, "dict", body, inferred=inferred)
            return
        if kind == "array":
            items = schema.get("items")
            child = []
            item = f"e{depth}"
            if isinstance(items, dict):
                self._emit(
                    items, (*path, "[]"), item, depth + 3, child, constants, inferred=inferred
                )
            body = [f"{pad}    for {item} in {var}:", f"{pad}        if {item} is not None:"]
            _type_block(lines, pad, var, "list", body + child if child else [], inferred=inferred)
            return
        if not inferred:
            return
        allowed = {
            "boolean": "(bool,)",
            "integer": "(int,)",
            "number": "(int, float, Decimal)",
            "string": "(str,)",
        }[kind]
        lines.append(f"{pad}if type({var}) not in {allowed}:")
        lines.append(f"{pad}    return False")

    # -- the slow paths ---------------------------------------------------------------

    def widen(self, record: dict[str, Any]) -> list[FieldChange]:
        """Add the record's unknown fields to the schema and widen inferred types.

        Args:
            record: A record that does not fit (`fits(record)` is False).

        Returns:
            The changes, in record order (empty if the record fits after all).
        """
        if not self._copied:
            self.schema = copy.deepcopy(self.schema)
            self._copied = True
        changes: list[FieldChange] = []
        self._widen_value(self.schema, record, (), changes, inferred=False)
        if changes:
            self.fits = self._compile()
        return changes

    def _widen_value(
        self,
        schema: dict[str, Any],
        value: Any,
        path: tuple[str, ...],
        changes: list[FieldChange],
        *,
        inferred: bool,
    ) -> dict[str, Any]:
        """Widen `schema` (in place where possible) so that it accepts `value`; return it."""
        inferred = inferred or path in self._inferred
        if value is None or is_freeform(schema):
            return schema
        kind = type_name(schema)
        if inferred and not _fits_type(kind, value):
            seen = infer(value) or copy.deepcopy(FREEFORM)  # `[]` where a string was seen
            wider = merge(copy.deepcopy(schema), seen)
            changes.append(FieldChange(_describe(path), "widened", kind, type_name(wider)))
            return wider
        if kind == "object" and isinstance(value, dict) and schema.get("properties"):
            properties = schema["properties"]
            for key, item in value.items():
                sub_path = (*path, key)
                if key not in properties:
                    new_schema = infer(item)
                    if new_schema is None:
                        continue  # held back until it has a value (see the module docstring)
                    properties[key] = new_schema
                    self._inferred.add(sub_path)
                    changes.append(
                        FieldChange(_describe(sub_path), "added", None, type_name(properties[key]))
                    )
                else:
                    properties[key] = self._widen_value(
                        properties[key], item, sub_path, changes, inferred=inferred
                    )
        elif kind == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
            for element in value:
                schema["items"] = self._widen_value(
                    schema["items"], element, (*path, "[]"), changes, inferred=inferred
                )
        return schema

    def unknown_paths(self, record: dict[str, Any]) -> list[str]:
        """The dotted paths of the record's fields the schema does not declare.

        Args:
            record: A record.

        Returns:
            Paths such as `segment`, `companyAddress.latitude`, `lines[].note`.
        """
        found: list[str] = []
        _walk_unknown(self.schema, record, (), found, strip=False)
        return list(dict.fromkeys(found))

    def strip_unknown(self, record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """A copy of the record without the fields the schema does not declare.

        Args:
            record: A record.

        Returns:
            The record (copied only where something was removed) and the removed paths.
        """
        found: list[str] = []
        stripped = _walk_unknown(self.schema, record, (), found, strip=True)
        return stripped, list(dict.fromkeys(found))


def _always(_value: Any) -> bool:
    return True


def _fits_type(kind: str, value: Any) -> bool:
    if kind in ("integer", "number"):
        return type(value) in _PY_TYPES[kind]
    return isinstance(value, _PY_TYPES[kind])


def _walk_unknown(
    schema: dict[str, Any], value: Any, path: tuple[str, ...], found: list[str], *, strip: bool
) -> Any:
    """Collect (and, with `strip`, remove) undeclared keys below `value`; return the value."""
    if is_freeform(schema):
        return value
    kind = type_name(schema)
    if kind == "object" and isinstance(value, dict) and schema.get("properties"):
        properties = schema["properties"]
        result = value
        for key, item in value.items():
            if key not in properties:
                found.append(_describe((*path, key)))
                if strip:
                    if result is value:
                        result = dict(value)
                    del result[key]
                continue
            new_item = _walk_unknown(properties[key], item, (*path, key), found, strip=strip)
            if new_item is not item:
                if result is value:
                    result = dict(value)
                result[key] = new_item
        return result
    if kind == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        new_list = [_walk_unknown(items, e, (*path, "[]"), found, strip=strip) for e in value]
        if any(new is not old for new, old in zip(new_list, value, strict=True)):
            return new_list
        return value
    return value


def _type_block(
    lines: list[str], pad: str, var: str, kind: str, body: list[str], *, inferred: bool
) -> None:
    """Append `if type(var) is <kind>:` with its body; inferred, another type fails the check."""
    if body:
        lines.append(f"{pad}if type({var}) is {kind}:")
        lines.extend(body)
    if inferred:
        lines.append(f"{pad}{'el' if body else ''}if type({var}) is not {kind}:")
        lines.append(f"{pad}    return False")
