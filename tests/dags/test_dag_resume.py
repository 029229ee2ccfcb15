"""A retried `extract_load` resumes what the killed try landed (issue 28).

The first try's worker is SIGKILLed in the middle of the metadata phase (a test-only crash
point, `tests/reliability/crashhook/`); the retry (`airflow tasks test` again: a fresh process
with nothing of the first try but the warehouse) says it resumes, asks only for the customers
the committed state does not cover, and the warehouse then equals the sandbox.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tap_equipme.listing.checkpoint import progress_of

AIRFLOW = str(Path(sys.executable).parent / "airflow")

pytestmark = pytest.mark.slow
DAG_ID = "equipme_customers_hourly"
CRASH_HOOK = Path(__file__).resolve().parents[1] / "reliability" / "crashhook"
CUSTOMERS = 600


def _metadata_requests(sandbox) -> int:
    routes = sandbox.control.stats()["by_route"]
    return sum(n for route, n in routes.items() if route.endswith("/metadata"))


def test_a_retried_extract_load_resumes_where_the_killed_try_stopped(
    airflow, sandbox, api_key, tmp_path, landed
):
    sandbox.control.reset(customers=CUSTOMERS, seed=2)
    sandbox.control.set_faults(latency_ms=4, only_paths="/metadata$")
    warehouse = tmp_path / "wh.duckdb"
    conf = json.dumps({"warehouse_path": str(warehouse)})
    connection = {
        "conn_type": "http",
        "host": sandbox.base_url,
        "password": api_key,
        "extra": json.dumps({"checkpoint_every_customers": 40, "metadata_concurrency": 2}),
    }
    env = {**airflow.env, "AIRFLOW_CONN_EQUIPME_DEFAULT": json.dumps(connection)}
    argv = [AIRFLOW, "tasks", "test", DAG_ID, "extract_load", "-t", conf]
    crash = {
        "PYTHONPATH": str(CRASH_HOOK),
        "EQUIPME_TEST_CRASH_AT": "tap-metadata",
        "EQUIPME_TEST_CRASH_AFTER": "400",
    }
    # Its own session: the crash point SIGKILLs the whole process group, like a dead worker.
    killed = subprocess.run(
        argv,
        env={**env, **crash},
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
        check=False,
    )
    assert killed.returncode != 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute("SELECT state FROM _equipme_state").fetchone()
    assert row is not None
    progress = progress_of(json.loads(row[0]))
    assert progress is not None
    assert 0 < progress.done < CUSTOMERS

    sandbox.control.clear_stats()
    retry = subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
        check=False,
    )
    assert retry.returncode == 0, retry.stdout[-3000:] + retry.stderr[-3000:]
    assert f"resuming run {progress.run}" in retry.stdout + retry.stderr
    assert _metadata_requests(sandbox) == CUSTOMERS - progress.done
    assert landed.differences("duckdb", warehouse, sandbox.control.snapshot()) == []
