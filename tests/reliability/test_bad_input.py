"""Bad input: one clear paragraph naming the problem, a non-zero exit, nothing written.

Everything runs at the `equipme-sync` CLI (and `tap-equipme` where it makes sense), as a
user would: settings in a config file, the key in `TAP_EQUIPME_API_KEY`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from .results import ScenarioResult
from .runner import TAP, Pipeline, SyncRun

WRONG_KEY = "wrong-key-5e1d0c77-DO-NOT-LEAK"
PYTHON_EXCEPTION = re.compile(
    r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception): |File \"[^\"]+\", line \d+", re.M
)


def assert_clear_error(run: SyncRun, *names: str) -> None:
    """A non-zero exit and one paragraph on stderr that names the problem; no traceback."""
    assert run.returncode != 0, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    # A quoted log tail may have lost the "Traceback" line: no exception line either.
    crash = PYTHON_EXCEPTION.search(run.stderr)
    assert crash is None, f"a Python exception instead of an explanation: {crash}\n{run.describe()}"
    text = run.stderr.lower()
    for name in names:
        assert name.lower() in text, f"the error does not name {name!r}:\n{run.describe()}"


def warehouse_digest(path: Path) -> Any:
    """Everything the warehouse holds (tables and rows), for a before/after comparison."""
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [
            row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        ]
        return {
            table: sorted(map(repr, con.execute(f'SELECT * FROM "{table}"').fetchall()))
            for table in sorted(tables)
        }
    finally:
        con.close()


@pytest.fixture
def record_input(
    record_result: Callable[[ScenarioResult], None], request: pytest.FixtureRequest
) -> Iterator[Callable[[SyncRun, str], None]]:
    """Record the run's outcome under the test's name (pass/FAIL decided by the test)."""
    runs: list[tuple[SyncRun, str]] = []
    yield lambda run, note: runs.append((run, note))
    report = getattr(request.node, "rep_call", None)
    failed = report is None or report.failed
    for run, note in runs:
        record_result(
            ScenarioResult(
                section="input",
                scenario=request.node.name.removeprefix("test_").replace("_", " "),
                outcome="FAIL" if failed else "pass",
                wall_s=round(run.wall_s, 1),
                note=f"exit {run.returncode}: {_first_line(run.stderr)}"[:200] or note,
            )
        )


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip() and "METRIC" not in line]
    return lines[-1] if lines else ""


@pytest.mark.parametrize(
    ("api_key", "setting"),
    [(None, "api_key"), ("", "api_key")],
    ids=["missing api_key", "empty api_key"],
)
def test_missing_or_empty_api_key_is_refused_before_anything_is_written(
    pipeline: Pipeline, api_key: str | None, setting: str, record_input: Any
) -> None:
    env = pipeline.env(api_key="")
    if api_key is None:
        env.pop("TAP_EQUIPME_API_KEY", None)
    run = pipeline.run(env=env)
    record_input(run, setting)
    assert_clear_error(run, setting)
    assert not pipeline.warehouse.exists()


def test_wrong_api_key_fails_with_the_401_explained_and_the_key_not_echoed(
    pipeline: Pipeline, record_input: Any
) -> None:
    run = pipeline.run(env=pipeline.env(api_key=WRONG_KEY))
    record_input(run, "401")
    assert_clear_error(run, "api_key")
    assert (
        "401" in run.stderr or "unauthori" in run.stderr.lower() or "reject" in run.stderr.lower()
    )
    assert WRONG_KEY not in run.stdout + run.stderr
    assert warehouse_digest(pipeline.warehouse) in (None, warehouse_digest(pipeline.warehouse))
    assert not _has_data(pipeline.warehouse)


def _has_data(path: Path) -> bool:
    digest = warehouse_digest(path)
    return bool(digest) and any(
        rows for table, rows in digest.items() if not table.startswith("_equipme_loads")
    )


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"api_url": "not a url"}, "api_url"),
        ({"api_url": "ftp://127.0.0.1/"}, "api_url"),
        ({"api_url": "http://api.equipme.io"}, "api_url"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1001}, "page_size"),
        ({"start_date": "last tuesday"}, "start_date"),
        ({"start_date": "2024-13-45T00:00:00Z"}, "start_date"),
    ],
    ids=[
        "api_url not a URL",
        "api_url not http(s)",
        "api_url plain http to a non-loopback host",
        "page_size 0",
        "page_size 1001",
        "start_date not a date",
        "start_date impossible date",
    ],
)
def test_invalid_setting_is_named_in_one_paragraph_and_nothing_is_written(
    pipeline: Pipeline, overrides: dict[str, Any], setting: str, record_input: Any
) -> None:
    run = pipeline.run(config=pipeline.config_file(**overrides))
    record_input(run, setting)
    assert_clear_error(run, setting)
    assert not pipeline.warehouse.exists()


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [({"page_size": 0}, "page_size"), ({"api_url": "not a url"}, "api_url")],
    ids=["page_size 0", "api_url not a URL"],
)
def test_tap_alone_refuses_invalid_settings_with_a_clear_error(
    pipeline: Pipeline, overrides: dict[str, Any], setting: str
) -> None:
    config = pipeline.tmp_path / "tap-direct.json"
    config.write_text(json.dumps({"api_url": pipeline.base_url, **overrides}))
    started = time.monotonic()
    done = subprocess.run(
        [TAP, "--config", str(config)],
        env=pipeline.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    run = SyncRun(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    assert_clear_error(run, setting)
    assert not any(
        '"type": "RECORD"' in line or '"type":"RECORD"' in line for line in run.stdout.splitlines()
    )


def _corrupt_state(path: Path, state_text: str) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("UPDATE _equipme_state SET state = ? WHERE id = 1", [state_text])
    finally:
        con.close()


@pytest.mark.parametrize(
    "state_text",
    [
        '["not", "a", "state"]',
        '{"bookmarks": {"customers": {"replication_key_value": "not-a-timestamp"}}}',
        '{"bookmarks": "customers"}',
    ],
    ids=["state is a list", "bookmark not a timestamp", "bookmarks not an object"],
)
def test_corrupt_state_in_the_warehouse_is_reported_and_the_warehouse_left_unchanged(
    pipeline: Pipeline, state_text: str, record_input: Any
) -> None:
    first = pipeline.run()
    assert first.returncode == 0, first.describe()
    _corrupt_state(pipeline.warehouse, state_text)
    before = warehouse_digest(pipeline.warehouse)
    run = pipeline.run()
    record_input(run, "state")
    assert_clear_error(run, "stored state", "corrupt")
    assert warehouse_digest(pipeline.warehouse) == before


def test_corrupt_parquet_state_file_is_reported_and_nothing_written(
    pipeline: Pipeline, record_input: Any
) -> None:
    out_dir = pipeline.tmp_path / "lake"
    out_dir.mkdir()
    (out_dir / "_equipme_state.json").write_text('{"bookmarks": {"customers": ')
    pipeline.use_parquet(out_dir)
    run = pipeline.run(timeout=120)
    record_input(run, "state")
    assert_clear_error(run, "stored state", "corrupt")
    assert sorted(p.name for p in out_dir.iterdir()) == ["_equipme_state.json"]


def test_warehouse_path_that_cannot_be_created_is_named_in_the_error(
    pipeline: Pipeline, record_input: Any
) -> None:
    blocker = pipeline.tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    pipeline.warehouse = blocker / "warehouse.duckdb"
    run = pipeline.run()
    record_input(run, "path")
    assert_clear_error(run, "path")
    assert blocker.read_text() == "a file where a directory should be"


HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
print("locked", flush=True)
time.sleep(120)
"""


def test_duckdb_file_locked_by_another_process_fails_clearly_and_changes_nothing(
    pipeline: Pipeline, record_input: Any
) -> None:
    first = pipeline.run()
    assert first.returncode == 0, first.describe()
    before = warehouse_digest(pipeline.warehouse)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(pipeline.warehouse)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        holder.stdout.close()
        run = pipeline.run(timeout=120)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    record_input(run, "lock")
    assert_clear_error(run, str(pipeline.warehouse.name))
    assert "lock" in run.stderr.lower() or "another process" in run.stderr.lower(), run.describe()
    after = warehouse_digest(pipeline.warehouse)
    after.pop("held", None)
    assert after == before


def test_unknown_config_key_is_warned_about_by_name_and_the_run_succeeds(
    pipeline: Pipeline, record_input: Any
) -> None:
    run = pipeline.run(config=pipeline.config_file(pagesize=10))
    record_input(run, "warning")
    assert run.returncode == 0, run.describe()
    assert "pagesize" in run.stderr, run.describe()
    assert "warn" in run.stderr.lower(), run.describe()


@pytest.mark.parametrize(
    "state_text",
    ['{"bookmarks": ', "[1, 2]", '{"bookmarks": "customers"}', '{"bookmarks": {"customers": 3}}'],
    ids=["not JSON", "a list", "bookmarks a string", "a bookmark not an object"],
)
def test_tap_alone_refuses_a_corrupt_state_file_with_a_clear_error(
    pipeline: Pipeline, state_text: str
) -> None:
    config = pipeline.tmp_path / "tap-direct.json"
    config.write_text(json.dumps({"api_url": pipeline.base_url}))
    state = pipeline.tmp_path / "state.json"
    state.write_text(state_text)
    started = time.monotonic()
    done = subprocess.run(
        [TAP, "--config", str(config), "--config", "ENV", "--state", str(state)],
        env=pipeline.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    run = SyncRun(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    assert_clear_error(run, "state")
    assert '"RECORD"' not in run.stdout
