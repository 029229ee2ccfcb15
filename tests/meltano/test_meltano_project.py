"""meltano.yml under the real Meltano: settings, discovery, and `meltano run` end to end."""

from __future__ import annotations

import json
import subprocess
import uuid

import duckdb
import pytest

pytest.importorskip("tap_equipme.tap", reason="TEMPORARY: tap-equipme not landed yet")

pytestmark = pytest.mark.slow

NEW_CUSTOMERS = [
    {"name": "Lyon Charpente SARL", "customerNumber": "MEL-1", "active": True},
    {"name": "Göteborg Bygg AB", "customerNumber": "MEL-2", "active": True},
]


def tap_settings_from_about() -> set[str]:
    about = subprocess.run(
        ["tap-equipme", "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(about.stdout)["settings"]["properties"])


def test_meltano_yml_declares_every_tap_setting_and_redacts_the_key(meltano, api_key):
    declared = meltano.run(
        "config", "list", "tap-equipme", "--all", env={"TAP_EQUIPME_API_KEY": api_key}
    )
    for setting in tap_settings_from_about():
        assert f"\n{setting} [env: TAP_EQUIPME_{setting.upper()}]" in f"\n{declared.stdout}", (
            setting
        )
    assert api_key not in declared.stdout + declared.stderr
    assert "api_key [env: TAP_EQUIPME_API_KEY] current value: (redacted)" in declared.stdout


def test_meltano_invoke_discover_lists_both_streams(meltano, sandbox, api_key):
    env = {"TAP_EQUIPME_API_KEY": api_key, "TAP_EQUIPME_API_URL": sandbox.base_url}
    proc = meltano.run("invoke", "tap-equipme", "--discover", env=env)
    catalog = json.loads(proc.stdout)
    assert {s["tap_stream_id"] for s in catalog["streams"]} == {"customers", "customer_metadata"}
    assert api_key not in proc.stdout + proc.stderr


def test_meltano_run_lands_the_sandbox_then_exactly_the_new_customers(
    meltano, sandbox, api_key, tmp_path, landed
):
    warehouse = tmp_path / "meltano.duckdb"
    env = {
        "TAP_EQUIPME_API_KEY": api_key,
        "TAP_EQUIPME_API_URL": sandbox.base_url,
        "TARGET_EQUIPME_PATH": str(warehouse),
    }
    suffix = uuid.uuid4().hex[:8]  # a state id of this test's own
    run = ("run", "--state-id-suffix", suffix, "tap-equipme", "target-equipme")

    first = meltano.run(*run, env=env)
    assert landed.differences("duckdb", warehouse, sandbox.control.snapshot()) == []

    new_ids = sandbox.control.create_customers(NEW_CUSTOMERS)
    sandbox.control.clear_stats()
    second = meltano.run(*run, env=env)
    assert landed.differences("duckdb", warehouse, sandbox.control.snapshot()) == []
    assert any("createdAfter=" in q for q in sandbox.control.stats()["queries"])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        inserted = con.execute(
            "SELECT rows_inserted FROM _equipme_loads WHERE stream = 'customers' "
            "ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    assert inserted == (len(new_ids),)
    state = meltano.run("state", "get", f"dev:tap-equipme-to-target-equipme:{suffix}")
    bookmark = json.loads(state.stdout)["singer_state"]["bookmarks"]["customers"]
    assert bookmark["replication_key_value"]
    for proc in (first, second, state):
        assert api_key not in proc.stdout + proc.stderr
