"""equipme-sync end to end: the real tap and target against the sandbox over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tap_equipme.pipeline.stored_state import bookmark_of
from tap_equipme.pipeline.sync import SyncError, run_sync
from tap_equipme.warehouse.state import read_state

NEW_CUSTOMERS = [
    {"name": "Aalborg Nybyg ApS", "customerNumber": "NEW-1", "active": True},
    {"name": "Mühlenbau Zürich AG", "customerNumber": "NEW-2", "active": False},
    {"name": "Zaragoza Obras S.L.", "customerNumber": "NEW-3", "active": True},
]


def sync(tap_config, path: Path, destination: str = "duckdb", **kwargs):
    return run_sync(tap_config, destination, path, progress_out=None, **kwargs)


@pytest.mark.parametrize("destination", ["duckdb", "parquet"])
def test_first_sync_lands_exactly_the_sandbox_customers_and_metadata(
    tap_config, sandbox, tmp_path, landed, destination
):
    path = tmp_path / ("wh.duckdb" if destination == "duckdb" else "wh")
    summary = sync(tap_config, path, destination)
    snapshot = sandbox.control.snapshot()
    assert landed.differences(destination, path, snapshot) == []
    assert summary.status == "succeeded"
    assert summary.records["customers"] == len(snapshot["customers"])
    assert summary.rows("customers") == len(snapshot["customers"])
    assert summary.bookmark_before is None
    assert summary.bookmark_after is not None
    assert bookmark_of(read_state(destination, path)) == summary.bookmark_after


def test_second_sync_asks_created_after_and_adds_exactly_the_new_customers(
    tap_config, sandbox, tmp_path, landed
):
    path = tmp_path / "wh.duckdb"
    tap_config = {**tap_config, "sync_mode": "incremental"}  # the createdAfter-only mode
    first = sync(tap_config, path)
    sandbox.control.clear_stats()
    new_ids = sandbox.control.create_customers(NEW_CUSTOMERS)
    second = sync(tap_config, path)
    queries = sandbox.control.stats()["queries"]
    assert queries, "the tap listed customers"
    assert all("createdAfter=" in q for q in queries if "offset=" in q or "limit=" in q)
    assert second.bookmark_before == first.bookmark_after
    assert second.records["customers"] == len(new_ids)
    assert second.rows("customers") == len(new_ids)
    assert second.rows("customers", "rows_updated") == 0
    assert landed.differences("duckdb", path, sandbox.control.snapshot()) == []


def test_cli_prints_a_summary_and_never_the_key(tap_config, sandbox, tmp_path, api_key):
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({k: v for k, v in tap_config.items() if k != "api_key"}))
    env = {**os.environ, "TAP_EQUIPME_API_KEY": api_key}
    proc = subprocess.run(
        ["equipme-sync", "--path", str(tmp_path / "wh.duckdb"), "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "succeeded" in proc.stdout
    assert "customers" in proc.stdout
    assert "customer_metadata" in proc.stdout
    assert "bookmark (createdAfter): None ->" in proc.stdout
    assert api_key not in proc.stdout + proc.stderr


def test_cli_without_a_key_is_one_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_EQUIPME_")}
    proc = subprocess.run(
        ["equipme-sync", "--path", str(tmp_path / "wh.duckdb")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "'api_key'" in proc.stderr
    assert "TAP_EQUIPME_API_KEY" in proc.stderr


def test_api_outage_fails_the_run_and_keeps_the_bookmark(tap_config, sandbox, tmp_path, api_key):
    path = tmp_path / "wh.duckdb"
    first = sync(tap_config, path)
    sandbox.control.create_customers(NEW_CUSTOMERS)
    sandbox.control.set_faults(outage_after=1)
    with pytest.raises(SyncError, match="the tap failed") as raised:
        sync({**tap_config, "max_retries": 1}, path)
    assert api_key not in str(raised.value)
    assert bookmark_of(read_state("duckdb", path)) == first.bookmark_after
    assert raised.value.summary is not None
    assert raised.value.summary.bookmark_after == first.bookmark_after


def test_wrong_key_fails_with_the_taps_message_redacted(tap_config, sandbox, tmp_path):
    wrong = "wrong-key-0123456789-SECRET"
    with pytest.raises(SyncError, match="the tap failed") as raised:
        sync({**tap_config, "api_key": wrong}, tmp_path / "wh.duckdb")
    assert wrong not in str(raised.value)
    assert read_state("duckdb", tmp_path / "wh.duckdb") is None
