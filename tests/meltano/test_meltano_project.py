"""meltano.yml under the real Meltano: settings, discovery, and `meltano run` end to end."""

from __future__ import annotations

import json
import re
import subprocess
import uuid

import duckdb
import pytest

pytestmark = pytest.mark.slow

NEW_CUSTOMERS = [
    {"name": "Lyon Charpente SARL", "customerNumber": "MEL-1", "active": True},
    {"name": "Göteborg Bygg AB", "customerNumber": "MEL-2", "active": True},
]


def settings_from_about(executable: str) -> set[str]:
    about = subprocess.run(
        [executable, "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(about.stdout)["settings"]["properties"])


@pytest.mark.parametrize(
    ("plugin", "prefix"),
    [("tap-equipme", "TAP_EQUIPME"), ("target-duckdb-lake", "TARGET_DUCKDB_LAKE")],
)
def test_meltano_yml_declares_exactly_the_plugins_settings(meltano, plugin, prefix):
    listed = meltano.run("config", "list", plugin, "--all").stdout
    declared = set(re.findall(rf"^(\w+) \[env: {prefix}_\w+\]", listed, re.MULTILINE))
    assert declared == settings_from_about(plugin)


def test_meltano_config_shows_the_api_key_redacted(meltano, api_key):
    listed = meltano.run("config", "list", "tap-equipme", env={"TAP_EQUIPME_API_KEY": api_key})
    assert api_key not in listed.stdout + listed.stderr
    assert "api_key [env: TAP_EQUIPME_API_KEY] current value: (redacted)" in listed.stdout


def test_meltano_invoke_discover_lists_both_streams(meltano, sandbox, api_key):
    env = {"TAP_EQUIPME_API_KEY": api_key, "TAP_EQUIPME_API_URL": sandbox.base_url}
    proc = meltano.run("invoke", "tap-equipme", "--discover", env=env)
    catalog = json.loads(proc.stdout)
    assert {s["tap_stream_id"] for s in catalog["streams"]} == {
        "customers",
        "customer_metadata",
        "customer_metadata_reads",
    }
    assert api_key not in proc.stdout + proc.stderr


def test_meltano_run_lands_the_sandbox_then_exactly_the_new_customers(
    meltano, sandbox, api_key, tmp_path, landed
):
    warehouse = tmp_path / "meltano.duckdb"
    env = {
        "TAP_EQUIPME_API_KEY": api_key,
        "TAP_EQUIPME_API_URL": sandbox.base_url,
        "TARGET_DUCKDB_LAKE_PATH": str(warehouse),
    }
    suffix = uuid.uuid4().hex[:8]  # a state id of this test's own
    run = ("run", "--state-id-suffix", suffix, "tap-equipme", "target-duckdb-lake")

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
        ).fetchall()[0]
    assert inserted == (len(new_ids),)
    state = meltano.run("state", "get", f"dev:tap-equipme-to-target-duckdb-lake:{suffix}")
    bookmark = json.loads(state.stdout)["singer_state"]["bookmarks"]["customers"]
    assert bookmark["replication_key_value"]
    for proc in (first, second, state):
        assert api_key not in proc.stdout + proc.stderr
