"""OpenLineage events of `equipme-sync` runs, written by openlineage-python's file transport."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tap_equipme.pipeline.lineage import api_datasets, lineage_configured, table_namespace
from tap_equipme.pipeline.sync import SyncError, run_sync

OL_ENV = ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED", "OPENLINEAGE_NAMESPACE")


@pytest.fixture
def events_file(tmp_path, monkeypatch) -> Path:
    """Configure openlineage-python's file transport (one JSON event a line) through its env."""
    for name in OL_ENV:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "events.ndjson"
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(path))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    monkeypatch.setenv("OPENLINEAGE_NAMESPACE", "equipme-tests")
    return path


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_sandbox_sync_sends_start_then_complete_with_the_api_in_and_each_table_out(
    tap_config, sandbox, tmp_path, events_file, api_key
):
    path = tmp_path / "wh.duckdb"
    summary = run_sync(tap_config, "duckdb", path, progress_out=None)
    text = events_file.read_text()
    assert api_key not in text
    events = read_events(events_file)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert {e["run"]["runId"] for e in events} == {summary.run_id}
    complete = events[1]
    assert complete["job"] == {
        **complete["job"],
        "namespace": "equipme-tests",
        "name": "equipme-sync.change_capture",
    }
    port = sandbox.base_url.rsplit(":", 1)[1].rstrip("/")
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [
        (f"http://127.0.0.1:{port}", "/v1/sales/customers"),
        (f"http://127.0.0.1:{port}", "/v1/sales/customers/{customerId}/metadata"),
    ]
    namespace = f"duckdb://{path.resolve()}"
    outputs = {d["name"]: d for d in complete["outputs"]}
    assert {d["namespace"] for d in outputs.values()} == {namespace}
    for table in ("customers", "customer_metadata", "customer_metadata_reads"):
        assert f"wh.main.{table}" in outputs, sorted(outputs)
    assert not any("_equipme_" in name for name in outputs)
    customers = outputs["wh.main.customers"]
    # The schema facet is the table's real columns; the row count is this run's writes.
    with duckdb.connect(str(path), read_only=True) as con:
        columns = [r[0] for r in con.execute("DESCRIBE customers").fetchall()]
    assert [f["name"] for f in customers["facets"]["schema"]["fields"]] == columns
    assert customers["outputFacets"]["outputStatistics"]["rowCount"] == summary.rows("customers")
    assert summary.lineage["outputs"][0]["namespace"] == namespace
    # START already names the input and the stream tables it is about to write.
    assert [d["name"] for d in events[0]["inputs"]] == [d["name"] for d in complete["inputs"]]
    assert "wh.main.customers" in [d["name"] for d in events[0]["outputs"]]


def test_a_failed_sync_sends_fail_with_its_reason_and_no_key(
    tap_config, sandbox, tmp_path, events_file, api_key
):
    bad = {**tap_config, "api_key": api_key + "-wrong", "max_retries": 0}
    with pytest.raises(SyncError):
        run_sync(bad, "parquet", tmp_path / "wh", progress_out=None)
    text = events_file.read_text()
    assert api_key not in text
    events = read_events(events_file)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    message = events[1]["run"]["facets"]["errorMessage"]["message"]
    assert "401" in message or "key" in message.lower()
    assert events[1]["inputs"][0]["name"] == "/v1/sales/customers"


def test_nothing_is_sent_without_configuration_and_a_broken_transport_does_not_fail_the_sync(
    tap_config, sandbox, tmp_path, monkeypatch, capsys
):
    for name in OL_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in [k for k in __import__("os").environ if k.startswith("OPENLINEAGE__")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not lineage_configured()
    # A lineage server that is not there: the sync succeeds and says why nothing was sent.
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "http")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__URL", "http://127.0.0.1:9")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__RETRY__TOTAL", "0")
    import sys

    summary = run_sync(tap_config, "duckdb", tmp_path / "wh.duckdb", progress_out=sys.stderr)
    assert summary.status == "succeeded"
    assert "OpenLineage COMPLETE event not sent" in capsys.readouterr().err
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert not lineage_configured()


def test_dataset_names_follow_the_naming_spec_and_carry_no_credentials(tmp_path):
    assert api_datasets("https://user:secret@api.equipme.io:443/?token=x")[0] == {
        "namespace": "https://api.equipme.io",
        "name": "/v1/sales/customers",
    }
    assert api_datasets("http://localhost:8080/base/")[0] == {
        "namespace": "http://localhost:8080",
        "name": "/base/v1/sales/customers",
    }
    assert table_namespace("parquet", tmp_path / "wh") == ("file", f"{tmp_path / 'wh'}/")
    assert table_namespace(
        "ducklake",
        "postgres:host=db.internal port=6543 dbname=lake user=loader",
        {"lake_schema": "tenant_a"},
    ) == ("ducklake://db.internal:6543", "lake.tenant_a.")
    assert table_namespace("ducklake", "postgresql://loader@db.internal/lake", None) == (
        "ducklake://db.internal:5432",
        "lake.main.",
    )
    assert table_namespace(
        "ducklake", "postgres:postgresql://postgres:@/lake?host=/tmp/pg-socket&port=5433", None
    ) == ("ducklake://localhost:5433", "lake.main.")
    assert table_namespace("ducklake", tmp_path / "cat.ducklake", None) == (
        f"ducklake://{tmp_path / 'cat.ducklake'}",
        "main.",
    )


def test_a_lineage_server_that_never_answers_holds_the_sync_no_longer_than_the_deadline(
    events_file, monkeypatch
):
    import socket
    import time

    from tap_equipme.pipeline import lineage

    with socket.socket() as server:  # accepts connections (backlog), never answers
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "http")
        monkeypatch.setenv(
            "OPENLINEAGE__TRANSPORT__URL", f"http://127.0.0.1:{server.getsockname()[1]}"
        )
        monkeypatch.setenv("OPENLINEAGE__TRANSPORT__RETRY__TOTAL", "0")
        monkeypatch.setattr(lineage, "SEND_DEADLINE_S", 0.5)
        started = time.monotonic()
        sent = lineage.emit_run_event(
            "START", "0190a8a0-0000-7000-8000-000000000000", "equipme-sync.x", {}
        )
        assert not sent
        assert time.monotonic() - started < 2.0
    # The abandoned sender ends once the server goes (it must not outlive the test's output).
    import threading

    for thread in threading.enumerate():
        if thread.name == "openlineage-emit":
            thread.join(10)


@pytest.mark.slow  # a DuckLake sync on an embedded PostgreSQL catalog: about 30 s here
def test_a_ducklake_sync_names_its_tables_by_catalog_database_and_lake_schema(
    tap_config, sandbox, tmp_path, events_file, lake_postgres, api_key
):
    from urllib.parse import urlsplit

    catalog = lake_postgres.create_database()
    database = urlsplit(catalog.removeprefix("postgres:")).path.lstrip("/")
    lake = {"lake_data_path": str(tmp_path / "lake-data"), "lake_schema": "tenant_a"}
    summary = run_sync(tap_config, "ducklake", catalog, progress_out=None, lake=lake)
    assert api_key not in events_file.read_text()
    complete = read_events(events_file)[-1]
    assert complete["eventType"] == "COMPLETE"
    outputs = {d["name"]: d for d in complete["outputs"]}
    assert {d["namespace"] for d in outputs.values()} == {"ducklake://localhost:5432"}
    customers = outputs[f"{database}.tenant_a.customers"]
    assert {"id", "name"} <= {f["name"] for f in customers["facets"]["schema"]["fields"]}
    assert customers["outputFacets"]["outputStatistics"]["rowCount"] == summary.rows("customers")
    assert f"{database}.tenant_a.customer_metadata" in outputs
