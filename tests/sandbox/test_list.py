from __future__ import annotations

from .helpers import Api


def test_first_page_has_next_and_self_but_no_previous(api: Api) -> None:
    page = api.list(limit=50)
    assert page["total"] == 200
    assert len(page["items"]) == 50
    assert page["self"]["href"] == "v1/sales/customers?offset=0&limit=50"
    assert page["next"]["href"] == "v1/sales/customers?offset=50&limit=50"
    assert "previous" not in page


def test_unsorted_listing_is_by_id(api: Api) -> None:
    ids = [c["id"] for c in api.all_customers(page_size=37)]
    assert ids == sorted(ids)
    assert len(ids) == 200
