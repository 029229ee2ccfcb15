from __future__ import annotations

from urllib.parse import quote

from tap_equipme.sandbox import SandboxServer

from .helpers import Api


def _customer_with_metadata(api: Api) -> int:
    for customer_id in range(1, 201):
        if api.get(f"/v1/sales/customers/{customer_id}/metadata").json():
            return customer_id
    raise AssertionError("some generated customer has metadata")


def test_generated_customers_have_zero_to_many_items_with_both_scopes(api: Api) -> None:
    counts, scopes = set(), set()
    for customer_id in range(1, 101):
        items = api.get(f"/v1/sales/customers/{customer_id}/metadata").json()
        counts.add(len(items))
        scopes.update(item["scope"] for item in items)
        for item in items:
            href = f"v1/sales/customers/{customer_id}/metadata/{quote(item['key'], safe='')}"
            assert item["self"]["href"] == href
    assert 0 in counts
    assert max(counts) >= 2
    assert scopes == {"Customer", "Supplier"}


def test_metadata_is_the_same_on_every_read(api: Api) -> None:
    customer_id = _customer_with_metadata(api)
    first = api.get(f"/v1/sales/customers/{customer_id}/metadata").json()
    assert api.get(f"/v1/sales/customers/{customer_id}/metadata").json() == first


def test_post_creates_then_updates_by_key(api: Api) -> None:
    path = "/v1/sales/customers/9/metadata"
    created = api.request("POST", path, json={"key": "größe/Ü", "value": "groß"})
    assert created.status_code == 201
    assert created.json()["key"] == "größe/Ü"
    assert created.json()["value"] == "groß"
    updated = api.request("POST", path, json={"key": "größe/Ü", "value": "klein"})
    assert updated.status_code == 201
    items = api.get(path).json()
    assert [i["value"] for i in items if i["key"] == "größe/Ü"] == ["klein"]
    single = api.get(f"{path}/{quote('größe/Ü', safe='')}")
    assert single.status_code == 200
    assert single.json() == updated.json()


def test_get_missing_key_answers_404(api: Api) -> None:
    response = api.get("/v1/sales/customers/9/metadata/no-such-key")
    assert response.status_code == 404
    assert "no-such-key" in response.json()["errorDescription"]


def test_delete_answers_204_and_the_key_is_gone(api: Api) -> None:
    customer_id = _customer_with_metadata(api)
    path = f"/v1/sales/customers/{customer_id}/metadata"
    key = api.get(path).json()[0]["key"]
    response = api.request("DELETE", f"{path}/{key}")
    assert response.status_code == 204
    assert api.get(f"{path}/{key}").status_code == 404
    assert key not in [item["key"] for item in api.get(path).json()]
    assert api.request("DELETE", f"{path}/{key}").status_code == 404


def test_post_rejects_bad_bodies(api: Api) -> None:
    path = "/v1/sales/customers/9/metadata"
    assert api.request("POST", path, json={"value": "no key"}).status_code == 400
    assert api.request("POST", path, json={"key": "k", "value": "v" * 501}).status_code == 400
    assert api.request("POST", path, json={"key": "k" * 151}).status_code == 400
    assert api.request("POST", path, json={"key": "k", "scope": "Customer"}).status_code == 400


def test_metadata_of_unknown_customer_answers_404(api: Api) -> None:
    assert api.get("/v1/sales/customers/999999/metadata").status_code == 404
    assert api.get("/v1/sales/customers/999999/metadata/k").status_code == 404
    post = api.request("POST", "/v1/sales/customers/999999/metadata", json={"key": "k"})
    assert post.status_code == 404


def test_metadata_of_deleted_customer_answers_403(sandbox: SandboxServer, api: Api) -> None:
    sandbox.control.delete_customers([9])
    assert api.get("/v1/sales/customers/9/metadata").status_code == 403
    assert api.get("/v1/sales/customers/9/metadata/k").status_code == 403
    assert api.request("DELETE", "/v1/sales/customers/9/metadata/k").status_code == 403
    post = api.request("POST", "/v1/sales/customers/9/metadata", json={"key": "k"})
    assert post.status_code == 403
