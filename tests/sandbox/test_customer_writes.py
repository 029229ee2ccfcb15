from __future__ import annotations

from typing import Any

import pytest

from tap_equipme.sandbox import SandboxServer

from .helpers import Api

ADDRESS = {"city": "Łódź", "countryCode": "PL"}


def _create(api: Api, body: dict[str, Any]) -> Any:
    return api.request("POST", "/v1/sales/customers", json=body)


def test_create_answers_201_with_the_customer_and_makes_it_listable(api: Api) -> None:
    body = {
        "name": "Żółć Budownictwo Sp. z o.o.",
        "customerNumber": "K-NEW-1",
        "active": False,
        "language": "pl",
        "accountManager": 104,
        "contactName": "Paweł Wójcik",
        "tenantPermissions": [{"employeeId": 101, "role": "planner"}],
        "companyAddress": {**ADDRESS, "street": "ul. Długa", "number": "7"},
        "billingAddress": ADDRESS,
    }
    response = _create(api, body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == body["name"]
    assert created["active"] is False
    assert created["accountManager"]["id"] == 104
    assert created["companyAddress"]["city"] == "Łódź"
    assert created["self"]["href"] == f"v1/sales/customers/{created['id']}"
    assert api.get(f"/v1/sales/customers/{created['id']}").json() == created
    assert api.list(customerNumbers="K-NEW-1")["items"] == [created]


def test_created_customer_counts_as_created_now(sandbox: SandboxServer, api: Api) -> None:
    created = _create(api, {"name": "Jetzt GmbH"}).json()
    assert [c["id"] for c in api.all_customers(createdAfter="2026-01-01T00:00:00Z")] == [
        created["id"]
    ]
    snapshot = sandbox.control.snapshot()
    assert snapshot["created_at"][str(created["id"])] > "2026-01-01"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "customerNumber": "1" * 51}, "customerNumber"),
        ({"name": "ok", "description": "d" * 501}, "description"),
        ({"name": "ok", "contactName": "c" * 201}, "contactName"),
        ({"name": "ok", "customAttribute2": "a" * 101}, "customAttribute2"),
        ({"name": "ok", "companyAddress": {"city": "Köln"}}, "countryCode"),
        ({"name": "ok", "companyAddress": {"countryCode": "DE"}}, "city"),
        ({"name": "ok", "companyAddress": {**ADDRESS, "countryCode": "DEU"}}, "countryCode"),
        ({"name": "ok", "billingAddress": {**ADDRESS, "zip": "1"}}, "zip"),
        ({"name": "ok", "nickname": "unknown field"}, "nickname"),
        ({"name": "ok", "language": "xx"}, "language"),
        ({"name": "ok", "active": "yes"}, "active"),
        ({"name": "ok", "accountManager": 999}, "accountManager"),
        ({"name": "ok", "tenantPermissions": [{"employeeId": 101, "role": "user"}]}, "role"),
        ({"name": "ok", "tenantPermissions": [{"employeeId": 101}]}, "role"),
    ],
)
def test_create_rejects_invalid_bodies_with_400_naming_the_field(
    api: Api, body: dict[str, Any], named: str
) -> None:
    response = _create(api, body)
    assert response.status_code == 400, response.text
    assert named in response.json()["errorDescription"]


def test_create_rejects_tenant_permissions_for_foreign_employees(api: Api) -> None:
    body = {"name": "ok", "tenantPermissions": [{"employeeId": 4242, "role": "planner"}]}
    response = _create(api, body)
    assert response.status_code == 403
    assert "tenantPermissions.0.employeeId" in response.json()["errorDescription"]
    assert api.list(names="ok")["total"] == 0


def test_create_rejects_a_body_that_is_not_json(api: Api) -> None:
    response = api.request(
        "POST", "/v1/sales/customers", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["errorDescription"]


def test_get_unknown_customer_answers_404(api: Api) -> None:
    response = api.get("/v1/sales/customers/999999")
    assert response.status_code == 404
    assert response.json()["errorCode"] == "NotFound"


def test_get_deleted_customer_answers_403_and_it_leaves_the_list(
    sandbox: SandboxServer, api: Api
) -> None:
    sandbox.control.delete_customers([7])
    assert api.get("/v1/sales/customers/7").status_code == 403
    assert api.get("/v1/sales/customers/7/metadata").status_code == 403
    assert 7 not in [c["id"] for c in api.all_customers()]
    assert api.list()["total"] == 199


def test_get_with_a_non_integer_id_answers_400(api: Api) -> None:
    assert api.get("/v1/sales/customers/abc").status_code == 400


def _put(api: Api, customer_id: int, body: dict[str, Any]) -> Any:
    return api.request("PUT", f"/v1/sales/customers/{customer_id}", json=body)


def _customer_with_description(api: Api) -> dict[str, Any]:
    for customer in api.list(limit=200)["items"]:
        if customer["description"] and customer["customAttribute2"]:
            return customer
    raise AssertionError("the default data set has a customer with description and attribute")


def test_put_with_null_keeps_description_and_custom_attributes(api: Api) -> None:
    customer = _customer_with_description(api)
    body = {"name": "Renamed AG", "description": None, "customAttribute2": None}
    response = _put(api, customer["id"], body)
    assert response.status_code == 204
    assert response.content == b""
    after = api.get(f"/v1/sales/customers/{customer['id']}").json()
    assert after["name"] == "Renamed AG"
    assert after["description"] == customer["description"]
    assert after["customAttribute2"] == customer["customAttribute2"]


def test_put_with_empty_string_clears_description_and_custom_attributes(api: Api) -> None:
    customer = _customer_with_description(api)
    body = {"name": customer["name"], "description": "", "customAttribute2": ""}
    assert _put(api, customer["id"], body).status_code == 204
    after = api.get(f"/v1/sales/customers/{customer['id']}").json()
    assert after["description"] is None
    assert after["customAttribute2"] is None


def test_put_overwrites_contact_fields_and_account_manager(api: Api) -> None:
    body = {"name": "Neu GmbH", "contactName": "Zoë", "accountManagerId": 106, "active": False}
    assert _put(api, 3, body).status_code == 204
    after = api.get("/v1/sales/customers/3").json()
    assert (after["contactName"], after["contactEmail"], after["active"]) == ("Zoë", None, False)
    assert after["accountManager"]["id"] == 106
    assert api.list(names="Neu GmbH")["items"] == [after]


@pytest.mark.parametrize(
    ("customer_id", "body", "status"),
    [
        (999999, {"name": "x"}, 404),
        (3, {"description": "no name"}, 400),
        (3, {"name": "x", "accountManager": 101}, 400),
        (3, {"name": "x", "accountManagerId": 999}, 400),
    ],
)
def test_put_errors(api: Api, customer_id: int, body: dict[str, Any], status: int) -> None:
    assert _put(api, customer_id, body).status_code == status


def test_put_on_a_deleted_customer_answers_403(sandbox: SandboxServer, api: Api) -> None:
    sandbox.control.delete_customers([3])
    assert _put(api, 3, {"name": "x"}).status_code == 403


def _patch(api: Api, customer_id: int, operations: Any) -> Any:
    return api.request(
        "PATCH",
        f"/v1/sales/customers/{customer_id}",
        json=operations,
        headers={"Content-Type": "application/json-patch+json"},
    )


def test_patch_applies_replace_add_remove_and_test(api: Api) -> None:
    before = api.get("/v1/sales/customers/5").json()
    operations = [
        {"op": "test", "path": "/name", "value": before["name"]},
        {"op": "replace", "path": "/name", "value": "Gepatcht & Söhne KG"},
        {"op": "add", "path": "/customAttribute3", "value": "Ø-77"},
        {"op": "remove", "path": "/contactPhone"},
        {"op": "replace", "path": "/language", "value": "nb"},
        {"op": "replace", "path": "/accountManagerId", "value": 108},
        {"op": "replace", "path": "/active", "value": not before["active"]},
    ]
    response = _patch(api, 5, operations)
    assert response.status_code == 204, response.text
    after = api.get("/v1/sales/customers/5").json()
    assert after["name"] == "Gepatcht & Söhne KG"
    assert after["customAttribute3"] == "Ø-77"
    assert after["contactPhone"] is None
    assert after["language"] == "nb"
    assert after["accountManager"]["id"] == 108
    assert after["active"] is (not before["active"])
    assert after["uuid"] == before["uuid"]


@pytest.mark.parametrize(
    ("operations", "named"),
    [
        ([{"op": "move", "path": "/name", "from": "/description"}], "op"),
        ([{"op": "replace", "path": "/id", "value": 5}], "id"),
        ([{"op": "replace", "path": "/companyAddress/city", "value": "Bonn"}], "path"),
        ([{"op": "replace", "path": "name", "value": "x"}], "path"),
        ([{"op": "replace", "path": "/name", "value": "x" * 101}], "name"),
        ([{"op": "replace", "path": "/name", "value": ""}], "name"),
        ([{"op": "replace", "path": "/active", "value": "yes"}], "active"),
        ([{"op": "replace", "path": "/language", "value": "klingon"}], "language"),
        ([{"op": "replace", "path": "/accountManagerId", "value": 999}], "accountManager"),
        ([{"op": "remove", "path": "/name"}], "name"),
        ([{"op": "replace", "path": "/name"}], "value"),
        ([{"op": "test", "path": "/name", "value": "not the name"}], "test"),
        ([{"op": "replace", "path": "/name", "value": "x", "extra": 1}], "extra"),
        ([], "non-empty"),
        ({"op": "replace"}, "array"),
    ],
)
def test_patch_rejects_bad_operations_with_400_and_changes_nothing(
    api: Api, operations: Any, named: str
) -> None:
    before = api.get("/v1/sales/customers/5").json()
    response = _patch(api, 5, operations)
    assert response.status_code == 400, response.text
    assert named in response.json()["errorDescription"]
    assert api.get("/v1/sales/customers/5").json() == before


def test_patch_unknown_customer_answers_404_and_deleted_answers_403(
    sandbox: SandboxServer, api: Api
) -> None:
    operation = [{"op": "replace", "path": "/name", "value": "x"}]
    assert _patch(api, 999999, operation).status_code == 404
    sandbox.control.delete_customers([5])
    assert _patch(api, 5, operation).status_code == 403


def test_unsupported_method_answers_405_with_allow(api: Api) -> None:
    response = api.request("DELETE", "/v1/sales/customers/5")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PUT, PATCH"
