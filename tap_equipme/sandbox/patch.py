"""Customer updates: the deprecated PUT (CustomerUpdateModel) and RFC 6902 JSON Patch."""

from __future__ import annotations

from typing import Any

from tap_equipme.sandbox.errors import bad_request
from tap_equipme.sandbox.validation import validate_body

# Fields where PUT's null means "leave as is" and "" means "clear".
KEEP_ON_NULL = ("description", "customAttribute1", "customAttribute2", "customAttribute3")
# PUT overwrites these with what the body says (absent counts as null).
OVERWRITTEN = ("customerNumber", "contactName", "contactEmail", "contactPhone")
# JSON Patch may touch these fields (the update model's, plus language).
PATCHABLE = (
    "name",
    "customerNumber",
    "description",
    "active",
    "customAttribute1",
    "customAttribute2",
    "customAttribute3",
    "accountManagerId",
    "contactName",
    "contactEmail",
    "contactPhone",
    "language",
)
_PATCHABLE_BY_LOWER = {name.lower(): name for name in PATCHABLE}
_NOT_REMOVABLE = ("name", "active")
LANGUAGES = ("en", "de", "fr", "it", "pl", "nb", "nl", "es")


def require_name(name: Any) -> None:
    """400 unless ``name`` has visible characters (a Customer's name has minLength 1)."""
    if isinstance(name, str) and not name.strip():
        raise bad_request("Field 'name' must not be empty.")


def put_changes(document: dict[str, Any]) -> dict[str, Any]:
    """The stored-field changes a validated CustomerUpdateModel body makes."""
    require_name(document["name"])
    changes: dict[str, Any] = {"name": document["name"]}
    for field in OVERWRITTEN:
        changes[field] = document.get(field)
    for field in KEEP_ON_NULL:
        value = document.get(field)
        if value == "":
            changes[field] = None
        elif value is not None:
            changes[field] = value
    if "active" in document:
        changes["active"] = document["active"]
    changes["accountManager"] = document.get("accountManagerId")
    return changes


def _field_of(path: Any, index: int) -> str:
    if not isinstance(path, str) or not path.startswith("/") or path.count("/") != 1:
        raise bad_request(
            f"Operation {index}: 'path' must name one top-level field such as '/name', "
            f"not {path!r}. Allowed: {', '.join(PATCHABLE)}."
        )
    field = _PATCHABLE_BY_LOWER.get(path[1:].lower())
    if field is None:
        raise bad_request(
            f"Operation {index}: field {path[1:]!r} cannot be patched. "
            f"Allowed: {', '.join(PATCHABLE)}."
        )
    return field


def apply_patch(current: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply a JSON Patch document to a customer's fields; returns the stored-field changes.

    Supports ``add``, ``replace``, ``remove`` and ``test`` on top-level patchable fields;
    the result must be a valid CustomerUpdateModel (400 otherwise, naming the field).
    """
    if not isinstance(operations, list) or not operations:
        raise bad_request("The request body must be a non-empty JSON Patch array of operations.")
    validate_body("PatchDocument", operations)
    candidate: dict[str, Any] = {
        field: current.get(field) for field in PATCHABLE if field != "accountManagerId"
    }
    candidate["accountManagerId"] = current.get("accountManager")
    for index, operation in enumerate(operations):
        op = operation.get("op")
        field = _field_of(operation.get("path"), index)
        if op in ("add", "replace"):
            if "value" not in operation:
                raise bad_request(f"Operation {index}: '{op}' needs a 'value'.")
            candidate[field] = operation["value"]
        elif op == "remove":
            if field in _NOT_REMOVABLE:
                raise bad_request(f"Operation {index}: field '{field}' cannot be removed.")
            candidate[field] = None
        elif op == "test":
            if candidate.get(field) != operation.get("value"):
                raise bad_request(f"Operation {index}: test failed on field '{field}'.")
        else:
            raise bad_request(
                f"Operation {index}: 'op' must be add, replace, remove or test, not {op!r}."
            )
    language = candidate.pop("language")
    if language is not None and language not in LANGUAGES:
        raise bad_request(f"Field 'language' must be one of {', '.join(LANGUAGES)}.")
    if candidate.get("active") is None:
        raise bad_request("Field 'active' must be true or false.")
    validate_body("CustomerUpdateModel", candidate)
    require_name(candidate["name"])
    changes = {field: value for field, value in candidate.items() if field != "accountManagerId"}
    changes["accountManager"] = candidate["accountManagerId"]
    changes["language"] = language
    return changes
