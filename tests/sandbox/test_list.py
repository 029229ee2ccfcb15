from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest

from tap_equipme.sandbox import SandboxServer

from .helpers import Api


def test_first_page_has_self_and_next_but_no_previous(api: Api) -> None:
    page = api.list(limit=50)
    assert page["total"] == 200
    assert len(page["items"]) == 50
    assert page["self"] == {"href": "v1/sales/customers?offset=0&limit=50"}
    assert page["next"] == {"href": "v1/sales/customers?offset=50&limit=50"}
    assert "previous" not in page


def test_middle_page_has_next_and_previous(api: Api) -> None:
    page = api.list(offset=60, limit=50)
    assert page["self"]["href"] == "v1/sales/customers?offset=60&limit=50"
    assert page["next"]["href"] == "v1/sales/customers?offset=110&limit=50"
    assert page["previous"]["href"] == "v1/sales/customers?offset=10&limit=50"


def test_last_page_has_previous_but_no_next(api: Api) -> None:
    page = api.list(offset=150, limit=50)
    assert len(page["items"]) == 50
    assert "next" not in page
    assert page["previous"]["href"] == "v1/sales/customers?offset=100&limit=50"


def test_offset_beyond_total_gives_empty_items_and_the_total(api: Api) -> None:
    page = api.list(offset=5000, limit=10)
    assert page["items"] == []
    assert page["total"] == 200
    assert "next" not in page


def test_links_keep_the_filters_of_the_request(api: Api) -> None:
    page = api.list(active="true", names=["a b", "c&d"], sortBy="name", sortOrder="desc", limit=1)
    assert page["self"]["href"] == (
        "v1/sales/customers?active=true&names=a%20b&names=c%26d&sortBy=name&sortOrder=desc"
        "&offset=0&limit=1"
    )


def test_every_customer_and_link_carries_a_relative_self_href(api: Api) -> None:
    for customer in api.list(limit=100)["items"]:
        assert customer["self"]["href"] == f"v1/sales/customers/{customer['id']}"
        manager = customer.get("accountManager")
        if manager is not None:
            assert manager["self"]["href"] == f"v1/organization/employees/{manager['id']}"


def test_slash_href_style_prefixes_every_href_with_a_slash(api_key: str) -> None:
    with SandboxServer(customers=30, seed=3, api_key=api_key, href_style="slash") as sandbox:
        client = Api(sandbox, api_key)
        try:
            page = client.list(limit=10)
            customer_id = page["items"][0]["id"]
            metadata = client.get(f"/v1/sales/customers/{customer_id}/metadata").json()
        finally:
            client.close()
    assert page["next"]["href"] == "/v1/sales/customers?offset=10&limit=10"
    assert all(c["self"]["href"].startswith("/v1/sales/customers/") for c in page["items"])
    assert all(item["self"]["href"].startswith("/v1/") for item in metadata)


def test_unknown_href_style_is_refused() -> None:
    with pytest.raises(ValueError, match="href_style"):
        SandboxServer(href_style="absolute")


def test_unsorted_listing_is_stable_by_id(api: Api) -> None:
    ids = [c["id"] for c in api.all_customers(page_size=37)]
    assert ids == sorted(ids)
    assert len(ids) == 200


def test_default_limit_is_100(api: Api) -> None:
    assert len(api.list()["items"]) == 100


@pytest.mark.parametrize("limit", [1, 1000])
def test_limit_bounds_are_accepted(api: Api, limit: int) -> None:
    assert len(api.list(limit=limit)["items"]) == min(limit, 200)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": -5}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"active": "yes"}, "active"),
        ({"createdAfter": "yesterday"}, "createdAfter"),
        ({"sortBy": "id"}, "sortBy"),
        ({"sortOrder": "up"}, "sortOrder"),
        ({"sortOrder": ""}, "sortOrder"),
        ({"sortBy": ""}, "sortBy"),
        ({"active": ""}, "active"),
        ({"limit": ""}, "limit"),
        ({"limit": [5, 6]}, "limit"),
    ],
)
def test_invalid_list_parameters_answer_400_naming_the_parameter(
    api: Api, params: dict[str, object], named: str
) -> None:
    response = api.get("/v1/sales/customers", params=params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"errorCode", "errorDescription", "data"}
    assert named in body["errorDescription"]


def test_active_filter_returns_only_matching_customers(api: Api) -> None:
    active = api.all_customers(active="true")
    inactive = api.all_customers(active="false")
    assert active
    assert inactive
    assert all(c["active"] is True for c in active)
    assert all(c["active"] is False for c in inactive)
    assert len(active) + len(inactive) == 200


def test_names_filter_is_repeatable_and_exact(api: Api) -> None:
    customers = api.list(limit=200)["items"]
    wanted = {customers[3]["name"], customers[40]["name"]}
    found = api.all_customers(names=sorted(wanted))
    assert {c["name"] for c in found} == wanted
    assert api.list(names=customers[3]["name"][:-1])["total"] == 0


def test_customer_numbers_filter_is_repeatable(api: Api) -> None:
    numbers = [c["customerNumber"] for c in api.list(limit=200)["items"] if c["customerNumber"]]
    wanted = numbers[:3]
    found = api.all_customers(customerNumbers=wanted)
    assert sorted(c["customerNumber"] for c in found) == sorted(wanted)


def test_created_after_is_strictly_after(sandbox: SandboxServer, api: Api) -> None:
    moment = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    tick = timedelta(microseconds=1)
    (before_id,) = sandbox.control.create_customers([{"name": "Before GmbH"}], moment - tick)
    (at_id,) = sandbox.control.create_customers([{"name": "At GmbH"}], moment)
    (after_id,) = sandbox.control.create_customers([{"name": "After GmbH"}], moment + tick)
    found = api.all_customers(createdAfter=moment.isoformat())
    assert [c["id"] for c in found] == [after_id]
    found = api.all_customers(createdAfter=(moment - tick).isoformat())
    assert [c["id"] for c in found] == [at_id, after_id]
    assert before_id not in [c["id"] for c in found]


def test_created_after_accepts_z_suffix_and_naive_times_as_utc(api: Api) -> None:
    with_z = api.list(createdAfter="2022-06-01T00:00:00Z", limit=1)["total"]
    naive = api.list(createdAfter="2022-06-01T00:00:00", limit=1)["total"]
    offset = api.list(createdAfter="2022-06-01T02:00:00+02:00", limit=1)["total"]
    assert 0 < with_z < 200
    assert with_z == naive == offset


def test_generated_customers_were_created_in_the_past(api: Api) -> None:
    assert api.list(createdAfter=datetime.now(timezone.utc).isoformat())["total"] == 0
    assert api.list(createdAfter="2000-01-01T00:00:00Z")["total"] == 200


def _sorted_names(api: Api, order: str) -> list[tuple[str, int]]:
    items = api.all_customers(page_size=23, sortBy="name", sortOrder=order)
    return [(c["name"], c["id"]) for c in items]


def test_sort_by_name_ascending_breaks_ties_by_id(sandbox: SandboxServer, api: Api) -> None:
    sandbox.control.create_customers([{"name": "Zwilling AG"}] * 3)
    pairs = _sorted_names(api, "asc")
    assert pairs == sorted(pairs)
    twins = [customer_id for name, customer_id in pairs if name == "Zwilling AG"]
    assert len(twins) == 3
    assert twins == sorted(twins)


def test_sort_by_name_descending_reverses_names_and_keeps_ties_by_id(
    sandbox: SandboxServer, api: Api
) -> None:
    sandbox.control.create_customers([{"name": "Zwilling AG"}] * 3)
    pairs = _sorted_names(api, "desc")
    names = [name for name, _ in pairs]
    assert names == sorted(names, reverse=True)
    twins = [customer_id for name, customer_id in pairs if name == "Zwilling AG"]
    assert twins == sorted(twins)


def test_sort_order_alone_reverses_the_id_order(api: Api) -> None:
    ids = [c["id"] for c in api.all_customers(sortOrder="desc")]
    assert ids == sorted(ids, reverse=True)


def test_responses_carry_a_current_date_header(api: Api) -> None:
    response = api.get("/v1/sales/customers", params={"limit": 1})
    sent = parsedate_to_datetime(response.headers["Date"])
    assert abs((datetime.now(timezone.utc) - sent).total_seconds()) < 5


def test_customer_creation_time_never_appears_in_a_response(
    sandbox: SandboxServer, api: Api
) -> None:
    moment = "2031-02-03T04:05:06.789012+00:00"
    (customer_id,) = sandbox.control.create_customers([{"name": "Hidden Time AG"}], moment)
    listed = api.get("/v1/sales/customers", params={"names": "Hidden Time AG"}).text
    single = api.get(f"/v1/sales/customers/{customer_id}").text
    for text in (listed, single):
        assert "2031" not in text
        assert "created" not in text.lower()


def test_an_unencoded_plus_in_created_after_gets_a_hint(sandbox: SandboxServer, api: Api) -> None:
    response = api.get("/v1/sales/customers?createdAfter=2022-06-01T00:00:00+00:00")
    assert response.status_code == 400
    assert "%2B" in response.json()["errorDescription"]


def test_unknown_query_parameters_are_refused_by_name(api: Api) -> None:
    response = api.get("/v1/sales/customers", params={"created_after": "2022-01-01"})
    assert response.status_code == 400
    assert "created_after" in response.json()["errorDescription"]
    assert api.get("/v1/sales/customers/1", params={"limit": 5}).status_code == 400
