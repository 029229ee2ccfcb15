"""Crash safety: SIGKILL the pipeline anywhere, run it again, and nothing is lost or doubled.

The kill reaches the whole process group (pipeline, tap and target), like `kill -9` of an
Airflow worker. Crash points inside the target come from a test-only `sitecustomize`
(`crashhook/`) that SIGKILLs the group at an exact place; mid-extract kills come from the
test itself while the sandbox answers slowly. After each crash the stored bookmark must not be
ahead of the stored data, and a second run must leave the warehouse equal to the source.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .compare import (
    bookmark_problems,
    compare_with_snapshot,
    read_parquet_warehouse,
    read_warehouse,
)
from .results import ScenarioResult
from .runner import Pipeline, SyncRun, kill_group, wait_for_group_exit

CRASH_HOOK = Path(__file__).resolve().parent / "crashhook"
CUSTOMERS = 100
NEW_CUSTOMERS = 25

POINTS = {
    "upsert": "mid-load: inside an upsert, batch not committed",
    "batch-committed": "a data batch committed, no state covers it yet",
    "before-state": "data written, state row not committed",
    "after-state": "data and state committed, STATE not yet on stdout",
}


def _new_customers(count: int) -> list[dict[str, Any]]:
    return [
        {"name": f"Nachtlauf {index:03d} GmbH", "active": index % 3 != 0, "language": "de"}
        for index in range(count)
    ]


def _crash_env(pipeline: Pipeline, point: str, marker: Path) -> dict[str, str]:
    return pipeline.env(
        PYTHONPATH=str(CRASH_HOOK),
        EQUIPME_TEST_CRASH_AT=point,
        EQUIPME_TEST_CRASH_MARKER=str(marker),
    )


def _after_crash_problems(pipeline: Pipeline, snapshot: dict[str, Any]) -> list[str]:
    """The crashed warehouse must be readable and its bookmark not ahead of its data."""
    try:
        warehouse = pipeline.read()
    except Exception as exc:
        return [f"the warehouse is unreadable after the crash: {exc}"]
    if warehouse is None:
        return []
    problems = [f"after the crash: {p}" for p in bookmark_problems(warehouse, snapshot)]
    ids = [row["id"] for row in warehouse.customers]
    if len(ids) != len(set(ids)):
        problems.append("after the crash: duplicate customer rows")
    return problems


def _record(
    record_result: Callable[[ScenarioResult], None],
    scenario: str,
    runs: list[SyncRun],
    rows: int | None,
    problems: list[str],
    note: str,
) -> None:
    record_result(
        ScenarioResult(
            section="crash",
            scenario=scenario,
            outcome="FAIL" if problems else "pass",
            rows_compared=rows,
            wall_s=round(sum(run.wall_s for run in runs), 1),
            note=(problems[0][:200] if problems else note),
        )
    )


def _rerun_and_compare(
    pipeline: Pipeline, sandbox: Any, runs: list[SyncRun], problems: list[str]
) -> int | None:
    rerun = pipeline.run()
    runs.append(rerun)
    if rerun.returncode != 0:
        problems.append(f"the run after the crash failed: {rerun.describe()}")
        return None
    snapshot = sandbox.control.snapshot()
    warehouse = pipeline.read()
    assert warehouse is not None
    comparison = compare_with_snapshot(warehouse, snapshot)
    if not comparison.ok:
        problems.append(f"after the rerun the warehouse differs: {comparison.summary()}")
    problems += bookmark_problems(warehouse, snapshot)
    # The killed run's load rows are closed as failed by the next load, never left 'running'.
    stale = [
        (row["run_id"], row["stream"]) for row in warehouse.loads if row["status"] == "running"
    ]
    if stale:
        problems.append(f"load rows left 'running' after the rerun: {stale}")
    return comparison.rows_compared


# An incremental run of a few new customers loads one batch per stream, committed with its
# state: no batch is ever committed without one there.
CASES = [(point, False) for point in POINTS] + [
    (point, True) for point in POINTS if point != "batch-committed"
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "incremental"),
    CASES,
    ids=[f"{POINTS[p]} ({'incremental' if i else 'first'} run)" for p, i in CASES],
)
def test_sigkill_at_a_target_crash_point_then_rerun_loses_and_duplicates_nothing(
    point: str,
    incremental: bool,
    sandbox: Any,
    pipeline: Pipeline,
    record_result: Callable[[ScenarioResult], None],
) -> None:
    _crash_at_point_then_rerun(point, incremental, sandbox, pipeline, record_result)


# The lake: the same crash points through the DuckLake writer (PostgreSQL catalog, local
# data path): mid-load, between data and state, after the state; first and incremental run.
LAKE_CASES = [("upsert", False), ("before-state", True), ("after-state", False)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "incremental"),
    LAKE_CASES,
    ids=[f"DuckLake: {POINTS[p]} ({'incremental' if i else 'first'} run)" for p, i in LAKE_CASES],
)
def test_sigkill_while_loading_a_lake_then_rerun_loses_and_duplicates_nothing(
    point: str,
    incremental: bool,
    sandbox: Any,
    pipeline: Pipeline,
    lake_postgres: Any,
    record_result: Callable[[ScenarioResult], None],
) -> None:
    pipeline.use_lake(lake_postgres.create_database(), pipeline.tmp_path / "lake-data")
    _crash_at_point_then_rerun(point, incremental, sandbox, pipeline, record_result, "DuckLake: ")


def _crash_at_point_then_rerun(
    point: str,
    incremental: bool,
    sandbox: Any,
    pipeline: Pipeline,
    record_result: Callable[[ScenarioResult], None],
    label: str = "",
) -> None:
    sandbox.control.reset(customers=CUSTOMERS, seed=21)
    runs: list[SyncRun] = []
    if incremental:
        runs.append(pipeline.run())
        assert runs[0].returncode == 0, runs[0].describe()
        sandbox.control.create_customers(_new_customers(NEW_CUSTOMERS))
    marker = pipeline.tmp_path / "crashed"
    crashed = pipeline.run(env=_crash_env(pipeline, point, marker))
    runs.append(crashed)
    problems = []
    if not marker.exists():
        problems.append(f"the crash point {point!r} was never reached: {crashed.describe()}")
    if crashed.returncode == 0:
        problems.append("the pipeline exited 0 although its process group was killed")
    problems += _after_crash_problems(pipeline, sandbox.control.snapshot())
    rows = _rerun_and_compare(pipeline, sandbox, runs, problems)
    kind = "incremental" if incremental else "first"
    scenario = f"{label}{POINTS[point]} ({kind} run)"
    _record(record_result, scenario, runs, rows, problems, "rerun equal")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("after_requests", [3, 60], ids=["while listing", "during metadata"])
def test_sigkill_mid_extract_then_rerun_loses_and_duplicates_nothing(
    after_requests: int,
    sandbox: Any,
    pipeline: Pipeline,
    record_result: Callable[[ScenarioResult], None],
) -> None:
    control = sandbox.control
    control.reset(customers=CUSTOMERS, seed=22)
    control.set_faults(latency_ms=15)
    process = pipeline.start()
    started = time.monotonic()
    while control.stats()["requests"] < after_requests and process.poll() is None:
        if time.monotonic() - started > 60:
            break
        time.sleep(0.005)
    still_running = process.poll() is None
    out, err = kill_group(process)
    runs = [SyncRun(process.returncode, out, err, time.monotonic() - started)]
    control.clear_faults()
    problems = [] if still_running else ["the pipeline finished before the kill"]
    problems += _after_crash_problems(pipeline, control.snapshot())
    rows = _rerun_and_compare(pipeline, sandbox, runs, problems)
    _record(
        record_result,
        f"SIGKILL of the process group mid-extract ({after_requests} requests served)",
        runs,
        rows,
        problems,
        "rerun equal",
    )
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_sigterm_to_the_pipeline_mid_run_stops_cleanly_and_the_rerun_loses_nothing(
    sandbox: Any, pipeline: Pipeline, record_result: Callable[[ScenarioResult], None]
) -> None:
    # What Airflow does on a task timeout or a manual stop: SIGTERM to the task's process.
    control = sandbox.control
    control.reset(customers=CUSTOMERS, seed=23)
    control.set_faults(latency_ms=15)
    process = pipeline.start()
    started = time.monotonic()
    while control.stats()["requests"] < 50 and process.poll() is None:
        if time.monotonic() - started > 60:
            break
        time.sleep(0.005)
    still_running = process.poll() is None
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        out, err = kill_group(process)
    wait_for_group_exit(process.pid)
    runs = [SyncRun(process.returncode, out, err, time.monotonic() - started)]
    control.clear_faults()
    problems = [] if still_running else ["the pipeline finished before the SIGTERM"]
    if process.returncode != 128 + signal.SIGTERM:
        problems.append(f"exit {process.returncode} after SIGTERM, expected 143: {err[-2000:]}")
    problems += _after_crash_problems(pipeline, control.snapshot())
    rows = _rerun_and_compare(pipeline, sandbox, runs, problems)
    _record(record_result, "SIGTERM to equipme-sync mid-run", runs, rows, problems, "exit 143")
    assert not problems, "\n".join(problems)


PARQUET_POINTS = {
    "upsert": "Parquet: mid-load, inside an upsert",
    "before-state": "Parquet: staged data written, state not committed",
    "parquet-published": "Parquet: a stream file replaced, state file not yet written",
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(PARQUET_POINTS), ids=list(PARQUET_POINTS.values()))
def test_sigkill_while_loading_parquet_then_rerun_loses_and_duplicates_nothing(
    point: str,
    sandbox: Any,
    pipeline: Pipeline,
    record_result: Callable[[ScenarioResult], None],
) -> None:
    sandbox.control.reset(customers=CUSTOMERS, seed=24)
    lake = pipeline.tmp_path / "lake"
    pipeline.use_parquet(lake)
    marker = pipeline.tmp_path / "crashed"
    runs = [pipeline.run(env=_crash_env(pipeline, point, marker))]
    problems = [] if marker.exists() else [f"crash point {point!r} never reached"]
    snapshot = sandbox.control.snapshot()
    if lake.exists():
        crashed = read_parquet_warehouse(lake)
        problems += [f"after the crash: {p}" for p in bookmark_problems(crashed, snapshot)]
    runs.append(pipeline.run())
    rows = None
    if runs[-1].returncode != 0:
        problems.append(f"the run after the crash failed: {runs[-1].describe()}")
    else:
        warehouse = read_parquet_warehouse(lake)
        comparison = compare_with_snapshot(warehouse, snapshot)
        rows = comparison.rows_compared
        if not comparison.ok:
            problems.append(f"after the rerun the lake differs: {comparison.summary()}")
        problems += bookmark_problems(warehouse, snapshot)
        stale = [r["run_id"] for r in warehouse.loads if r["status"] == "running"]
        if stale:
            problems.append(f"load rows left 'running' after the rerun: {stale}")
    _record(record_result, PARQUET_POINTS[point], runs, rows, problems, "rerun equal")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_sigkill_mid_full_refresh_marks_nothing_deleted_and_the_rerun_loses_nothing(
    sandbox: Any, pipeline: Pipeline, record_result: Callable[[ScenarioResult], None]
) -> None:
    control = sandbox.control
    control.reset(customers=CUSTOMERS, seed=25)
    runs = [pipeline.run()]
    assert runs[0].returncode == 0, runs[0].describe()
    control.set_faults(latency_ms=15)
    control.clear_stats()
    process = pipeline.start("--full-refresh")
    started = time.monotonic()
    while control.stats()["requests"] < 40 and process.poll() is None:
        if time.monotonic() - started > 60:
            break
        time.sleep(0.005)
    still_running = process.poll() is None
    out, err = kill_group(process)
    runs.append(SyncRun(process.returncode, out, err, time.monotonic() - started))
    control.clear_faults()
    snapshot = control.snapshot()
    problems = [] if still_running else ["the full refresh finished before the kill"]
    # A full refresh cut short must not mark the customers it had not read yet as deleted.
    comparison = compare_with_snapshot(read_warehouse(pipeline.warehouse), snapshot)
    if not comparison.ok:
        problems.append(f"after the killed full refresh: {comparison.summary()}")
    rerun = pipeline.run("--full-refresh")
    runs.append(rerun)
    rows = None
    if rerun.returncode != 0:
        problems.append(f"the full refresh after the crash failed: {rerun.describe()}")
    else:
        final = compare_with_snapshot(read_warehouse(pipeline.warehouse), snapshot)
        rows = final.rows_compared
        if not final.ok:
            problems.append(f"after the rerun the warehouse differs: {final.summary()}")
    _record(
        record_result,
        "SIGKILL mid full refresh (40 requests served), then a full refresh",
        runs,
        rows,
        problems,
        "nothing marked deleted; rerun equal",
    )
    assert not problems, "\n".join(problems)
