"""The DAG files: they parse without errors, cheaply, with the promised safety settings."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

DAG_IDS = ("equipme_customers_hourly", "equipme_customers_weekly_full_refresh")

_DESCRIBE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "schedule": str(dag.schedule),
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "params": sorted(dag.params.keys()),
        "param_defaults": {k: dag.params[k] for k in dag.params.keys()},
        "edges": sorted([t.task_id, d] for t in dag.tasks for d in t.downstream_task_ids),
        "tasks": {
            t.task_id: {
                "pool": t.pool,
                "retries": t.retries,
                "backoff": t.retry_exponential_backoff,
                "max_retry_delay": str(t.max_retry_delay),
                "timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                "outlets": [getattr(o, "uri", str(o)) for o in t.outlets],
                "on_failure": [getattr(c, "__qualname__", str(c))
                               for c in (t.on_failure_callback or [])],
            }
            for t in dag.tasks
        },
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def dagbag(airflow_unmigrated) -> dict:
    # As deployed: without the tests' fail-fast retry override.
    airflow = airflow_unmigrated
    env = {k: v for k, v in airflow.env.items() if k != "EQUIPME_DAG_RETRIES"}
    proc = subprocess.run(
        [sys.executable, "-c", _DESCRIBE, str(airflow.env["AIRFLOW__CORE__DAGS_FOLDER"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_dag_folder_imports_without_errors_and_defines_both_dags(dagbag):
    assert dagbag["import_errors"] == {}
    assert set(DAG_IDS) <= set(dagbag["dags"])


@pytest.mark.parametrize(
    ("dag_id", "schedule", "timeout"),
    [
        ("equipme_customers_hourly", "@hourly", dt.timedelta(minutes=50)),
        ("equipme_customers_weekly_full_refresh", "@weekly", dt.timedelta(hours=6)),
    ],
)
def test_dag_is_scheduled_safely(dagbag, dag_id, schedule, timeout):
    dag = dagbag["dags"][dag_id]
    assert dag["schedule"] == schedule
    assert dag["max_active_runs"] == 1
    assert dag["catchup"] is False
    weekly = dag_id == "equipme_customers_weekly_full_refresh"
    assert dag["params"] == [
        "dbt_path",
        "destination",
        "export_dir",
        "lake_data_path",
        "lake_schema",
        *(["maintenance_retention"] if weekly else []),
        "max_staleness",
        "restart",
        "s3_endpoint",
        "s3_region",
        "s3_url_style",
        "s3_use_ssl",
        "transform",
        "warehouse_path",
    ]
    assert dag["param_defaults"]["destination"] == "duckdb"
    assert dag["param_defaults"]["warehouse_path"] is None, "resolved at run time"
    assert dag["param_defaults"]["restart"] is False, "a retry resumes by default"
    # Staleness: 3 x the schedule (docs/operations.md).
    assert dag["param_defaults"]["max_staleness"] == {"@hourly": "3h", "@weekly": "21d"}[schedule]
    if weekly:
        assert dag["param_defaults"]["maintenance_retention"] == "7d"
    assert dag["edges"] == [
        ["extract_load", "quality_checks"],
        *([["publish", "maintain"]] if weekly else []),
        ["quality_checks", "transform"],
        ["transform", "publish"],
    ], "the asset (publish's outlet) moves only after the dbt models are built; the weekly "
    "maintenance after the full refresh is published"
    for task in dag["tasks"].values():
        assert task["pool"] == "equipme_warehouse"
        assert task["retries"] == 3
        assert task["backoff"] > 1, "exponential backoff between retries"
        assert task["max_retry_delay"] == "0:30:00"
        assert task["timeout"] == timeout.total_seconds()
        assert task["on_failure"] == ["on_task_failure"], "the notifier hook (docs/operations.md)"
    assert dag["tasks"]["publish"]["outlets"] == ["equipme://customers/"]


_IMPORT_COST = r"""
import sys, time, importlib.util
started = time.perf_counter()
import airflow.sdk
airflow_done = time.perf_counter()
spec = importlib.util.spec_from_file_location("equipme_customers", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
dag_done = time.perf_counter()
# The DAG reads the lake settings' names from `tap_equipme.pipeline.lake_connection` (light);
# the sync machinery and everything heavy stays out until a task runs.
heavy = [m for m in ("duckdb", "pyarrow", "requests", "singer_sdk", "tap_equipme.pipeline.sync",
                     "tap_equipme.pipeline.processes", "tap_equipme.warehouse.lake",
                     "openlineage.client")
         if m in sys.modules]
import json
print(json.dumps({"seconds": dag_done - airflow_done, "heavy": heavy}))
"""


def test_importing_the_dag_file_is_cheap_and_loads_no_heavy_modules(airflow_unmigrated):
    airflow = airflow_unmigrated
    dag_file = Path(airflow.env["AIRFLOW__CORE__DAGS_FOLDER"]) / "equipme_customers.py"
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_COST, str(dag_file)],
        env=airflow.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    assert measured["seconds"] < 1.0, "DAG file import, Airflow's own import excluded"
    assert measured["heavy"] == []


def test_importing_the_dag_file_makes_no_network_call(airflow_unmigrated):
    airflow = airflow_unmigrated
    probe = (
        "import socket, sys, importlib.util\n"
        "def refuse(*a, **k): raise RuntimeError('network call at import time')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import airflow.sdk\n"
        "spec = importlib.util.spec_from_file_location('m', sys.argv[1])\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "print(m.hourly.dag_id)\n"
    )
    dag_file = Path(airflow.env["AIRFLOW__CORE__DAGS_FOLDER"]) / "equipme_customers.py"
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(dag_file)],
        env=airflow.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("equipme_customers_hourly")
