"""The DAGs run end to end with `airflow dags test` against the sandbox (slow: real Airflow)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


NEW_CUSTOMERS = [
    {"name": "Bergen Anlegg AS", "customerNumber": "DAG-1", "active": True},
    {"name": "Utrecht Dakwerken B.V.", "customerNumber": "DAG-2", "active": True},
]


@pytest.fixture
def connection(sandbox, api_key) -> dict:
    """The `equipme_default` connection as Airflow's JSON form (passed through the env)."""
    return {
        "conn_type": "http",
        "host": sandbox.base_url,
        "password": api_key,
        "extra": {"request_timeout": 10, "max_retries": 3},
    }


def loads_of_last_run(path) -> dict[str, tuple[int, int, int, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT stream, rows_inserted, rows_updated, rows_deleted, status FROM _equipme_loads "
            "WHERE run_id = (SELECT run_id FROM _equipme_loads ORDER BY started_at DESC LIMIT 1)"
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.mark.slow
def test_hourly_dag_lands_the_sandbox_then_exactly_the_new_customers(
    airflow, sandbox, connection, tmp_path, api_key, landed
):
    warehouse, export = tmp_path / "wh.duckdb", tmp_path / "export"
    conf = {"warehouse_path": str(warehouse), "export_dir": str(export)}

    first = airflow.dags_test("equipme_customers_hourly", connection, conf)
    snapshot = sandbox.control.snapshot()
    assert landed.differences("duckdb", warehouse, snapshot) == []
    assert landed.differences("parquet", export, snapshot) == []
    assert (export / "customers_report.parquet").is_file()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    assert {"customers_report", "customer_metadata_wide"} <= views

    sandbox.control.clear_stats()
    new_ids = sandbox.control.create_customers(NEW_CUSTOMERS)
    # The second run also builds the dbt models (transform task, between checks and publish).
    models = tmp_path / "models.duckdb"
    second = airflow.dags_test(
        "equipme_customers_hourly", connection, {**conf, "transform": True, "dbt_path": str(models)}
    )
    snapshot = sandbox.control.snapshot()
    with duckdb.connect(str(models), read_only=True) as con:
        staged = con.execute(
            "SELECT customer_id, customer_name FROM main_equipme.stg_equipme__customers"
        ).fetchall()
    assert sorted(staged) == sorted((c["id"], c["name"]) for c in snapshot["customers"])
    assert set(new_ids) <= {row[0] for row in staged}
    assert landed.differences("duckdb", warehouse, snapshot) == []
    assert landed.differences("parquet", export, snapshot) == []
    assert loads_of_last_run(warehouse)["customers"] == (len(new_ids), 0, 0, "succeeded")
    assert any("createdAfter=" in q for q in sandbox.control.stats()["queries"])
    for proc in (first, second):
        assert api_key not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_weekly_full_refresh_marks_a_deleted_customer(
    airflow, sandbox, connection, tmp_path, landed
):
    warehouse = tmp_path / "wh.duckdb"
    conf = {"warehouse_path": str(warehouse), "export_dir": str(tmp_path / "export")}
    airflow.dags_test("equipme_customers_hourly", connection, conf)
    gone = sandbox.control.snapshot()["customers"][5]["id"]
    sandbox.control.delete_customers([gone])

    weekly = airflow.dags_test("equipme_customers_weekly_full_refresh", connection, conf)
    assert landed.deleted_ids("duckdb", warehouse) == {gone}
    # The weekly run ends with the warehouse maintenance (a CHECKPOINT of the DuckDB file).
    assert f"Maintenance of the duckdb warehouse at {warehouse}" in weekly.stdout + weekly.stderr
    assert landed.differences("duckdb", warehouse, sandbox.control.snapshot()) == []
    assert loads_of_last_run(warehouse)["customers"][2] == 1, "one row deleted"


@pytest.mark.slow
def test_hourly_dag_with_parquet_destination_and_an_equipme_connection_lands_the_sandbox(
    airflow, sandbox, api_key, tmp_path, landed
):
    # The `equipme` connection type as its form saves it: API URL in host, the key in
    # password, the named fields in extra (the other tests keep the older `http` type).
    connection = {
        "conn_type": "equipme",
        "host": sandbox.base_url,
        "password": api_key,
        "extra": {"sync_mode": "change_capture", "page_size": 100, "max_requests_per_second": ""},
    }
    warehouse = tmp_path / "parquet-wh"
    conf = {"warehouse_path": str(warehouse), "destination": "parquet"}
    airflow.dags_test("equipme_customers_hourly", connection, conf)
    assert landed.differences("parquet", warehouse, sandbox.control.snapshot()) == []


@pytest.mark.slow
def test_missing_connection_fails_the_run_at_once_without_retries(airflow, tmp_path):
    # As deployed (3 retries with minutes of backoff): the failure must not wait for them.
    env = {k: v for k, v in airflow.env.items() if k not in ("EQUIPME_DAG_RETRIES",)}
    env.pop("AIRFLOW_CONN_EQUIPME_DEFAULT", None)
    conf = json.dumps({"warehouse_path": str(tmp_path / "wh.duckdb")})
    started = time.monotonic()
    proc = subprocess.run(
        [airflow_bin(), "dags", "test", "equipme_customers_hourly", "-c", conf],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode != 0
    assert "Connection 'equipme_default' is not defined" in proc.stdout + proc.stderr
    assert time.monotonic() - started < 120, "no retry delays"
    assert not (tmp_path / "wh.duckdb").exists()
