"""The API key never appears in any output: streams, logs, state, tables or files.

The key is recognisable (`sandbox-key-7f3a9c1e-DO-NOT-LEAK`); every run below is searched in
stdout, stderr, the warehouse (every column of every table, cast to text), the stored state
and the raw bytes of every file the run wrote. Error paths are included: API errors, a wrong
key, and an API whose error body echoes the request's headers back.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .leaks import (
    duckdb_columns_containing,
    files_containing,
    parquet_columns_containing,
    text_hits,
)
from .results import ScenarioResult
from .runner import Pipeline, SyncRun


def leaks(secret: str, runs: list[SyncRun], pipeline: Pipeline) -> list[str]:
    """Every place the secret was found after these runs."""
    channels = {}
    for index, run in enumerate(runs):
        channels[f"run {index} stdout"] = run.stdout
        channels[f"run {index} stderr"] = run.stderr
    found = text_hits(secret, channels)
    found += [
        f"warehouse column {c}" for c in duckdb_columns_containing(secret, pipeline.warehouse)
    ]
    found += [f"file {f}" for f in files_containing(secret, [pipeline.tmp_path])]
    found += [f"parquet {c}" for c in parquet_columns_containing(secret, [pipeline.tmp_path])]
    return found


@pytest.fixture
def record_secret(
    record_result: Callable[[ScenarioResult], None],
) -> Callable[[str, list[str], list[SyncRun]], None]:
    def record(scenario: str, found: list[str], runs: list[SyncRun]) -> None:
        record_result(
            ScenarioResult(
                section="secret",
                scenario=scenario,
                outcome="FAIL" if found else "pass",
                wall_s=round(sum(r.wall_s for r in runs), 1),
                note=f"found in: {found[:3]}" if found else f"{len(runs)} runs searched",
            )
        )

    return record


def test_the_leak_search_finds_a_planted_key_in_every_channel(tmp_path: Path, api_key: str) -> None:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE t (a STRUCT(b VARCHAR), c JSON)")
    con.execute("INSERT INTO t VALUES ({'b': ?}, NULL)", [f"x{api_key}y"])
    con.close()
    values = [f"row {i} {api_key if i == 999 else ''}" for i in range(1000)]
    pq.write_table(pa.table({"v": values}), tmp_path / "t.parquet", compression="zstd")
    (tmp_path / "log.txt").write_text(f"header X-API-KEY: {api_key}\n")
    assert duckdb_columns_containing(api_key, tmp_path / "w.duckdb") == ["t.a"]
    assert parquet_columns_containing(api_key, [tmp_path]) == [f"{tmp_path / 't.parquet'}:v"]
    assert str(tmp_path / "log.txt") in files_containing(api_key, [tmp_path])
    assert text_hits(api_key, {"stderr": f"... {api_key} ...", "stdout": ""}) == ["stderr"]


def test_successful_and_failing_runs_never_write_the_key(
    sandbox: Any, pipeline: Pipeline, api_key: str, record_secret: Any
) -> None:
    runs = [pipeline.run()]
    assert runs[0].returncode == 0, runs[0].describe()
    sandbox.control.set_faults(error_rate=1.0)
    pipeline.settings.update({"max_retries": 1})
    runs.append(pipeline.run())
    sandbox.control.clear_faults()
    assert runs[1].returncode != 0, runs[1].describe()
    runs.append(pipeline.run("--full-refresh"))
    found = leaks(api_key, runs, pipeline)
    record_secret("DuckDB: success, 500s, full refresh", found, runs)
    assert not found


def test_parquet_destination_never_writes_the_key(
    pipeline: Pipeline, api_key: str, record_secret: Any
) -> None:
    lake = pipeline.tmp_path / "lake"
    pipeline.use_parquet(lake)
    run = pipeline.run()
    assert run.returncode == 0, run.describe()
    assert any(lake.glob("*.parquet"))
    found = leaks(api_key, [run], pipeline)
    record_secret("Parquet: raw bytes of every file", found, [run])
    assert not found


def test_a_rejected_key_is_not_echoed_in_the_error(pipeline: Pipeline, record_secret: Any) -> None:
    wrong = "wrong-key-0c4f9a2b-DO-NOT-LEAK"
    run = pipeline.run(env=pipeline.env(api_key=wrong))
    assert run.returncode != 0, run.describe()
    found = leaks(wrong, [run], pipeline)
    record_secret("401: the rejected key", found, [run])
    assert not found


class _EchoingHandler(http.server.BaseHTTPRequestHandler):
    """An API that answers every request 400 and echoes the request's headers back."""

    status = 400

    def do_GET(self) -> None:
        body = json.dumps(
            {"error": "Bad Request", "detail": f"request headers: {dict(self.headers)}"}
        ).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(params=[400, 500], ids=["400", "500"])
def echoing_api(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    handler = type("Handler", (_EchoingHandler,), {"status": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", request.param
    finally:
        server.shutdown()
        server.server_close()


def test_an_error_body_that_echoes_the_key_does_not_leak_it(
    pipeline: Pipeline, api_key: str, echoing_api: tuple[str, int], record_secret: Any
) -> None:
    pipeline.base_url, status = echoing_api
    pipeline.settings.update({"max_retries": 1})
    run = pipeline.run()
    assert run.returncode != 0, run.describe()
    found = leaks(api_key, [run], pipeline)
    record_secret(f"{status} error body echoing the request's key", found, [run])
    assert not found


@pytest.mark.slow
def test_airflow_dag_runs_never_write_the_key_to_task_logs_or_outputs(
    sandbox: Any, api_key: str, tmp_path_factory: pytest.TempPathFactory, record_secret: Any
) -> None:
    # The DAG helper's Airflow home (tests/dags); a fresh one so its logs hold only this run.
    from ..dags.conftest import AirflowEnv  # type: ignore[misc]

    home = tmp_path_factory.mktemp("airflow-secrets")
    airflow = AirflowEnv(home)
    airflow.setup()
    warehouse = home / "data" / "equipme.duckdb"
    connection: dict[str, Any] = {
        "conn_type": "http",
        "host": sandbox.base_url,
        "password": api_key,
    }
    started = time.monotonic()
    runs = []
    # The hourly DAG (the weekly one runs the same tasks with full_refresh).
    done = airflow.dags_test(
        "equipme_customers_hourly", connection, {"warehouse_path": str(warehouse)}
    )
    runs.append(SyncRun(done.returncode, done.stdout, done.stderr, time.monotonic() - started))
    assert warehouse.exists()
    # An error path: the API fails every request, so the task fails and logs why.
    sandbox.control.set_faults(error_rate=1.0)
    connection["extra"] = json.dumps({"max_retries": 1})
    try:
        failed = airflow.dags_test(
            "equipme_customers_hourly", connection, {"warehouse_path": str(warehouse)}
        )
        runs.append(SyncRun(failed.returncode, failed.stdout, failed.stderr, 0.0))
    except AssertionError as failure:  # AirflowEnv.run raises with the output on failure
        runs.append(SyncRun(1, str(failure), "", time.monotonic() - started))
    sandbox.control.clear_faults()
    found = text_hits(api_key, {f"{i} out": r.stdout + r.stderr for i, r in enumerate(runs)})
    found += [f"warehouse column {c}" for c in duckdb_columns_containing(api_key, warehouse)]
    # Task logs, the metadata DB (connections are given by env, so the key must not be
    # stored there either), the warehouse, its Parquet export: every file of the home.
    found += [f"file {f}" for f in files_containing(api_key, [home])]
    found += [f"parquet {c}" for c in parquet_columns_containing(api_key, [home])]
    record_secret("Airflow: dags test, success and 500s (task logs, DB, exports)", found, runs)
    assert not found


@pytest.mark.slow
def test_meltano_run_never_writes_the_key_to_logs_state_or_the_system_db(
    sandbox: Any, api_key: str, tmp_path_factory: pytest.TempPathFactory, record_secret: Any
) -> None:
    # The pipeline/DAG helper's Meltano project (tests/meltano): a fresh one for this test.
    from ..meltano.conftest import MELTANO, MeltanoProject  # type: ignore[misc]

    if not MELTANO.exists():
        pytest.fail(f"{MELTANO} is missing: run `make meltano` first")
    project = MeltanoProject(tmp_path_factory.mktemp("meltano-secrets"))
    project.run("install")
    warehouse = project.root / "warehouse.duckdb"
    env = {
        "TAP_EQUIPME_API_KEY": api_key,
        "TAP_EQUIPME_API_URL": sandbox.base_url,
        "TARGET_DUCKDB_LAKE_PATH": str(warehouse),
    }
    started = time.monotonic()
    runs = []
    done = project.run("run", "tap-equipme", "target-duckdb-lake", env=env)
    runs.append(SyncRun(done.returncode, done.stdout, done.stderr, time.monotonic() - started))
    # An error path: every API request fails; the run fails and logs why.
    sandbox.control.set_faults(error_rate=1.0)
    try:
        failed = project.run(
            "run", "tap-equipme", "target-duckdb-lake", env={**env, "TAP_EQUIPME_MAX_RETRIES": "1"}
        )
        runs.append(SyncRun(failed.returncode, failed.stdout, failed.stderr, 0.0))
    except AssertionError as failure:  # MeltanoProject.run raises with the output
        runs.append(SyncRun(1, str(failure), "", time.monotonic() - started))
    sandbox.control.clear_faults()
    assert warehouse.exists()
    found = text_hits(api_key, {f"{i} out": r.stdout + r.stderr for i, r in enumerate(runs)})
    found += [f"warehouse column {c}" for c in duckdb_columns_containing(api_key, warehouse)]
    # .meltano/ holds the logs, the run's plugin configs, the state and the system db.
    found += [f"file {f}" for f in files_containing(api_key, [project.root])]
    found += [f"parquet {c}" for c in parquet_columns_containing(api_key, [project.root])]
    record_secret("Meltano: meltano run, success and 500s (.meltano/, system db)", found, runs)
    assert not found
