"""Incremental replication on `createdAfter`, full refresh, interrupted runs, state size."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

from tap_equipme.errors import EquipmeRetriesExhausted


@pytest.fixture
def config(config):
    """This module tests the createdAfter-only mode (change capture: test_change_capture.py)."""
    return {**config, "sync_mode": "incremental"}


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _new_customer(name: str) -> dict:
    return {"name": name, "active": True, "language": "en"}


def _created_after_queries(sandbox) -> list[str]:
    values = []
    for query in sandbox.control.stats()["queries"]:
        values.extend(parse_qs(query).get("createdAfter", []))
    return values


def test_first_run_reads_everything_and_bookmarks_sync_start_minus_lookback(
    sandbox, config, run_tap
):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    run = run_tap({**config, "lookback": 10})
    after = datetime.now(timezone.utc)

    assert len(run.records("customers")) == len(sandbox.control.snapshot()["customers"])
    assert _created_after_queries(sandbox) == []
    bookmark = _parse(run.bookmark)
    assert before - timedelta(minutes=10, seconds=1) <= bookmark <= after - timedelta(minutes=10)


def test_second_incremental_run_emits_only_new_customers_and_their_metadata(
    sandbox, config, run_tap
):
    first = run_tap({**config, "lookback": 0})
    assert first.bookmark

    new_ids = sandbox.control.create_customers(
        [_new_customer("Aaron New Customer AG"), _new_customer("Zeta New Customer GmbH")]
    )
    sandbox.control.clear_stats()
    second = run_tap({**config, "lookback": 0}, state=first.final_state)

    assert _created_after_queries(sandbox)
    assert set(_created_after_queries(sandbox)) == {first.bookmark}
    assert sorted(r["id"] for r in second.records("customers")) == sorted(new_ids)
    metadata_customers = {r["customer_id"] for r in second.records("customer_metadata")}
    assert metadata_customers <= set(new_ids)
    by_route = sandbox.control.stats()["by_route"]
    assert by_route.get("GET /v1/sales/customers/{customerId}/metadata") == len(new_ids)
    assert _parse(second.bookmark) >= _parse(first.bookmark)


def test_start_date_is_the_first_runs_created_after(sandbox, config, run_tap):
    start = datetime.now(timezone.utc) - timedelta(minutes=1)
    created_at = datetime.now(timezone.utc).isoformat()
    new_ids = sandbox.control.create_customers([_new_customer("Fresh Start KG")], created_at)

    run = run_tap({**config, "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ")})

    assert _created_after_queries(sandbox) == [start.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert [r["id"] for r in run.records("customers")] == new_ids


def test_full_refresh_ignores_the_bookmark_and_emits_activate_version(sandbox, config, run_tap):
    old_state = {
        "bookmarks": {
            "customers": {
                "replication_key": "createdAfter",
                "replication_key_value": "2999-01-01T00:00:00Z",
            }
        }
    }
    run = run_tap({**config, "full_refresh": True, "start_date": "2999-01-01T00:00:00Z"}, old_state)

    # The old bookmark and start_date are ignored; the one createdAfter query is for the next
    # run's one-pass check (`listing_check`), at the bookmark this run writes.
    assert _created_after_queries(sandbox) == [run.bookmark]
    assert len(run.records("customers")) == len(sandbox.control.snapshot()["customers"])
    versions = {(m["stream"], m["version"]) for m in run.of_type("ACTIVATE_VERSION")}
    assert {stream for stream, _ in versions} == {
        "customers",
        "customer_metadata",
        "customer_metadata_reads",
    }
    record_versions = {m.get("version") for m in run.of_type("RECORD")}
    assert record_versions <= {version for _, version in versions}
    assert run.bookmark is not None
    assert run.bookmark < "2999"


def test_full_refresh_repeats_activate_version_after_each_streams_last_record(
    sandbox, config, run_tap
):
    run = run_tap({**config, "full_refresh": True})

    for stream in ("customers", "customer_metadata", "customer_metadata_reads"):
        positions = [
            index
            for index, message in enumerate(run.messages)
            if message.get("stream") == stream and message["type"] in ("RECORD", "ACTIVATE_VERSION")
        ]
        kinds = [run.messages[index]["type"] for index in positions]
        assert kinds[0] == "ACTIVATE_VERSION"
        assert kinds[-1] == "ACTIVATE_VERSION"
        assert kinds.count("ACTIVATE_VERSION") == 2
        versions = {run.messages[i]["version"] for i in positions}
        assert len(versions) == 1


def test_full_refreshes_in_the_same_second_get_different_versions(sandbox, config, run_tap):
    # singer-sdk's own version is the second the tap started: two refreshes within one second
    # would share it, and the target could not soft-delete what only the first one had.
    versions = []
    for _ in range(2):
        run = run_tap({**config, "full_refresh": True})
        versions.append({m["version"] for m in run.of_type("ACTIVATE_VERSION")})
        assert {m.get("version") for m in run.of_type("RECORD")} == versions[-1]
    assert all(len(run_versions) == 1 for run_versions in versions)
    first, second = (next(iter(v)) for v in versions)
    assert first != second
    assert first > 10**12, "versions are milliseconds since the epoch"


def test_incremental_run_emits_no_activate_version(sandbox, config, run_tap):
    run = run_tap(config)
    assert run.of_type("ACTIVATE_VERSION") == []


def test_interrupted_run_keeps_the_old_bookmark(sandbox, config, run_tap, last_output):
    old_state = {
        "bookmarks": {
            "customers": {
                "replication_key": "createdAfter",
                "replication_key_value": "2000-01-01T00:00:00Z",
            }
        }
    }
    sandbox.control.set_faults(outage_after=3)
    with pytest.raises(EquipmeRetriesExhausted, match="503"):
        run_tap({**config, "page_size": 20, "max_retries": 1}, old_state)

    partial = last_output()
    assert partial.states, "the tap writes the incoming state first"
    for state in partial.states:
        value = state["bookmarks"]["customers"].get("replication_key_value")
        assert value == "2000-01-01T00:00:00Z"


def test_interrupted_metadata_keeps_the_old_bookmark(sandbox, config, run_tap, last_output):
    sandbox.control.set_faults(outage_after=20, only_paths="/metadata$")
    with pytest.raises(EquipmeRetriesExhausted):
        run_tap({**config, "max_retries": 1, "metadata_concurrency": 2})

    partial = last_output()
    assert partial.records("customers")
    assert all(
        "replication_key_value" not in state["bookmarks"].get("customers", {})
        for state in partial.states
    )


def test_state_size_does_not_grow_with_customers(sandbox, config, run_tap):
    sizes = {}
    for customers in (50, 2000):
        sandbox.control.reset(customers=customers, seed=4)
        run = run_tap(config)
        assert len(run.records("customers")) == customers
        assert "partitions" not in json.dumps(run.final_state)
        # The run's request counters (`run_stats`) are O(1) too, but their digits vary.
        state = {k: v for k, v in run.final_state.items() if k != "run_stats"}
        sizes[customers] = len(json.dumps(state))
    assert sizes[50] == sizes[2000]
