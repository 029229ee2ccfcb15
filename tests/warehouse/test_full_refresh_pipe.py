"""End to end over real HTTP: `tap-equipme | target-duckdb-lake`, a full refresh cut short."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest


def _pipe(tmp_path: Path, tap_config: dict[str, Any], warehouse: Path) -> tuple[int, int]:
    """Run `tap-equipme --config ... | target-duckdb-lake --config ...`; return both exit codes."""
    tap_file = tmp_path / "tap-config.json"
    tap_file.write_text(json.dumps(tap_config))
    target_file = tmp_path / "target-config.json"
    target_file.write_text(json.dumps({"path": str(warehouse)}))
    tap = subprocess.Popen(
        ["tap-equipme", "--config", str(tap_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        target = subprocess.run(
            ["target-duckdb-lake", "--config", str(target_file)],
            stdin=tap.stdout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    finally:
        assert tap.stdout is not None
        tap.stdout.close()
        tap.wait(timeout=60)
    assert target.returncode == 0, target.stderr.decode()[-2000:]
    return tap.returncode, target.returncode


def _deleted(warehouse: Path, table: str) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute(f"SELECT count(*) FROM {table} WHERE _deleted_at IS NOT NULL").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def _deleted_customer_ids(warehouse: Path) -> list[int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT id FROM customers WHERE _deleted_at IS NOT NULL ORDER BY id"
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def _full_refresh_config(tap_config: dict[str, Any]) -> dict[str, Any]:
    return {**tap_config, "full_refresh": True, "page_size": 20, "max_retries": 0}


def _load_then_delete_upstream(sandbox, tmp_path: Path, config: dict[str, Any]) -> Path:
    sandbox.control.reset(customers=60, seed=1)  # small: three pages, quick to read
    warehouse = tmp_path / "equipme.duckdb"
    assert _pipe(tmp_path, config, warehouse)[0] == 0
    assert sorted(sandbox.control.delete_customers([5, 17])) == [5, 17]
    return warehouse


@pytest.mark.slow
def test_a_full_refresh_that_dies_while_listing_customers_marks_none_deleted(
    sandbox, tap_config, tmp_path
):
    config = _full_refresh_config(tap_config)
    warehouse = _load_then_delete_upstream(sandbox, tmp_path, config)

    sandbox.control.set_faults(outage_after=2)
    assert _pipe(tmp_path, config, warehouse)[0] != 0, "the outage should stop the tap"
    assert _deleted_customer_ids(warehouse) == []
    assert _deleted(warehouse, "customer_metadata") == 0

    # The same refresh, complete this time, marks exactly the customers deleted upstream.
    sandbox.control.clear_faults()
    assert _pipe(tmp_path, config, warehouse)[0] == 0
    assert _deleted_customer_ids(warehouse) == [5, 17]
    assert _deleted(warehouse, "customer_metadata") > 0


@pytest.mark.slow
def test_a_full_refresh_that_dies_during_metadata_deletes_only_from_the_complete_stream(
    sandbox, tap_config, tmp_path
):
    config = _full_refresh_config(tap_config)
    warehouse = _load_then_delete_upstream(sandbox, tmp_path, config)

    # The customers listing (a handful of pages) completes; metadata requests then fail.
    sandbox.control.set_faults(outage_after=20)
    assert _pipe(tmp_path, config, warehouse)[0] != 0, "the outage should stop the tap"
    assert _deleted_customer_ids(warehouse) == [5, 17]
    assert _deleted(warehouse, "customer_metadata") == 0


def test_a_complete_full_refresh_closes_every_version_and_the_loader_warns_of_nothing(
    sandbox, tap_config, tmp_path
):
    """Issue 27: every stream the tap opens a version for is closed after its last record."""
    sandbox.control.reset(customers=40, seed=1)
    config_file = tmp_path / "tap-config.json"
    config_file.write_text(json.dumps(_full_refresh_config(tap_config)))
    messages_file = tmp_path / "messages.jsonl"
    with messages_file.open("wb") as out:
        subprocess.run(
            ["tap-equipme", "--config", str(config_file)],
            stdout=out,
            stderr=subprocess.DEVNULL,
            timeout=120,
            check=True,
        )
    messages = [json.loads(line) for line in messages_file.read_text().splitlines()]
    opened: dict[str, set[int]] = {}
    last: dict[str, dict[str, Any]] = {}
    for message in messages:
        if message["type"] == "ACTIVATE_VERSION":
            opened.setdefault(message["stream"], set()).add(message["version"])
        if message["type"] in ("RECORD", "ACTIVATE_VERSION"):
            last[message["stream"]] = message
    assert set(opened) == {"customers", "customer_metadata", "customer_metadata_reads"}
    for stream, versions in opened.items():
        assert last[stream]["type"] == "ACTIVATE_VERSION", f"{stream}: version left open"
        assert {last[stream]["version"]} == versions

    warehouse = tmp_path / "equipme.duckdb"
    target_file = tmp_path / "target-config.json"
    target_file.write_text(json.dumps({"path": str(warehouse)}))
    with messages_file.open("rb") as stdin:
        target = subprocess.run(
            ["target-duckdb-lake", "--config", str(target_file)],
            stdin=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )
    log = target.stderr.decode()
    assert target.returncode == 0, log[-2000:]
    assert "ACTIVATE_VERSION" in log, "the loader's log should say what each version did"
    warnings = [line for line in log.splitlines() if "WARNING" in line or "never repeated" in line]
    assert warnings == []
