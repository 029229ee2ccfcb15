"""Error paths over real HTTP: what is retried, what stops the tap, what the messages say."""

from __future__ import annotations

import logging

import pytest

from tap_equipme.errors import (
    EquipmeAccessError,
    EquipmeAuthError,
    EquipmeError,
    EquipmeRequestError,
    EquipmeRetriesExhausted,
)

LIST_ROUTE = "GET /v1/sales/customers"
METADATA_ROUTE = "GET /v1/sales/customers/{customerId}/metadata"


def test_401_stops_at_once_and_names_the_setting_not_the_key(sandbox, config, run_tap, api_key):
    with pytest.raises(EquipmeAuthError) as caught:
        run_tap({**config, "api_key": "wrong-key-123"})

    message = str(caught.value)
    assert "`api_key`" in message
    assert "401" in message
    assert "wrong-key-123" not in message
    assert api_key not in message
    assert sandbox.control.stats()["requests"] == 1, "a 401 must not be retried"


def test_400_stops_with_error_code_and_description(stub_api, api_key, run_tap):
    stub_api.reply(
        400, {"errorCode": "BadRequest", "errorDescription": "limit too large", "data": None}
    )
    with pytest.raises(EquipmeRequestError) as caught:
        run_tap({"api_key": api_key, "api_url": stub_api.base_url, "backoff_factor": 0.001})

    message = str(caught.value)
    assert "400" in message
    assert "errorCode='BadRequest'" in message
    assert "errorDescription='limit too large'" in message
    assert len(stub_api.paths) == 1, "a 400 must not be retried"


def test_a_corrupt_bookmark_in_the_state_is_a_clear_error_before_any_request(
    sandbox, config, run_tap
):
    state = {
        "bookmarks": {
            "customers": {"replication_key": "createdAfter", "replication_key_value": "not-a-date"}
        }
    }
    with pytest.raises(EquipmeError, match="replication_key_value"):
        run_tap(config, state)
    assert sandbox.control.stats()["requests"] == 0


def test_403_on_the_list_stops_with_a_clear_message(stub_api, api_key, run_tap):
    stub_api.reply(403, {"errorCode": "Forbidden", "errorDescription": "No access", "data": None})
    with pytest.raises(EquipmeAccessError) as caught:
        run_tap({"api_key": api_key, "api_url": stub_api.base_url, "backoff_factor": 0.001})
    assert "403" in str(caught.value)
    assert "`api_key`" in str(caught.value)
    assert len(stub_api.paths) == 1


@pytest.mark.parametrize(
    "body",
    [b'{"items": [', b"[]", b'{"total": 3}', b'{"items": [], "total": "3"}', b"<html>oops</html>"],
)
def test_a_body_that_is_not_a_list_page_is_retried_then_fails(stub_api, api_key, run_tap, body):
    stub_api.reply(200, body)
    config = {"api_key": api_key, "api_url": stub_api.base_url, "backoff_factor": 0.001}
    with pytest.raises(EquipmeRetriesExhausted) as caught:
        run_tap({**config, "max_retries": 2})
    assert "/v1/sales/customers" in str(caught.value)
    assert len(stub_api.paths) == 3


def test_the_api_key_travels_only_in_the_header(stub_api, api_key, run_tap):
    stub_api.reply(200, {"items": [], "total": 0, "self": {"href": "v1/sales/customers"}})
    run = run_tap({"api_key": api_key, "api_url": stub_api.base_url})
    assert stub_api.headers[0]["X-API-KEY"] == api_key
    assert all(api_key not in path for path in stub_api.paths)
    assert api_key not in "\n".join(run.lines)


def test_a_link_to_another_host_is_refused(stub_api, api_key, run_tap, monkeypatch):
    from tap_equipme.streams import CustomersStream

    monkeypatch.setattr(CustomersStream, "path", "https://evil.example.com/v1/sales/customers")
    stub_api.reply(200, {"items": [], "total": 0})
    with pytest.raises(EquipmeRequestError, match="another host"):
        run_tap({"api_key": api_key, "api_url": stub_api.base_url})
    assert stub_api.paths == []


def test_deleted_customers_metadata_is_skipped_and_counted(
    sandbox, config, run_tap, caplog, monkeypatch
):
    from tap_equipme.metadata_streams import CustomerMetadataStream

    snapshot = sandbox.control.snapshot()
    doomed = [c["id"] for c in snapshot["customers"][:3]]
    original = CustomerMetadataStream._parent_ids

    def delete_then_list(self):
        # Customers vanish after the listing, before their metadata is fetched.
        ids = list(original(self))
        sandbox.control.delete_customers(doomed)
        return ids

    monkeypatch.setattr(CustomerMetadataStream, "_parent_ids", delete_then_list)
    with caplog.at_level(logging.INFO):
        run = run_tap({**config, "metadata_concurrency": 4})

    assert len(run.records("customers")) == len(snapshot["customers"])
    assert not {r["customer_id"] for r in run.records("customer_metadata")} & set(doomed)
    assert "skipped 3 customer(s)" in caplog.text
    assert run.bookmark is not None


@pytest.mark.parametrize("retry_after", ["seconds", "http-date", "none"])
def test_429_is_waited_out_and_retried(sandbox, config, run_tap, retry_after):
    # 40 customers + their metadata: about 45 requests, at 20/s with a 20-request bucket.
    sandbox.control.reset(customers=40, seed=1)
    sandbox.control.set_faults(rate_limit_per_s=20, retry_after=retry_after, retry_after_seconds=1)

    # Retry-After 1 s becomes 50 ms: the bucket refills one request in that time.
    run = run_tap({**config, "page_size": 20, "metadata_concurrency": 4, "backoff_factor": 0.05})

    stats = sandbox.control.stats()
    assert stats["by_status"].get("429", 0) > 0, "the fault did not trigger"
    assert len(run.records("customers")) == len(sandbox.control.snapshot()["customers"])


def test_429_does_not_use_the_5xx_retry_budget(sandbox, config, run_tap):
    sandbox.control.reset(customers=40, seed=1)
    sandbox.control.set_faults(rate_limit_per_s=20, retry_after_seconds=0)
    run = run_tap(
        {
            **config,
            "max_retries": 0,
            "page_size": 10,
            "metadata_concurrency": 4,
            "backoff_factor": 0.1,
        }
    )
    assert sandbox.control.stats()["by_status"].get("429", 0) > 0
    assert len(run.records("customers")) == len(sandbox.control.snapshot()["customers"])


def test_a_never_ending_429_storm_ends_in_a_clear_failure(sandbox, config, run_tap):
    sandbox.control.set_faults(rate_limit_per_s=0.001, retry_after_seconds=1)
    with pytest.raises(EquipmeRetriesExhausted, match="429"):
        run_tap({**config, "max_retries": 2, "backoff_factor": 0.01})
    assert sandbox.control.stats()["by_status"].get("429", 0) >= 20


@pytest.mark.parametrize(
    "fault",
    [
        {"error_rate": 0.3},
        {"drop_rate": 0.3},
        {"truncate_rate": 0.3},
    ],
)
def test_transient_failures_are_retried_until_the_sync_completes(sandbox, config, run_tap, fault):
    sandbox.control.set_faults(**fault, seed=7)

    run = run_tap({**config, "page_size": 25, "max_retries": 8})

    assert sum(sandbox.control.stats()["faults_injected"].values()) > 0
    snapshot = sandbox.control.snapshot()
    assert sorted(r["id"] for r in run.records("customers")) == sorted(
        c["id"] for c in snapshot["customers"]
    )
    expected_metadata = sum(len(items) for items in snapshot["metadata"].values())
    assert len(run.records("customer_metadata")) == expected_metadata


def test_timeouts_are_retried(sandbox, config, run_tap):
    sandbox.control.set_faults(slow_rate=0.2, slow_seconds=2, seed=3, only_paths="/customers$")
    run = run_tap({**config, "request_timeout": 0.3, "page_size": 50, "max_retries": 6})
    assert len(run.records("customers")) == len(sandbox.control.snapshot()["customers"])


def test_persistent_5xx_fails_naming_path_and_last_status(sandbox, config, run_tap):
    sandbox.control.set_faults(error_rate=1.0)
    with pytest.raises(EquipmeRetriesExhausted) as caught:
        run_tap({**config, "max_retries": 2})

    message = str(caught.value)
    assert "/v1/sales/customers" in message
    assert "HTTP 50" in message
    assert "3 attempts" in message
    assert sandbox.control.stats()["requests"] == 3


def test_nothing_listening_at_api_url_fails_naming_the_setting(api_key, run_tap):
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {"api_key": api_key, "api_url": f"http://127.0.0.1:{port}", "backoff_factor": 0.001}
    with pytest.raises(EquipmeRetriesExhausted) as caught:
        run_tap({**config, "max_retries": 1})
    assert "`api_url`" in str(caught.value)
    assert "ConnectionError" in str(caught.value)
