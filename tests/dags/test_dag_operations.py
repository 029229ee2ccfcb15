"""What an operator sees without reading logs, under real Airflow (`airflow dags test`):
the OpenLineage provider's events for extract-load, and the failure notifier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DAG_ID = "equipme_customers_hourly"


@pytest.fixture
def connection(sandbox, api_key) -> dict:
    return {
        "conn_type": "equipme",
        "host": sandbox.base_url,
        "password": api_key,
        "extra": {"request_timeout": 10, "max_retries": 0},
    }


def lineage_env(events: Path) -> dict[str, str]:
    """The provider's own configuration: the file transport, no server."""
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "equipme-airflow-tests",
    }


def task_events(events: Path, task_id: str) -> list[dict]:
    found = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    return [e for e in found if e["job"]["name"] == f"{DAG_ID}.{task_id}"]


@pytest.mark.slow
def test_extract_load_reports_the_api_in_and_each_table_out(
    airflow, sandbox, connection, tmp_path, api_key
):
    events, warehouse = tmp_path / "events.ndjson", tmp_path / "wh.duckdb"
    airflow.run(
        "dags",
        "test",
        DAG_ID,
        "-c",
        json.dumps({"warehouse_path": str(warehouse)}),
        extra_env={"AIRFLOW_CONN_EQUIPME_DEFAULT": json.dumps(connection), **lineage_env(events)},
    )
    assert api_key not in events.read_text()
    extract = task_events(events, "extract_load")
    assert [e["eventType"] for e in extract] == ["START", "COMPLETE"]
    complete = extract[-1]
    assert complete["job"]["namespace"] == "equipme-airflow-tests"
    assert [d["name"] for d in complete["inputs"]] == [
        "/v1/sales/customers",
        "/v1/sales/customers/{customerId}/metadata",
    ]
    assert {d["namespace"] for d in complete["inputs"]} == {sandbox.base_url.rstrip("/")}
    outputs = {d["name"]: d for d in complete["outputs"]}
    assert {d["namespace"] for d in outputs.values()} == {f"duckdb://{warehouse.resolve()}"}
    assert {"wh.main.customers", "wh.main.customer_metadata"} <= set(outputs)
    fields = [f["name"] for f in outputs["wh.main.customers"]["facets"]["schema"]["fields"]]
    assert {"id", "name", "_loaded_at"} <= set(fields)


@pytest.mark.slow
def test_a_failed_task_calls_the_configured_notifier_with_the_failure_and_no_secret(
    airflow, sandbox, connection, tmp_path, api_key
):
    calls, events = tmp_path / "calls.ndjson", tmp_path / "events.ndjson"
    notifier = {"notifier": "stub_notifier.RecordingNotifier", "kwargs": {"out": str(calls)}}
    wrong_key = {**connection, "password": api_key + "-revoked"}
    proc = airflow.run(
        "dags",
        "test",
        DAG_ID,
        "-c",
        json.dumps({"warehouse_path": str(tmp_path / "wh.duckdb")}),
        extra_env={
            "AIRFLOW_CONN_EQUIPME_DEFAULT": json.dumps(wrong_key),
            "EQUIPME_FAILURE_NOTIFIER": json.dumps(notifier),
            "PYTHONPATH": str(HERE),
            **lineage_env(events),
        },
        check=False,
    )
    assert proc.returncode != 0 or "failed" in proc.stdout + proc.stderr
    records = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [r["task_id"] for r in records] == ["extract_load"]
    record = records[0]
    assert record["dag_id"] == DAG_ID
    assert record["run_id"]
    assert "401" in record["error"] or "key" in record["error"].lower()
    assert record["text"].startswith(f"Equipme task {DAG_ID}.extract_load failed (run ")
    assert record["run_id"] in record["text"]
    assert api_key not in calls.read_text()
    assert api_key not in events.read_text()
    # The failed try's lineage: FAIL, with the API it read.
    failed = task_events(events, "extract_load")
    assert failed[-1]["eventType"] == "FAIL"
    assert failed[-1]["inputs"][0]["name"] == "/v1/sales/customers"
