"""The `tap-equipme` executable: --about, --discover (snapshot of the schemas), --test."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).parent / "snapshots" / "discover_catalog.json"
# Set to 1 to rewrite the snapshot after an intended schema change (then review the diff).
UPDATE = os.environ.get("UPDATE_TAP_SNAPSHOTS") == "1"


def _tap(*args: str, config: dict | None = None, tmp_path: Path | None = None):
    command = ["tap-equipme", *args]
    if config is not None and tmp_path is not None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        command += ["--config", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_about_markdown_lists_every_setting():
    result = _tap("--about", "--format=markdown")

    assert result.returncode == 0, result.stderr
    for setting in (
        "api_key",
        "api_url",
        "start_date",
        "page_size",
        "active",
        "customer_numbers",
        "names",
        "metadata_concurrency",
        "request_timeout",
        "max_retries",
        "lookback",
        "full_refresh",
        "user_agent",
    ):
        assert f"| {setting} |" in result.stdout
    assert "activate-version" in result.stdout


def test_about_json_marks_the_api_key_secret():
    result = _tap("--about", "--format=json")
    about = json.loads(result.stdout)
    assert about["settings"]["properties"]["api_key"]["secret"] is True
    assert "api_key" in about["settings"]["required"]


def test_discover_output_matches_the_committed_snapshot(tmp_path, api_key):
    # Discovery needs no API access; the URL is never contacted.
    config = {"api_key": api_key, "api_url": "http://127.0.0.1:9"}
    result = _tap("--discover", config=config, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    catalog = json.loads(result.stdout)
    if UPDATE:
        SNAPSHOT.write_text(json.dumps(catalog, indent=2, sort_keys=True) + "\n")
    assert catalog == json.loads(SNAPSHOT.read_text()), (
        "the discovered schema changed; if intended, rerun with UPDATE_TAP_SNAPSHOTS=1 and "
        "review the snapshot diff"
    )


def test_discovered_streams_have_the_contracted_keys(tmp_path, api_key):
    result = _tap("--discover", config={"api_key": api_key}, tmp_path=tmp_path)
    streams = {s["tap_stream_id"]: s for s in json.loads(result.stdout)["streams"]}

    assert set(streams) == {"customers", "customer_metadata", "customer_metadata_reads"}
    assert streams["customer_metadata_reads"]["key_properties"] == ["customer_id"]
    assert streams["customers"]["key_properties"] == ["id"]
    assert streams["customer_metadata"]["key_properties"] == ["customer_id", "key"]
    customer = streams["customers"]["schema"]["properties"]
    assert customer["referredBy"]["properties"]["referredOn"]["format"] == "date-time"
    assert "null" in customer["companyAddress"]["type"]
    assert None in customer["language"]["enum"]
    assert customer["id"]["type"] == "integer"
    metadata = streams["customer_metadata"]["schema"]["properties"]
    assert set(metadata) == {"customer_id", "key", "value", "scope", "self"}


def test_test_mode_connects_and_exits_zero(tmp_path, sandbox, api_key):
    result = _tap(
        "--test", config={"api_key": api_key, "api_url": sandbox.base_url}, tmp_path=tmp_path
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert sandbox.control.stats()["requests"] >= 1
    assert api_key not in result.stdout + result.stderr


@pytest.mark.parametrize("bad", [{"api_key": ""}, {"api_key": "k", "page_size": 5000}])
def test_test_mode_with_a_bad_config_fails(tmp_path, bad):
    result = _tap("--test", config=bad, tmp_path=tmp_path)
    assert result.returncode != 0


def test_the_api_key_is_in_no_output_even_at_debug_level_with_errors(tmp_path, sandbox, api_key):
    sandbox.control.reset(customers=30, seed=1)
    sandbox.control.set_faults(error_rate=0.2, rate_limit_per_s=50, seed=5)
    config = {
        "api_key": api_key,
        "api_url": sandbox.base_url,
        "page_size": 7,
        "backoff_factor": 0.01,
        "max_retries": 10,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        ["tap-equipme", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TAP_EQUIPME_LOGLEVEL": "DEBUG"},
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "DEBUG" in result.stderr
    assert sum(sandbox.control.stats()["faults_injected"].values()) > 0
    assert api_key not in result.stdout
    assert api_key not in result.stderr
