"""Fault matrix: `equipme-sync` against a misbehaving sandbox loses and duplicates nothing.

Each scenario runs the whole pipeline (tap -> target -> DuckDB) as a subprocess, then reads
the warehouse back and compares every customer (full JSON) and every metadata row with what
the sandbox holds, checks that the stored bookmark is not ahead of the data and that every
load finished. Each records a row of docs/reliability-results.md.

The DuckLake rows run a subset covering every fault kind through the multi-machine shape of
the lake (PostgreSQL catalog, Parquet files on the moto S3 server) and also search the
catalog and the bucket for the S3 secret key and the API key.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from .compare import (
    Warehouse,
    bookmark_problems,
    compare,
    diff_values,
    read_parquet_warehouse,
)
from .leaks import lake_containing, text_hits
from .results import ScenarioResult
from .runner import Pipeline, SyncRun
from .scenario import Outcome, check_warehouse

CUSTOMERS = 150
LAKE_CUSTOMERS = 60
"""The lake rows' source: a lake sync costs a few seconds more (attaching the catalog and the
bucket, commits to both), and 60 customers still draw every fault kind from the seeds here."""


@dataclass(frozen=True)
class Scenario:
    """One fault configuration and the tap settings it runs with."""

    name: str
    faults: dict[str, Any]
    expect: tuple[str, ...]
    """Fault kinds that must have been injected (else the scenario tested nothing)."""
    settings: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    customers: int = CUSTOMERS
    delete_then_full_refresh: int = 0
    """After the first run, delete this many customers and run a full refresh (still faulty)."""


MATRIX = [
    Scenario(
        "429 storm, Retry-After in seconds",
        {"rate_limit_per_s": 40, "retry_after": "seconds", "retry_after_seconds": 1},
        ("rate_limit",),
        settings={"backoff_factor": 1.0},
    ),
    Scenario(
        "429 storm, Retry-After as HTTP date",
        {"rate_limit_per_s": 40, "retry_after": "http-date", "retry_after_seconds": 1},
        ("rate_limit",),
        settings={"backoff_factor": 1.0},
    ),
    Scenario(
        "429 storm, no Retry-After header",
        {"rate_limit_per_s": 40, "retry_after": "none"},
        ("rate_limit",),
    ),
    Scenario("10% answered 500/502/503", {"error_rate": 0.10}, ("error",)),
    Scenario("5% connections dropped", {"drop_rate": 0.05}, ("drop",)),
    Scenario("5% JSON bodies truncated", {"truncate_rate": 0.05}, ("truncate",)),
    Scenario(
        "3% slower than the request timeout",
        {"slow_rate": 0.03, "slow_seconds": 3},
        ("slow",),
        settings={"request_timeout": 1},
    ),
    Scenario(
        "all faults at once",
        {
            "error_rate": 0.04,
            "drop_rate": 0.03,
            "truncate_rate": 0.03,
            "slow_rate": 0.01,
            "slow_seconds": 3,
            "latency_ms": 2,
            "jitter_ms": 5,
        },
        ("error", "drop", "truncate"),
        settings={"request_timeout": 1},
    ),
]


LAKE = "DuckLake (PostgreSQL catalog, S3 data): "
LAKE_SUBSET = (
    "429 storm, Retry-After in seconds",
    "10% answered 500/502/503",
    "5% connections dropped",
    "5% JSON bodies truncated",
    "all faults at once",
)
"""Every fault kind at least once, through the lake (each lake row costs 10-25 s)."""


def _lake_row(scenario: Scenario) -> Scenario:
    lake = replace(scenario, name=LAKE + scenario.name, customers=LAKE_CUSTOMERS)
    if "rate_limit_per_s" in scenario.faults:
        # A lake's loader is slower than a DuckDB file's and the pipes bound the tap's lead
        # over it: at 40/s a loaded machine's run may never be refused. 10/s always is.
        lake = replace(lake, faults={**scenario.faults, "rate_limit_per_s": 10})
    if scenario.name != "all faults at once":
        return lake
    # Soft deletes under faults: marked by a complete run only, never dropped.
    return replace(lake, delete_then_full_refresh=4, note="then 4 deleted + full refresh")


LAKE_MATRIX = [_lake_row(s) for s in MATRIX if s.name in LAKE_SUBSET]


@pytest.fixture
def lake_pipeline(
    pipeline: Pipeline, lake_postgres: Any, lake_s3: Any, lake_servers: Any
) -> Pipeline:
    """The pipeline into a fresh lake: its own catalog database, its own prefix in the bucket."""
    pipeline.use_lake(
        lake_postgres.create_database(),
        env=lake_servers.s3_env(),
        **lake_s3.settings(pipeline.tmp_path.name),
    )
    return pipeline


def _finish(
    outcome: Outcome,
    record: Callable[[ScenarioResult], None],
    note: str = "",
    extra_problems: list[str] | None = None,
) -> None:
    problems = outcome.problems() + (extra_problems or [])
    record(outcome.row(note, problems))
    assert not problems, "\n".join(problems)


def _lake_leaks(
    pipeline: Pipeline, outcome: Outcome, secrets: list[str], lake_postgres: Any, lake_s3: Any
) -> list[str]:
    """The secrets found in the runs' output, the lake's catalog or its bucket prefix."""
    assert pipeline.catalog is not None
    copy = pipeline.tmp_path / "s3-copy"
    if not lake_s3.download(pipeline.tmp_path.name, copy):
        return ["no data file reached the bucket"]
    dump = lake_postgres.dump(pipeline.catalog)
    found = []
    for secret in secrets:
        channels = {f"run {i} output": r.stdout + r.stderr for i, r in enumerate(outcome.runs)}
        hits = text_hits(secret, channels) + lake_containing(secret, dump, copy)
        found += [f"a secret ({secret[:6]}...) leaked into the {hit}" for hit in hits]
    return found


def _run_scenario(scenario: Scenario, sandbox: Any, pipeline: Pipeline) -> Outcome:
    control = sandbox.control
    control.reset(customers=scenario.customers, seed=11)
    control.set_faults(**scenario.faults, seed=5)
    pipeline.settings.update(scenario.settings)
    outcome = Outcome(scenario.name)
    outcome.runs.append(pipeline.run())
    if scenario.delete_then_full_refresh:
        live = [c["id"] for c in control.snapshot()["customers"]]
        count = scenario.delete_then_full_refresh
        control.delete_customers(live[3 :: len(live) // count][:count])
        outcome.runs.append(pipeline.run("--full-refresh"))
    outcome.stats = control.stats()
    control.clear_faults()
    check_warehouse(outcome, pipeline, control.snapshot())
    return outcome


def _read(pipeline: Pipeline) -> Warehouse:
    return pipeline.read() or Warehouse([], [], None, [])


def _missing_kinds(scenario: Scenario, outcome: Outcome) -> list[str]:
    missing = [k for k in scenario.expect if not outcome.faults_injected.get(k)]
    return [f"fault kinds never injected: {missing}"] if missing else []


@pytest.mark.slow
@pytest.mark.parametrize("scenario", MATRIX, ids=[s.name for s in MATRIX])
def test_pipeline_under_faults_loads_exactly_the_source(
    scenario: Scenario,
    sandbox: Any,
    pipeline: Pipeline,
    record_result: Callable[[ScenarioResult], None],
) -> None:
    outcome = _run_scenario(scenario, sandbox, pipeline)
    _finish(outcome, record_result, scenario.note, _missing_kinds(scenario, outcome))


@pytest.mark.slow
@pytest.mark.parametrize("scenario", LAKE_MATRIX, ids=[s.name for s in LAKE_MATRIX])
def test_lake_under_faults_loads_exactly_the_source_and_leaks_no_secret(
    scenario: Scenario,
    sandbox: Any,
    lake_pipeline: Pipeline,
    lake_postgres: Any,
    lake_s3: Any,
    lake_servers: Any,
    api_key: str,
    record_result: Callable[[ScenarioResult], None],
) -> None:
    outcome = _run_scenario(scenario, sandbox, lake_pipeline)
    extra = _missing_kinds(scenario, outcome)
    if scenario.delete_then_full_refresh:
        # The comparison's live rows already exclude them; here: marked, not dropped.
        assert outcome.warehouse is not None
        deleted = {r["id"] for r in outcome.warehouse.customers if r["_deleted_at"]}
        if deleted != set(sandbox.control.snapshot()["deleted"]):
            extra.append(f"soft-deleted after the full refresh: {sorted(deleted)}")
    secrets = [lake_servers.S3_SECRET, api_key]
    extra += _lake_leaks(lake_pipeline, outcome, secrets, lake_postgres, lake_s3)
    _finish(outcome, record_result, scenario.note, extra)


def _outage_then_rerun(
    sandbox: Any,
    pipeline: Pipeline,
    record_result: Callable[[ScenarioResult], None],
    *,
    label: str = "",
    customers: int = CUSTOMERS,
    outage_after: int = 120,
) -> None:
    control = sandbox.control
    control.reset(customers=customers, seed=12)
    control.set_faults(outage_after=outage_after, seed=5)
    name = f"{label}outage after {outage_after} requests, then a rerun"
    pipeline.settings.update({"max_retries": 2})
    outcome = Outcome(name)
    failed = pipeline.run()
    stats_failed = control.stats()
    control.clear_faults()
    partial = check_warehouse_partial(pipeline, control.snapshot())
    outcome.runs.append(pipeline.run())
    outcome.stats = {
        **control.stats(),
        "requests": stats_failed["requests"] + control.stats()["requests"],
        "faults_injected": stats_failed["faults_injected"],
    }
    check_warehouse(outcome, pipeline, control.snapshot())
    extra = []
    # The run cut short by the outage may have loaded (and rolled back) a batch: its rows
    # must read 'failed' (never 'running'); every other run's must have succeeded.
    assert outcome.warehouse is not None
    loads = outcome.warehouse.loads
    failed_runs = {row["run_id"] for row in loads if row["status"] == "failed"}
    if len(failed_runs) > 1:
        extra.append(f"more than one failed run in _equipme_loads: {sorted(failed_runs)}")
    outcome.load_statuses = [str(r["status"]) for r in loads if r["run_id"] not in failed_runs]
    if failed.returncode == 0:
        extra.append("the run during the outage exited 0: an outage must fail the run")
    extra += partial
    _finish(outcome, record_result, f"first run exit {failed.returncode}", extra)


@pytest.mark.slow
def test_outage_mid_run_then_rerun_loads_exactly_the_source(
    sandbox: Any, pipeline: Pipeline, record_result: Callable[[ScenarioResult], None]
) -> None:
    _outage_then_rerun(sandbox, pipeline, record_result)


@pytest.mark.slow
def test_lake_outage_mid_run_then_rerun_loads_exactly_the_source(
    sandbox: Any, lake_pipeline: Pipeline, record_result: Callable[[ScenarioResult], None]
) -> None:
    # A run of 60 customers makes about 66 requests: the outage comes mid-metadata.
    _outage_then_rerun(
        sandbox,
        lake_pipeline,
        record_result,
        label=LAKE,
        customers=LAKE_CUSTOMERS,
        outage_after=40,
    )


def check_warehouse_partial(pipeline: Pipeline, snapshot: dict[str, Any]) -> list[str]:
    """After a failed run: whatever landed equals the source and the bookmark is not ahead."""
    warehouse = pipeline.read()
    if warehouse is None:
        return []
    source = {c["id"]: c for c in snapshot["customers"]}
    problems = [f"after the failed run: {p}" for p in bookmark_problems(warehouse, snapshot)]
    for row in warehouse.customers:
        problems += diff_values(source.get(row["id"]), row, f"customer {row['id']}")
    return problems[:20]


def _first_page(base_url: str, api_key: str, limit: int) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{base_url}/v1/sales/customers?limit={limit}&offset=0", headers={"X-API-KEY": api_key}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        items: list[dict[str, Any]] = json.loads(response.read())["items"]
        return items


@pytest.mark.slow
def test_customers_deleted_between_list_and_metadata_are_kept_without_metadata(
    sandbox: Any,
    pipeline: Pipeline,
    api_key: str,
    record_result: Callable[[ScenarioResult], None],
) -> None:
    control = sandbox.control
    control.reset(customers=CUSTOMERS, seed=13)
    page_size = pipeline.settings["page_size"]
    victims = [c["id"] for c in _first_page(sandbox.base_url, api_key, page_size)[-8:]]
    before = control.snapshot()
    # Metadata answers slowly, so the last customers of page 1 are still waiting for theirs
    # when they are deleted right after page 1 was served.
    control.set_faults(latency_ms=60, only_paths="/metadata$")
    control.clear_stats()
    pipeline.settings.update({"metadata_concurrency": 2})
    outcome = Outcome("customers deleted between list and metadata (403)")
    process = pipeline.start()
    deadline = time.monotonic() + 30
    while not control.stats()["queries"] and time.monotonic() < deadline:
        time.sleep(0.01)
    control.delete_customers(victims)
    out, err = process.communicate(timeout=180)
    outcome.runs.append(SyncRun(process.returncode, out, err, time.monotonic() - outcome.started))
    outcome.stats = control.stats()
    control.clear_faults()
    after = control.snapshot()
    check_warehouse(
        outcome,
        pipeline,
        after,
        expected_customers=before["customers"],
        optional_metadata=set(victims),
    )
    forbidden = outcome.stats["by_status"].get("403", 0) + outcome.stats["by_status"].get("404", 0)
    extra = [] if forbidden else ["no metadata request hit a deleted customer (race lost)"]
    _finish(outcome, record_result, f"{len(victims)} deleted, {forbidden} answered 403/404", extra)


@pytest.mark.slow
def test_offset_drift_while_paging_loses_no_customer_that_existed_throughout(
    sandbox: Any, pipeline: Pipeline, record_result: Callable[[ScenarioResult], None]
) -> None:
    control = sandbox.control
    control.reset(customers=CUSTOMERS, seed=14)
    before = {c["id"] for c in control.snapshot()["customers"]}
    control.schedule_drift(after_requests=1, insert=4, delete=3, repeat=True)
    outcome = Outcome("offset drift: 4 created + 3 deleted after every list page")
    outcome.runs.append(pipeline.run())
    outcome.stats = control.stats()
    during = control.snapshot()
    loaded = {row["id"] for row in _read(pipeline).customers}
    survivors = before - set(during["deleted"])
    lost = sorted(survivors - loaded)
    # Customers created during the run are newer than the bookmark: the next incremental run
    # must pick them up; deleted ones are marked by a full refresh.
    control.schedule_drift(after_requests=10**9, insert=0, delete=0)  # drift off
    outcome.runs.append(pipeline.run())
    outcome.runs.append(pipeline.run("--full-refresh"))
    check_warehouse(outcome, pipeline, control.snapshot())
    drift = outcome.stats.get("drift_applied", 0)
    extra = [f"lost {len(lost)} customers that existed throughout: {lost[:10]}"] if lost else []
    if not drift:
        extra.append("the drift never happened")
    _finish(
        outcome,
        record_result,
        f"drift applied {drift}x; then incremental + full refresh",
        extra,
    )


@pytest.mark.slow
def test_parquet_destination_under_all_faults_loads_exactly_the_source(
    sandbox: Any, pipeline: Pipeline, record_result: Callable[[ScenarioResult], None]
) -> None:
    control = sandbox.control
    control.reset(customers=CUSTOMERS, seed=15)
    control.set_faults(error_rate=0.05, drop_rate=0.03, truncate_rate=0.03, seed=9)
    lake = pipeline.tmp_path / "lake"
    pipeline.use_parquet(lake)
    outcome = Outcome("Parquet destination, 5xx + drops + truncation")
    outcome.runs.append(pipeline.run())
    outcome.stats = control.stats()
    control.clear_faults()
    snapshot = control.snapshot()
    warehouse = read_parquet_warehouse(lake)
    outcome.comparison = compare(warehouse, snapshot["customers"], snapshot["metadata"])
    outcome.bookmark_problems = bookmark_problems(warehouse, snapshot)
    outcome.load_statuses = [str(row["status"]) for row in warehouse.loads]
    outcome.wall_s = time.monotonic() - outcome.started
    _finish(outcome, record_result, "destination parquet")
