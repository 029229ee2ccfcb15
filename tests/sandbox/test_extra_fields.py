"""The ``/_sandbox/extra_fields`` hook: an API that grew fields beyond the spec."""

from __future__ import annotations

import pytest

from tap_equipme import schemas
from tap_equipme.sandbox import SandboxControlError, SandboxServer

from .helpers import Api

GROWN = {
    "segment": "enterprise",
    "billingAddress": {"city": "Bern", "countryCode": "CH"},
    "companyAddress.latitude": 46.95,
}


def _customers_with_address(api: Api) -> list[dict]:
    return [c for c in api.list(limit=50)["items"] if c.get("companyAddress")]


def test_by_default_documents_carry_only_the_spec_fields(sandbox: SandboxServer, api: Api):
    declared = set(schemas.customer_schema()["properties"])
    address = set(schemas.customer_schema()["properties"]["companyAddress"]["properties"])
    for customer in api.list(limit=50)["items"]:
        assert set(customer) <= declared
        assert set(customer.get("companyAddress") or {}) <= address
    assert sandbox.control.extra_fields() == {"customer": {}, "metadata": {}, "ids": None}


def test_extra_fields_appear_in_lists_single_gets_and_metadata(sandbox: SandboxServer, api: Api):
    sandbox.control.set_extra_fields(customer=GROWN, metadata={"updatedBy": "api"})
    customers = _customers_with_address(api)
    assert customers
    for customer in customers:
        assert customer["segment"] == "enterprise"
        assert customer["billingAddress"] == {"city": "Bern", "countryCode": "CH"}
        assert customer["companyAddress"]["latitude"] == 46.95
        assert "city" in customer["companyAddress"]  # the spec's fields stay
    single = api.get(f"/v1/sales/customers/{customers[0]['id']}").json()
    assert single["segment"] == "enterprise"
    items = api.get(f"/v1/sales/customers/{customers[0]['id']}/metadata").json()
    assert items
    assert all(item["updatedBy"] == "api" for item in items)


def test_extra_fields_can_be_limited_to_some_customers(sandbox: SandboxServer, api: Api):
    sandbox.control.set_extra_fields(customer={"segment": "smb"}, ids=[2, 4])
    carrying = [c["id"] for c in api.list(limit=10)["items"] if "segment" in c]
    assert carrying == [2, 4]


def test_further_configurations_add_fields_of_their_own_to_their_own_customers(
    sandbox: SandboxServer, api: Api
):
    # How a real API grows: one field from the 3rd customer on, another on a few only.
    sandbox.control.set_extra_fields(
        customer={"segment": "smb"},
        ids=list(range(3, 11)),
        also=[{"customer": {"tier": 2}, "ids": [5, 9]}],
    )
    items = api.list(limit=10)["items"]
    assert [c["id"] for c in items if "segment" in c] == list(range(3, 11))
    assert [(c["id"], c["tier"]) for c in items if "tier" in c] == [(5, 2), (9, 2)]
    assert sandbox.control.extra_fields()["also"] == [
        {"customer": {"tier": 2}, "metadata": {}, "ids": [5, 9]}
    ]


def test_a_path_through_a_missing_object_is_skipped_not_invented(sandbox: SandboxServer, api: Api):
    sandbox.control.set_extra_fields(customer={"referredBy.company.rank": 1})
    for customer in api.list(limit=100)["items"]:
        referral = customer.get("referredBy")
        if referral and referral.get("company"):
            assert referral["company"]["rank"] == 1
        else:
            assert referral is None or "rank" not in str(referral)


def test_reset_and_an_empty_body_restore_the_strict_api(sandbox: SandboxServer, api: Api):
    sandbox.control.set_extra_fields(customer={"segment": "smb"})
    sandbox.control.clear_extra_fields()
    assert not any("segment" in c for c in api.list(limit=10)["items"])
    sandbox.control.set_extra_fields(customer={"segment": "smb"})
    sandbox.control.reset(customers=200, seed=1)
    assert not any("segment" in c for c in api.list(limit=10)["items"])


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"customer": ["segment"]}, "'customer'"),
        ({"metadata": {"": 1}}, "'metadata'"),
        ({"ids": "all"}, "'ids'"),
        ({"customers": {}}, "Unknown"),
        ({"also": [{"also": []}]}, "'also'"),
    ],
)
def test_a_bad_body_is_refused_naming_the_part(sandbox: SandboxServer, body, named):
    with pytest.raises(SandboxControlError) as refused:
        sandbox.control._call("POST", "extra_fields", body)
    assert "400" in str(refused.value)
    assert named in str(refused.value)
