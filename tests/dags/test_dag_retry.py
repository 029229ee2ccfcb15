"""A task retried (on this worker or another) repeats harmlessly: the DAG's tasks are idempotent.

The DAG runs once, then `extract_load` runs again as a retry would (`airflow tasks
test`: a fresh process each time, with nothing of the first run but the warehouse and its
state): the warehouse still equals the sandbox, no row is duplicated, and the repeated load
inserts nothing. (`quality_checks` only reads; `publish` replaces its views and files.)
"""

from __future__ import annotations

import json

import duckdb
import pytest

pytestmark = pytest.mark.slow
DAG_ID = "equipme_customers_hourly"


def test_extract_load_repeated_for_one_run_changes_nothing(
    airflow, sandbox, api_key, tmp_path, landed
):
    warehouse = tmp_path / "wh.duckdb"
    conf = {"warehouse_path": str(warehouse), "export_dir": str(tmp_path / "export")}
    connection = {"conn_type": "http", "host": sandbox.base_url, "password": api_key}
    airflow.dags_test(DAG_ID, connection, conf)
    snapshot = sandbox.control.snapshot()
    assert landed.differences("duckdb", warehouse, snapshot) == []

    env = {"AIRFLOW_CONN_EQUIPME_DEFAULT": json.dumps(connection)}
    proc = airflow.run(
        "tasks", "test", DAG_ID, "extract_load", "-t", json.dumps(conf), extra_env=env
    )
    assert landed.differences("duckdb", warehouse, snapshot) == []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        repeated = con.execute(
            "SELECT run_id, rows_inserted, status FROM _equipme_loads "
            "WHERE stream = 'customers' ORDER BY started_at"
        ).fetchall()
    assert len(repeated) == 2
    assert repeated[1][1:] == (0, "succeeded")
    assert api_key not in proc.stdout + proc.stderr
