"""Every operation and every documented status code, each response checked against the spec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tap_equipme.sandbox import SandboxServer
from tap_equipme.sandbox.validation import openapi_spec, schema_for, to_json_schema

SPEC = openapi_spec()
CUSTOMER = "/v1/sales/customers/{customerId}"
METADATA = "/v1/sales/customers/{customerId}/metadata"
METADATA_KEY = "/v1/sales/customers/{customerId}/metadata/{key}"
# Documented, but nothing in the sandbox can make a list request "forbidden": every key of
# a tenant may list that tenant's customers.
UNREACHABLE = {("GET", "/v1/sales/customers", "403")}


@dataclass
class Call:
    method: str
    path: str
    json: Any = None
    key: bool = True
    setup: Callable[[SandboxServer], None] | None = None


def _delete_customer_1(sandbox: SandboxServer) -> None:
    sandbox.control.delete_customers([1])


def _foreign_permission() -> dict[str, Any]:
    return {"name": "x", "tenantPermissions": [{"employeeId": 7, "role": "planner"}]}


PATCH_OK = [{"op": "replace", "path": "/name", "value": "Patched AG"}]
META_OK = {"key": "erpId", "value": "4711"}
DELETED = _delete_customer_1

SCENARIOS: dict[tuple[str, str, str], Call] = {
    ("GET", "/v1/sales/customers", "200"): Call("GET", "/v1/sales/customers?limit=20&offset=5"),
    ("GET", "/v1/sales/customers", "400"): Call("GET", "/v1/sales/customers?limit=0"),
    ("GET", "/v1/sales/customers", "401"): Call("GET", "/v1/sales/customers", key=False),
    ("POST", "/v1/sales/customers", "201"): Call(
        "POST",
        "/v1/sales/customers",
        {"name": "Neu AG", "companyAddress": {"city": "Bern", "countryCode": "CH"}},
    ),
    ("POST", "/v1/sales/customers", "400"): Call("POST", "/v1/sales/customers", {"nom": "x"}),
    ("POST", "/v1/sales/customers", "401"): Call(
        "POST", "/v1/sales/customers", {"name": "x"}, key=False
    ),
    ("POST", "/v1/sales/customers", "403"): Call(
        "POST", "/v1/sales/customers", _foreign_permission()
    ),
    ("GET", CUSTOMER, "200"): Call("GET", "/v1/sales/customers/1"),
    ("GET", CUSTOMER, "400"): Call("GET", "/v1/sales/customers/one"),
    ("GET", CUSTOMER, "401"): Call("GET", "/v1/sales/customers/1", key=False),
    ("GET", CUSTOMER, "403"): Call("GET", "/v1/sales/customers/1", setup=DELETED),
    ("GET", CUSTOMER, "404"): Call("GET", "/v1/sales/customers/424242"),
    ("PUT", CUSTOMER, "204"): Call("PUT", "/v1/sales/customers/1", {"name": "Put AG"}),
    ("PUT", CUSTOMER, "400"): Call("PUT", "/v1/sales/customers/1", {"name": "x" * 101}),
    ("PUT", CUSTOMER, "401"): Call("PUT", "/v1/sales/customers/1", {"name": "x"}, key=False),
    ("PUT", CUSTOMER, "403"): Call("PUT", "/v1/sales/customers/1", {"name": "x"}, setup=DELETED),
    ("PUT", CUSTOMER, "404"): Call("PUT", "/v1/sales/customers/424242", {"name": "x"}),
    ("PATCH", CUSTOMER, "204"): Call("PATCH", "/v1/sales/customers/1", PATCH_OK),
    ("PATCH", CUSTOMER, "400"): Call(
        "PATCH", "/v1/sales/customers/1", [{"op": "explode", "path": "/name"}]
    ),
    ("PATCH", CUSTOMER, "401"): Call("PATCH", "/v1/sales/customers/1", PATCH_OK, key=False),
    ("PATCH", CUSTOMER, "403"): Call("PATCH", "/v1/sales/customers/1", PATCH_OK, setup=DELETED),
    ("PATCH", CUSTOMER, "404"): Call("PATCH", "/v1/sales/customers/424242", PATCH_OK),
    ("GET", METADATA, "200"): Call("GET", "/v1/sales/customers/5/metadata"),
    ("GET", METADATA, "400"): Call("GET", "/v1/sales/customers/x/metadata"),
    ("GET", METADATA, "401"): Call("GET", "/v1/sales/customers/5/metadata", key=False),
    ("GET", METADATA, "403"): Call("GET", "/v1/sales/customers/1/metadata", setup=DELETED),
    ("GET", METADATA, "404"): Call("GET", "/v1/sales/customers/424242/metadata"),
    ("POST", METADATA, "201"): Call("POST", "/v1/sales/customers/5/metadata", META_OK),
    ("POST", METADATA, "400"): Call("POST", "/v1/sales/customers/5/metadata", {"key": 5}),
    ("POST", METADATA, "401"): Call("POST", "/v1/sales/customers/5/metadata", META_OK, key=False),
    ("POST", METADATA, "403"): Call(
        "POST", "/v1/sales/customers/1/metadata", META_OK, setup=DELETED
    ),
    ("POST", METADATA, "404"): Call("POST", "/v1/sales/customers/424242/metadata", META_OK),
    ("GET", METADATA_KEY, "200"): Call(
        "GET",
        "/v1/sales/customers/5/metadata/erpId",
        setup=lambda s: _put_meta(s, 5),
    ),
    ("GET", METADATA_KEY, "400"): Call("GET", "/v1/sales/customers/x/metadata/erpId"),
    ("GET", METADATA_KEY, "401"): Call("GET", "/v1/sales/customers/5/metadata/erpId", key=False),
    ("GET", METADATA_KEY, "403"): Call(
        "GET", "/v1/sales/customers/1/metadata/erpId", setup=DELETED
    ),
    ("GET", METADATA_KEY, "404"): Call("GET", "/v1/sales/customers/5/metadata/missing"),
    ("DELETE", METADATA_KEY, "204"): Call(
        "DELETE", "/v1/sales/customers/5/metadata/erpId", setup=lambda s: _put_meta(s, 5)
    ),
    ("DELETE", METADATA_KEY, "400"): Call("DELETE", "/v1/sales/customers/x/metadata/erpId"),
    ("DELETE", METADATA_KEY, "401"): Call("DELETE", "/v1/sales/customers/5/metadata/k", key=False),
    ("DELETE", METADATA_KEY, "403"): Call(
        "DELETE", "/v1/sales/customers/1/metadata/k", setup=DELETED
    ),
    ("DELETE", METADATA_KEY, "404"): Call("DELETE", "/v1/sales/customers/5/metadata/missing"),
}


def _put_meta(sandbox: SandboxServer, customer_id: int) -> None:
    sandbox.store.put_metadata(customer_id, "erpId", "4711")


def documented_statuses() -> set[tuple[str, str, str]]:
    return {
        (method.upper(), path, status)
        for path, operations in SPEC["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
    }


def response_validator(method: str, path: str, status: str) -> Draft202012Validator | None:
    response = SPEC["paths"][path][method.lower()]["responses"][status]
    content = response.get("content")
    if content is None:
        return None
    schema = to_json_schema(content["application/json"]["schema"])
    return Draft202012Validator({**schema, "$defs": schema_for("Customer")["$defs"]})


def test_the_walker_covers_every_documented_status_of_every_operation() -> None:
    documented = documented_statuses()
    assert len({(m, p) for m, p, _ in documented}) == 9
    assert set(SCENARIOS) | UNREACHABLE == documented


@pytest.mark.parametrize("scenario", sorted(SCENARIOS), ids=" ".join)
def test_each_documented_status_is_produced_with_a_conforming_body(
    sandbox: SandboxServer, api_key: str, scenario: tuple[str, str, str]
) -> None:
    method, path, status = scenario
    call = SCENARIOS[scenario]
    if call.setup is not None:
        call.setup(sandbox)
    headers = {"X-API-KEY": api_key} if call.key else {}
    response = requests.request(
        call.method, f"{sandbox.base_url}{call.path}", json=call.json, headers=headers, timeout=10
    )
    assert str(response.status_code) == status, response.text
    assert "Date" in response.headers
    validator = response_validator(method, path, status)
    if validator is None:
        assert response.content == b""
        return
    assert response.headers["Content-Type"].startswith("application/json")
    errors = [error.message for error in validator.iter_errors(response.json())]
    assert errors == []


# Fuzzing: schemathesis generates valid and invalid inputs from the spec. The check that
# every schema-valid request is accepted is left out, because the API's documented rules
# are stricter than its schemas (limit 1..1000 only in a description, a name with
# minLength 0 in CustomerCreateModel but 1 in Customer, employee ids of the tenant only).
fuzzed = schemathesis.openapi.from_dict(SPEC)


@fuzzed.parametrize()
# Derandomized: the same examples on every run, so a shared CI never flakes on a new one
# (randomized runs of 150 examples per operation passed while this was written).
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_get_spec_conforming_answers(
    case: Any, sandbox: SandboxServer, api_key: str
) -> None:
    # Use the real key wherever the case sends one; cases that leave the header out on
    # purpose (negative tests of the security scheme) must still go without it.
    if case.headers and "X-API-KEY" in case.headers:
        case.headers["X-API-KEY"] = api_key
    case.call_and_validate(
        base_url=sandbox.base_url, excluded_checks=[positive_data_acceptance], timeout=10
    )


def test_the_response_validator_rejects_a_body_that_breaks_the_spec() -> None:
    validator = response_validator("GET", CUSTOMER, "200")
    assert validator is not None
    assert list(validator.iter_errors({"id": 1, "name": "x", "self": {"href": "v1/x"}})) == []
    broken = {"id": 1, "name": "", "self": {"href": "v1/x"}, "createdAt": "2020-01-01"}
    assert len(list(validator.iter_errors(broken))) == 2
    nullable = {"id": 1, "name": "x", "self": {"href": "v1/x"}, "description": None}
    assert list(validator.iter_errors(nullable)) == []
    assert list(validator.iter_errors({**nullable, "active": None})) != []
