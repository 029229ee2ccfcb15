"""Customer writes: create (CustomerCreateModel), the deprecated PUT, RFC 6902 JSON Patch."""

from __future__ import annotations

import uuid
from typing import Any

from tap_equipme.sandbox import data
from tap_equipme.sandbox.api_error import bad_request, forbidden
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


ADDRESS_FIELDS = (
    "line1",
    "street",
    "number",
    "addition",
    "city",
    "postalCode",
    "countryCode",
    "regionCode",
    "regionName",
    "dependentLocality",
    "phoneNumber",
)


def details_from_create(customer_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """The stored fields of a customer created from a validated CustomerCreateModel.

    ``billingAddress`` and ``tenantPermissions`` are accepted but, as in the API's Customer
    schema, never shown.
    """
    details: dict[str, Any] = {
        "id": customer_id,
        "uuid": str(uuid.uuid4()),
        "name": body["name"],
        "customerNumber": body.get("customerNumber"),
        "description": body.get("description"),
        "active": body.get("active", True),
        "contactName": body.get("contactName"),
        "contactEmail": body.get("contactEmail"),
        "contactPhone": body.get("contactPhone"),
        "customAttribute1": body.get("customAttribute1"),
        "customAttribute2": body.get("customAttribute2"),
        "customAttribute3": body.get("customAttribute3"),
    }
    if body.get("accountManager") is not None:
        details["accountManager"] = body["accountManager"]
    if body.get("language") is not None:
        details["language"] = body["language"]
    address = body.get("companyAddress")
    if address is not None:
        details["companyAddress"] = {
            **{field: address.get(field) for field in ADDRESS_FIELDS},
            "id": 500_000 + customer_id,
        }
    return details


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


def validate_create(document: Any) -> None:
    """400 / 403 unless ``document`` is a CustomerCreateModel this tenant may create."""
    validate_body("CustomerCreateModel", document)
    require_name(document["name"])
    _check_employees(document)


def check_employee_id(field_name: str, employee_id: Any) -> None:
    """400 naming ``field_name`` unless ``employee_id`` is null or one of the tenant's employees."""
    if employee_id is not None and employee_id not in data.EMPLOYEES_BY_ID:
        raise bad_request(
            f"Field '{field_name}': employee {employee_id} does not belong to your organization."
        )


def _check_employees(document: dict[str, Any]) -> None:
    check_employee_id("accountManager", document.get("accountManager"))
    for index, assignment in enumerate(document.get("tenantPermissions") or ()):
        employee_id = assignment["employeeId"]
        if employee_id not in data.EMPLOYEES_BY_ID:
            # "If you provide IDs that do not belong to your organization, the create
            # operation will fail": access to a foreign employee is denied (403).
            raise forbidden(
                f"Field 'tenantPermissions.{index}.employeeId': employee {employee_id} "
                "does not belong to your organization."
            )
        if assignment["role"] == "user":
            raise bad_request(
                f"Field 'tenantPermissions.{index}.role': role 'user' is not allowed."
            )
