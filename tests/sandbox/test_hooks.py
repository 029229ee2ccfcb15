from __future__ import annotations

import pytest
import requests

from tap_equipme.sandbox import SandboxControlError, SandboxServer

from .helpers import Api


def test_reset_regenerates_a_data_set_of_the_given_size_and_seed(
    sandbox: SandboxServer, api: Api
) -> None:
    original = api.list(limit=5)["items"]
    sandbox.control.reset(customers=42, seed=9)
    other = api.list(limit=5)
    assert other["total"] == 42
    assert other["items"] != original
    sandbox.control.reset(customers=200, seed=1)
    assert api.list(limit=5)["items"] == original


def test_reset_forgets_changes_faults_stats_and_deletions(sandbox: SandboxServer, api: Api) -> None:
    sandbox.control.create_customers([{"name": "Temporary AG"}])
    sandbox.control.delete_customers([1])
    sandbox.control.set_faults(error_rate=1.0)
    sandbox.control.reset(customers=200, seed=1)
    assert sandbox.control.stats()["requests"] == 0
    page = api.list(limit=1)
    assert page["total"] == 200
    assert page["items"][0]["id"] == 1


def test_create_customers_at_a_creation_time(sandbox: SandboxServer, api: Api) -> None:
    ids = sandbox.control.create_customers(
        [{"name": "Früh GmbH"}, {"name": "Früh Zwei GmbH"}], created_at="2027-05-01T10:00:00Z"
    )
    assert ids == [201, 202]
    assert [c["id"] for c in api.all_customers(createdAfter="2027-05-01T09:59:59Z")] == ids
    assert api.all_customers(createdAfter="2027-05-01T10:00:00Z") == []
    created_at = sandbox.control.snapshot()["created_at"]
    assert created_at["201"] == "2027-05-01T10:00:00+00:00"


def test_create_customers_validates_bodies(sandbox: SandboxServer) -> None:
    with pytest.raises(SandboxControlError, match="name"):
        sandbox.control.create_customers([{"nome": "typo"}])


def test_delete_customers_reports_what_it_deleted(sandbox: SandboxServer, api: Api) -> None:
    assert sandbox.control.delete_customers([1, 2, 99999]) == [1, 2]
    assert sandbox.control.delete_customers([1]) == []
    assert api.list()["total"] == 198


def test_stats_count_requests_by_status_and_route_and_log_list_queries(
    sandbox: SandboxServer, api: Api
) -> None:
    api.get("/v1/sales/customers", params={"limit": 3, "sortBy": "name"})
    api.get("/v1/sales/customers/1")
    api.get("/v1/sales/customers/999999")
    api.get("/v1/sales/customers/1/metadata")
    stats = sandbox.control.stats()
    assert stats["requests"] == 4
    assert stats["by_status"] == {"200": 3, "404": 1}
    assert stats["by_route"] == {
        "GET /v1/sales/customers": 1,
        "GET /v1/sales/customers/{customerId}": 2,
        "GET /v1/sales/customers/{customerId}/metadata": 1,
    }
    assert stats["queries"] == ["limit=3&sortBy=name"]
    assert stats["max_concurrent"] == 1
    sandbox.control.clear_stats()
    assert sandbox.control.stats()["requests"] == 0


def test_snapshot_holds_live_customers_metadata_creation_times_and_deletions(
    sandbox: SandboxServer, api: Api
) -> None:
    sandbox.control.delete_customers([4])
    snapshot = sandbox.control.snapshot()
    ids = [c["id"] for c in snapshot["customers"]]
    assert ids == sorted(ids)
    assert len(ids) == 199
    assert 4 not in ids
    assert snapshot["deleted"] == [4]
    assert snapshot["customers"][0] == api.get("/v1/sales/customers/1").json()
    assert snapshot["metadata"]["1"] == api.get("/v1/sales/customers/1/metadata").json()
    assert set(snapshot["created_at"]) == {str(i) for i in ids}


def test_drift_inserts_and_deletes_among_pages_already_served(
    sandbox: SandboxServer, api: Api
) -> None:
    first = api.list(sortBy="name", limit=50)
    sandbox.control.reset(customers=200, seed=1)
    sandbox.control.schedule_drift(after_requests=1, insert=3, delete=2)
    served = api.list(sortBy="name", limit=50)
    assert served["items"] == first["items"]  # drift happens after the k-th answer
    last_served_name = served["items"][-1]["name"]
    after = api.all_customers(sortBy="name")
    assert len(after) == 201
    inserted = [c for c in after if c["id"] > 200]
    assert len(inserted) == 3
    assert all(c["name"] <= last_served_name for c in inserted)
    deleted = {c["id"] for c in served["items"]} - {c["id"] for c in after}
    assert len(deleted) == 2
    second = api.list(sortBy="name", offset=50, limit=50)
    assert second["items"][0] == served["items"][-1]  # offsets shifted forward by one
    assert sandbox.control.stats()["drift_applied"] == 1


def test_drift_waits_for_the_kth_list_request_and_can_repeat(
    sandbox: SandboxServer, api: Api
) -> None:
    sandbox.control.schedule_drift(after_requests=2, insert=1, repeat=True)
    totals = [api.list(limit=10, offset=10 * i)["total"] for i in range(6)]
    assert totals == [200, 200, 201, 201, 202, 202]


def test_unknown_hook_answers_404_and_bad_json_400(sandbox: SandboxServer) -> None:
    assert requests.get(f"{sandbox.base_url}/_sandbox/nope", timeout=5).status_code == 404
    response = requests.post(f"{sandbox.base_url}/_sandbox/reset", data=b"{", timeout=5)
    assert response.status_code == 400


def test_reset_with_prerender_serves_the_same_data(sandbox: SandboxServer, api: Api) -> None:
    lazily = api.all_customers()
    sandbox.control.reset(customers=200, seed=1, prerender=True)
    assert len(sandbox.store._json) == 200
    assert api.all_customers() == lazily
