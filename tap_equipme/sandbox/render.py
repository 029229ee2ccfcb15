"""Rendering: stored fields to API documents with ``self`` links, and compact JSON bytes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from tap_equipme.sandbox.data import EMPLOYEES_BY_ID, CustomerCore
from tap_equipme.sandbox.extra_fields import ExtraFields

CUSTOMERS_PATH = "v1/sales/customers"


def dumps(document: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII text sent as is, as a .NET API does)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class Renderer:
    """Builds documents whose links are relative to the base URL, in one href style."""

    def __init__(self, href_prefix: str = "") -> None:
        self.href_prefix = href_prefix  # "" gives "v1/...", "/" gives "/v1/..."
        self._employee_refs: dict[int, dict[str, Any]] = {}
        self.extra = ExtraFields()
        """Fields beyond the spec (``/_sandbox/extra_fields``); none by default."""

    def href(self, path: str) -> dict[str, str]:
        """A ResourceLink relative to the base URL, in the configured style."""
        return {"href": self.href_prefix + path}

    def customer_reference(self, core: CustomerCore) -> dict[str, Any]:
        """A CustomerReference document (as in ``referredBy.company``)."""
        return {
            "id": core.id,
            "name": core.name,
            "customerNumber": core.customer_number,
            "self": self.href(f"{CUSTOMERS_PATH}/{core.id}"),
        }

    def employee_reference(self, employee_id: int) -> dict[str, Any]:
        """An EmployeeReference document for one of the fixed employees (shared, read-only)."""
        cached = self._employee_refs.get(employee_id)
        if cached is not None:
            return cached
        employee = EMPLOYEES_BY_ID[employee_id]
        cached = self._employee_refs[employee_id] = {
            "id": employee.id,
            "firstName": employee.first_name,
            "lastName": employee.last_name,
            "fullName": f"{employee.last_name}, {employee.first_name}",
            "email": employee.email,
            "username": employee.email,
            "costCenter": employee.cost_center,
            "costCenterId": employee.cost_center_id,
            "self": self.href(f"v1/organization/employees/{employee.id}"),
        }
        return cached

    def customer(self, details: dict[str, Any]) -> dict[str, Any]:
        """The Customer document (links added) for a customer's stored fields."""
        customer_id = details["id"]
        document = dict(details)
        manager = document.get("accountManager")
        if isinstance(manager, int):
            document["accountManager"] = self.employee_reference(manager)
        address = document.get("companyAddress")
        if address is not None:
            document["companyAddress"] = {
                **address,
                "self": self.href(f"{CUSTOMERS_PATH}/{customer_id}/addresses/{address['id']}"),
            }
        referral = document.get("referredBy")
        if referral is not None and isinstance(referral.get("employee"), int):
            document["referredBy"] = {
                **referral,
                "employee": self.employee_reference(referral["employee"]),
            }
        document["self"] = self.href(f"{CUSTOMERS_PATH}/{customer_id}")
        return self.extra.add_to_customer(customer_id, document)

    def metadata_item(self, customer_id: int, item: dict[str, Any]) -> dict[str, Any]:
        """A MetadataItem document with its ``self`` link."""
        key_path = quote(item["key"], safe="")
        document = {
            **item,
            "self": self.href(f"{CUSTOMERS_PATH}/{customer_id}/metadata/{key_path}"),
        }
        return self.extra.add_to_metadata(customer_id, document)
