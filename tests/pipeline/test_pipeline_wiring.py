"""equipme-sync's process wiring, with a stand-in tap and the real target."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from tap_equipme.pipeline.stored_state import bookmark_of
from tap_equipme.pipeline.sync import SyncError, run_sync
from tap_equipme.warehouse.state import read_state

FAKE_TAP = (sys.executable, str(Path(__file__).with_name("fake_tap.py")))
KEY = "sandbox-key-7f3a9c1e-DO-NOT-LEAK"


def sync(tmp_path: Path, **settings):
    report = tmp_path / "tap-report.json"
    config = {"api_key": KEY, "report": str(report), **settings}
    summary = run_sync(
        config,
        "duckdb",
        tmp_path / "wh.duckdb",
        tap_command=FAKE_TAP,
        progress_out=None,
    )
    return summary, json.loads(report.read_text())


def customer_ids(path: Path) -> list[int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT id FROM customers ORDER BY id").fetchall()]


def test_first_run_loads_records_and_stores_the_tap_state(tmp_path):
    summary, _ = sync(tmp_path, records=5, bookmark="2026-02-01T00:00:00+00:00")
    assert summary.status == "succeeded"
    assert summary.records == {"customers": 5}
    assert summary.rows("customers") == 5
    assert summary.bookmark_before is None
    assert summary.bookmark_after == "2026-02-01T00:00:00+00:00"
    assert customer_ids(tmp_path / "wh.duckdb") == [1, 2, 3, 4, 5]


def test_second_run_hands_the_stored_state_to_the_tap(tmp_path):
    sync(tmp_path, records=3, bookmark="2026-02-01T00:00:00+00:00")
    summary, seen = sync(tmp_path, records=2, start_id=10, bookmark="2026-03-01T00:00:00+00:00")
    assert bookmark_of(seen["state"]) == "2026-02-01T00:00:00+00:00"
    assert summary.bookmark_before == "2026-02-01T00:00:00+00:00"
    assert summary.bookmark_after == "2026-03-01T00:00:00+00:00"
    assert customer_ids(tmp_path / "wh.duckdb") == [1, 2, 3, 10, 11]


def test_full_refresh_gives_the_tap_no_state_and_sets_full_refresh(tmp_path):
    sync(tmp_path, records=1)
    summary = run_sync(
        {"api_key": KEY, "report": str(tmp_path / "r.json")},
        "duckdb",
        tmp_path / "wh.duckdb",
        full_refresh=True,
        tap_command=FAKE_TAP,
        progress_out=None,
    )
    seen = json.loads((tmp_path / "r.json").read_text())
    assert summary.full_refresh
    assert seen["state"] is None
    assert seen["config"]["full_refresh"] is True


def test_api_key_reaches_the_tap_by_environment_not_argv_or_files(tmp_path):
    _, seen = sync(tmp_path, records=1)
    assert seen["api_key_in_env"] == KEY
    assert all(KEY not in arg for arg in seen["argv"])
    assert "api_key" not in seen["config"]
    config_path = Path(seen["argv"][seen["argv"].index("--config") + 1])
    assert not config_path.exists(), "temp config files are deleted after the run"


def test_tap_failure_exits_with_its_redacted_log_and_keeps_the_bookmark(tmp_path):
    sync(tmp_path, records=2, bookmark="2026-02-01T00:00:00+00:00")
    with pytest.raises(SyncError) as raised:
        sync(tmp_path, records=50, start_id=100, fail_after=20)
    message = str(raised.value)
    assert "the tap failed (exit code 1)" in message
    assert "503 Service Unavailable" in message
    assert KEY not in message
    assert bookmark_of(read_state("duckdb", tmp_path / "wh.duckdb")) == "2026-02-01T00:00:00+00:00"
    assert raised.value.summary is not None
    assert raised.value.summary.status == "failed"
    statuses = {load["status"] for load in raised.value.summary.loads.values()}
    assert "succeeded" not in statuses
    assert customer_ids(tmp_path / "wh.duckdb") == [1, 2], "the open batch was rolled back"


def test_target_failure_stops_the_tap_and_names_the_target(tmp_path):
    failing_target = (
        sys.executable,
        "-c",
        "import sys; sys.stdin.readline(); sys.stderr.write('disk on fire\\n'); sys.exit(3)",
    )
    started = time.monotonic()
    with pytest.raises(SyncError, match=r"the target failed \(exit code 3\)") as raised:
        run_sync(
            {"api_key": KEY, "records": 100000, "sleep": 0.001},
            "duckdb",
            tmp_path / "wh.duckdb",
            tap_command=FAKE_TAP,
            target_command=failing_target,
            progress_out=None,
        )
    assert time.monotonic() - started < 30, "the tap was stopped, not left to finish"
    assert "disk on fire" in str(raised.value)


def test_unwritable_path_is_a_clear_error_naming_the_setting(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(SyncError, match="setting 'path'"):
        run_sync({"api_key": KEY}, "duckdb", blocker / "wh.duckdb", tap_command=FAKE_TAP)


def test_truncated_tap_output_is_not_forwarded_and_fails_the_run(tmp_path):
    with pytest.raises(SyncError, match="middle of a message"):
        sync(tmp_path, records=3, partial_line=True)


def test_progress_lines_report_records_per_stream(tmp_path):
    out = io.StringIO()
    run_sync(
        {"api_key": KEY, "records": 30, "sleep": 0.01},
        "duckdb",
        tmp_path / "wh.duckdb",
        tap_command=FAKE_TAP,
        progress_out=out,
        progress_interval=0.05,
    )
    lines = out.getvalue().splitlines()
    assert lines, "at least one progress line"
    assert any("customers" in line and "records/s" in line for line in lines)


def test_unknown_destination_is_a_clear_error(tmp_path):
    with pytest.raises(SyncError, match="'destination'"):
        run_sync({"api_key": KEY}, "sqlite", tmp_path / "x", tap_command=FAKE_TAP)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_is_forwarded_and_the_cli_exits_with_128_plus_signal(tmp_path, signum):
    # The CLI as installed, with the stand-in tap in place of tap-equipme.
    code = (
        "import sys, tap_equipme.pipeline.sync as p, tap_equipme.pipeline.cli as cli; "
        "real = p.console_script; "
        f"p.console_script = lambda n: {list(FAKE_TAP)!r} if n == 'tap-equipme' else real(n); "
        "sys.exit(cli.main(sys.argv[1:]))"
    )
    config = tmp_path / "tap.json"
    report = tmp_path / "report.json"
    config.write_text(
        json.dumps({"api_key": KEY, "records": 100000, "sleep": 0.002, "report": str(report)})
    )
    env = dict(os.environ)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "--path",
            str(tmp_path / "wh.duckdb"),
            "--config",
            str(config),
            "--progress-interval",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline().decode()  # a progress line: the tap is running
    assert "equipme-sync" in first
    deadline = time.monotonic() + 30
    while not report.exists() and time.monotonic() < deadline:  # the tap is running
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err.decode()
    assert b"Traceback" not in err
    tap_pid = json.loads(report.read_text())["pid"]
    deadline = time.monotonic() + 10
    while psutil.pid_exists(tap_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(tap_pid), "the tap got the signal too"
    assert read_state("duckdb", tmp_path / "wh.duckdb") is None
