"""Full syncs over real HTTP against the sandbox: pagination, drift, metadata."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import pytest

from tap_equipme.sandbox import SandboxServer


def _ids(records: list[dict[str, Any]]) -> list[int]:
    return [record["id"] for record in records]


def _list_queries(sandbox: SandboxServer) -> list[dict[str, list[str]]]:
    return [parse_qs(query) for query in sandbox.control.stats()["queries"]]


@pytest.mark.parametrize(
    ("customers", "page_size"),
    [(0, 5), (1, 5), (5, 5), (6, 5), (23, 5), (7, 1), (40, 1000)],
)
def test_every_customer_is_emitted_exactly_once_whatever_the_page_edges(
    sandbox, config, run_tap, customers, page_size
):
    sandbox.control.reset(customers=customers, seed=3)
    run = run_tap({**config, "page_size": page_size})

    expected = sorted(c["id"] for c in sandbox.control.snapshot()["customers"])
    emitted = _ids(run.records("customers"))
    assert sorted(emitted) == expected
    assert len(emitted) == len(set(emitted))


@pytest.mark.parametrize(("customers", "page_size"), [(5, 5), (6, 5), (23, 5), (0, 5)])
def test_pagination_never_requests_past_total(sandbox, config, run_tap, customers, page_size):
    sandbox.control.reset(customers=customers, seed=3)
    # Incremental: one pass (change capture certifies its listing with a second one).
    run_tap({**config, "page_size": page_size, "sync_mode": "incremental"})

    queries = _list_queries(sandbox)
    list_queries = [q for q in queries if "offset" in q]
    assert list_queries, "no list request seen"
    for query in list_queries:
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        assert offset == 0 or offset < customers
        assert limit <= 1000
    # One full page of 5 customers: exactly one request.
    if customers <= page_size:
        assert len(list_queries) == 1


@pytest.mark.parametrize("href_style", ["noslash", "slash"])
def test_hrefs_with_and_without_leading_slash_and_a_path_prefix_in_api_url(
    href_style, api_key, run_tap
):
    with SandboxServer(customers=12, seed=2, api_key=api_key, port=0, href_style=href_style) as srv:
        config = {"api_key": api_key, "api_url": srv.base_url + "/", "page_size": 5}
        run = run_tap(config)
        expected = sorted(c["id"] for c in srv.control.snapshot()["customers"])
    assert sorted(_ids(run.records("customers"))) == expected


def test_customer_records_match_what_the_api_serves(sandbox, config, run_tap):
    run = run_tap(config)

    snapshot = {c["id"]: c for c in sandbox.control.snapshot()["customers"]}
    records = run.records("customers")
    assert len(records) == len(snapshot)
    for record in records:
        assert record == snapshot[record["id"]]


def test_metadata_is_emitted_for_every_customer_with_its_id(sandbox, config, run_tap):
    run = run_tap(config)

    snapshot = sandbox.control.snapshot()
    expected = sorted(
        (int(customer_id), item["key"], item.get("value"))
        for customer_id, items in snapshot["metadata"].items()
        for item in items
    )
    emitted = sorted(
        (r["customer_id"], r["key"], r.get("value")) for r in run.records("customer_metadata")
    )
    assert emitted == expected
    assert expected, "the default data set should have metadata"
    keys = Counter((r["customer_id"], r["key"]) for r in run.records("customer_metadata"))
    assert max(keys.values()) == 1


@pytest.mark.parametrize(("insert", "delete"), [(7, 0), (0, 7), (5, 5), (30, 3)])
def test_drift_while_paging_loses_and_duplicates_nothing(sandbox, config, run_tap, insert, delete):
    sandbox.control.reset(customers=120, seed=5)
    before = {c["id"] for c in sandbox.control.snapshot()["customers"]}
    sandbox.control.schedule_drift(after_requests=3, insert=insert, delete=delete)

    run = run_tap({**config, "page_size": 10})

    after = sandbox.control.snapshot()
    assert sandbox.control.stats()["drift_applied"] >= 1
    now = {c["id"] for c in after["customers"]}
    existed_throughout = before & now
    emitted = _ids(run.records("customers"))
    assert len(emitted) == len(set(emitted)), "an id was emitted twice"
    assert existed_throughout <= set(emitted), "a customer that existed all along was skipped"
    assert set(emitted) <= before | now


def test_repeated_drift_still_ends_with_a_complete_listing(sandbox, config, run_tap):
    sandbox.control.reset(customers=150, seed=9)
    before = {c["id"] for c in sandbox.control.snapshot()["customers"]}
    sandbox.control.schedule_drift(after_requests=2, insert=2, delete=2, repeat=True)

    run = run_tap({**config, "page_size": 20})

    now = {c["id"] for c in sandbox.control.snapshot()["customers"]}
    emitted = _ids(run.records("customers"))
    assert len(emitted) == len(set(emitted))
    assert before & now <= set(emitted)


def _catalog(config) -> dict[str, Any]:
    from tap_equipme.tap import TapEquipme

    return TapEquipme(config=config, parse_env_config=False).catalog_dict


def test_a_deselected_property_is_left_out_of_the_records(sandbox, config, run_tap):
    catalog = _catalog(config)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == ["properties", "contactEmail"]:
                entry["metadata"]["selected"] = False
    run = run_tap(config, catalog=catalog)

    records = run.records("customers")
    assert records
    assert all("contactEmail" not in record for record in records)
    assert all("contactName" in record for record in records)


def test_a_deselected_metadata_stream_is_not_requested(sandbox, config, run_tap):
    catalog = _catalog(config)
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] == "customer_metadata":
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = False
    run = run_tap(config, catalog=catalog)

    assert run.records("customers")
    assert run.records("customer_metadata") == []
    assert (
        "GET /v1/sales/customers/{customerId}/metadata" not in sandbox.control.stats()["by_route"]
    )


def test_with_unknown_fields_drop_fields_the_spec_does_not_declare_are_dropped(
    stub_api, api_key, run_tap, caplog
):
    item = {"id": 1, "name": "A", "self": {"href": "v1/sales/customers/1"}, "brandNew": 42}
    stub_api.reply(200, {"items": [item], "total": 1, "self": {"href": "v1/sales/customers"}})
    catalog = _catalog({"api_key": api_key})
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] == "customer_metadata":
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = False

    config = {"api_key": api_key, "api_url": stub_api.base_url, "unknown_fields": "drop"}
    run = run_tap(config, catalog=catalog)

    assert run.records("customers") == [{k: v for k, v in item.items() if k != "brandNew"}]
    assert "brandNew" in caplog.text


def test_filter_settings_become_api_query_parameters(sandbox, config, run_tap):
    snapshot = sandbox.control.snapshot()["customers"]
    chosen = [c for c in snapshot if c["active"]][:2]
    names = [c["name"] for c in chosen]

    run = run_tap({**config, "active": True, "names": names})

    assert sorted(r["id"] for r in run.records("customers")) == sorted(c["id"] for c in chosen)
    first_query = parse_qs(sandbox.control.stats()["queries"][0])
    assert first_query["active"] == ["true"]
    assert sorted(first_query["names"]) == sorted(names)


def test_customer_numbers_filter_is_passed_as_repeated_parameters(sandbox, config, run_tap):
    numbered = [c for c in sandbox.control.snapshot()["customers"] if c.get("customerNumber")][:3]
    assert numbered, "the data set should have customer numbers"
    numbers = [c["customerNumber"] for c in numbered]

    run = run_tap({**config, "customer_numbers": numbers})

    assert sorted(r["id"] for r in run.records("customers")) == sorted(c["id"] for c in numbered)
    assert sorted(parse_qs(sandbox.control.stats()["queries"][0])["customerNumbers"]) == sorted(
        numbers
    )
