"""Equipme customers -> DuckDB (or Parquet): an hourly change-capture DAG and a weekly full refresh.

Both DAGs come from one factory: extract-load (`equipme-sync`'s `run_sync`) -> data quality
checks -> transform (`dbt build` of the package in transform/: models and their tests) ->
publish (reporting views and a Parquet export), which updates the asset `equipme://customers`
so downstream DAGs can be scheduled on fresh data and built models. The weekly full refresh
then runs `maintain` (`equipme-sync maintain --apply`: DuckLake compaction, snapshot expiry
older than param `maintenance_retention`, default 7d, and cleanup; DuckDB CHECKPOINT).

Configuration:
- Connection `equipme_default`, type `equipme` (fields API URL and API key; any older type
  works too): host = API URL (e.g. `https://api.equipme.io`), password = API key, extra =
  optional tap settings as JSON (`page_size`, `active`, ...).
- Params `warehouse_path` (default: `$EQUIPME_WAREHOUSE_PATH`, else
  `$AIRFLOW_HOME/data/equipme.duckdb`, or `.../equipme_parquet` for Parquet, resolved when the
  task runs), `destination` (`duckdb` | `parquet`) and `export_dir` (default: `export/` beside
  the DuckDB file).
- Destination `ducklake` (several workers): Connection `equipme_lake` = the PostgreSQL
  catalog (host, port, schema = database, login, password) and in extra `data_path`,
  `lake_schema`, `s3_endpoint`, `s3_region`, `s3_url_style`, `s3_use_ssl`,
  `aws_access_key_id`, `aws_secret_access_key`; the secrets go only into the sync's
  environment. Params `warehouse_path` (the catalog, `postgres:host=... dbname=...`, no
  password) and `lake_*` / `s3_*` override the Connection's non-secret fields; without the
  Connection, the credentials come from the worker's environment (`PGPASSWORD`, `AWS_*`).
  The loader creates the views in the lake; tasks share nothing but the lake and XCom JSON.
- Param `restart` (default false): start over instead of continuing an interrupted run; a
  retry always resumes what the failed try landed (tap checkpoints, see docs/resume.md).
- Pool `equipme_warehouse` with 1 slot: only one task at a time touches the warehouse file.
- Each task retries 3 times with exponential backoff (2, 4, 8 min, at most 30);
  `EQUIPME_DAG_RETRIES` (read when the file is parsed) overrides the count.
- Operations (docs/operations.md): a task that fails for good calls the notifier named by
  `$EQUIPME_FAILURE_NOTIFIER` or the Variable `equipme_failure_notifier` (Slack, email, ...);
  param `max_staleness` (default 3 x the schedule) fails the checks naming a stream whose last
  successful load is older; with an OpenLineage transport configured, extract-load reports
  the API as input and each table as output.

Nothing here does work at import time: heavy modules are imported inside the tasks.
"""

from __future__ import annotations

import datetime as dt
import os
import typing as t

from airflow.sdk import Asset, Param, dag, get_current_context, task

# Light at parse time: failure alerts (a notifier read when a task fails), the task that
# reports its sync's OpenLineage datasets, what a task reads from Airflow (Connections,
# params; no DuckDB, no singer-sdk, no sync machinery).
from tap_equipme.airflow.alerts import default_max_staleness, on_task_failure
from tap_equipme.airflow.dag_settings import (
    LAKE_PARAMS,
    airflow_home,
    tap_config_from_connection,
    task_warehouse,
    warehouse_destination,
)
from tap_equipme.airflow.lineage import sync_task

POOL = "equipme_warehouse"
CUSTOMERS_ASSET = Asset("equipme://customers")
START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def build_dag(
    dag_id: str,
    *,
    schedule: str,
    full_refresh: bool,
    timeout: dt.timedelta,
    description: str,
    maintenance: bool = False,
) -> t.Any:
    """Build one Equipme customers DAG.

    Args:
        dag_id: The DAG id.
        schedule: Cron preset or expression.
        full_refresh: Whether extract-load ignores the bookmark (and marks deletions).
        timeout: Execution timeout of each task.
        description: One line shown in the UI.
        maintenance: Whether a `maintain` task (compaction, expiry, CHECKPOINT) follows
            publish.

    Returns:
        The DAG.
    """

    @dag(
        dag_id=dag_id,
        description=description,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["equipme", "elt"],
        doc_md=__doc__,
        default_args={
            "pool": POOL,
            # `EQUIPME_DAG_RETRIES=0` lets `airflow dags test` (tests, demo) fail fast.
            "retries": int(os.environ.get("EQUIPME_DAG_RETRIES", "3")),
            "retry_delay": dt.timedelta(minutes=2),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": dt.timedelta(minutes=30),
            "execution_timeout": timeout,
            "on_failure_callback": on_task_failure,
        },
        params={
            "warehouse_path": Param(
                None,
                type=["null", "string"],
                description="DuckDB file or Parquet directory; default "
                "$EQUIPME_WAREHOUSE_PATH, else $AIRFLOW_HOME/data/equipme.duckdb "
                "(equipme_parquet for Parquet)",
            ),
            # A deployment picks its destination once (e.g. `ducklake` on a Celery or
            # Kubernetes Airflow) with EQUIPME_DESTINATION, read when the file is parsed.
            "destination": Param(
                os.environ.get("EQUIPME_DESTINATION") or "duckdb",
                enum=["duckdb", "parquet", "ducklake"],
            ),
            **{name: Param(None, type=["null", kind]) for name, kind in LAKE_PARAMS.items()},
            # dbt models over the warehouse (transform/, `make dbt`); EQUIPME_TRANSFORM=0 (read
            # when the file is parsed) turns them off for a deployment without dbt.
            "transform": Param(os.environ.get("EQUIPME_TRANSFORM", "1") != "0", type="boolean"),
            "dbt_path": Param(
                None,
                type=["null", "string"],
                description="DuckDB file the dbt models are built in; default beside the "
                "warehouse (<name>_dbt.duckdb), $AIRFLOW_HOME/data/equipme_dbt.duckdb for a lake",
            ),
            "restart": Param(
                False,
                type="boolean",
                description="Start over instead of continuing an interrupted run (first "
                "try only: a retry of this run resumes what its first try landed)",
            ),
            "max_staleness": Param(
                default_max_staleness(schedule),
                type=["null", "string"],
                description="Fail the checks naming a stream whose last successful load is "
                "older than this (e.g. 3h, 90m, 21d; default 3 x the schedule; null: off)",
            ),
            "export_dir": Param(
                None,
                type=["null", "string"],
                description="Parquet export of tables and views (DuckDB destination); "
                "default: export/ beside the DuckDB file",
            ),
            **(
                {
                    "maintenance_retention": Param(
                        "7d",
                        type="string",
                        pattern=r"^\d+[smhdw]$",
                        description="DuckLake: snapshots (time travel) kept this long by "
                        "the maintain task (units s, m, h, d, w)",
                    )
                }
                if maintenance
                else {}
            ),
        },
    )
    def equipme_customers() -> None:
        @sync_task
        def extract_load() -> dict[str, t.Any]:
            import sys

            from tap_equipme.pipeline.lake_connection import lake_environment
            from tap_equipme.pipeline.sync import run_sync

            context = get_current_context()
            params = context["params"]
            destination, path, lake, credentials = warehouse_destination(params)
            # A retry runs the same command and so resumes where the failed try stopped.
            restart = bool(params.get("restart")) and context["ti"].try_number <= 1
            # The lake's credentials reach the loader through its environment only.
            with lake_environment(credentials):
                summary = run_sync(
                    tap_config_from_connection(),
                    destination,
                    path,
                    full_refresh=full_refresh,
                    progress_interval=30.0,
                    progress_out=sys.stderr,
                    lake=lake,
                    restart=restart,
                    lineage_events=False,  # the OpenLineage provider reports this task
                )
            print(summary.render())  # the task log is the place for the summary
            return summary.as_dict()

        @task
        def quality_checks(summary: dict[str, t.Any]) -> dict[str, t.Any]:
            import dataclasses

            from airflow.sdk.exceptions import AirflowFailException

            from tap_equipme.pipeline.quality import (
                QualityError,
                api_total,
                check_warehouse,
                parse_duration,
            )

            params = get_current_context()["params"]
            try:
                stale = params.get("max_staleness")
                expected = api_total(tap_config_from_connection()) if full_refresh else None
                with task_warehouse(params) as (destination, path, lake):
                    report = check_warehouse(
                        destination,
                        path,
                        expected_customers=expected,
                        lake=lake,
                        max_staleness=parse_duration(stale) if stale else None,
                    )
            except QualityError as exc:
                # Bad data does not get better by retrying.
                raise AirflowFailException(str(exc)) from None
            return {**dataclasses.asdict(report), "run_id": summary["run_id"]}

        @task
        def transform(report: dict[str, t.Any]) -> dict[str, t.Any]:
            """`dbt build` of transform/ after the checks: the asset moves only if it passes."""
            from airflow.sdk.exceptions import AirflowFailException

            from tap_equipme.pipeline.transform import TransformError, run_dbt_build

            params = get_current_context()["params"]
            if not params.get("transform"):
                return {"run_id": report["run_id"], "transform": None}
            dbt_path = params.get("dbt_path")
            if params.get("destination") == "ducklake":
                dbt_path = dbt_path or str(airflow_home() / "data" / "equipme_dbt.duckdb")
            try:
                with task_warehouse(params) as (destination, path, lake):
                    summary = run_dbt_build(destination, path, lake=lake, dbt_path=dbt_path)
            except TransformError as exc:
                # A failed model or test does not pass by retrying; the asset stays put.
                raise AirflowFailException(str(exc)) from None
            return {"run_id": report["run_id"], "transform": summary.as_dict()}

        @task(outlets=[CUSTOMERS_ASSET])
        def publish(report: dict[str, t.Any]) -> dict[str, t.Any]:
            from tap_equipme.pipeline.publish import publish as publish_warehouse

            params = get_current_context()["params"]
            with task_warehouse(params) as (destination, path, lake):
                published = publish_warehouse(
                    destination, path, params.get("export_dir"), lake=lake
                )
            return {**published, "run_id": report["run_id"]}

        @task
        def maintain(published: dict[str, t.Any]) -> dict[str, t.Any]:
            """`equipme-sync maintain --apply` after the week's full refresh is published."""
            from tap_equipme.pipeline.maintain_cli import run_maintenance

            params = get_current_context()["params"]
            with task_warehouse(params) as (destination, path, lake):
                report = run_maintenance(
                    destination,
                    str(path),
                    lake,
                    retention=params["maintenance_retention"],
                    apply=True,
                )
            print(report.render())
            return {**report.as_dict(), "run_id": published["run_id"]}

        published = publish(transform(quality_checks(extract_load())))  # type: ignore[arg-type]
        if maintenance:
            maintain(published)  # type: ignore[arg-type]

    return equipme_customers()


hourly = build_dag(
    "equipme_customers_hourly",
    schedule="@hourly",
    full_refresh=False,
    timeout=dt.timedelta(minutes=50),
    description="Equipme customers and metadata, change capture (re-list, rolling metadata)",
)
weekly_full_refresh = build_dag(
    "equipme_customers_weekly_full_refresh",
    schedule="@weekly",
    full_refresh=True,
    timeout=dt.timedelta(hours=6),
    description="Equipme customers and metadata, full refresh: catches updates and deletions; "
    "then warehouse maintenance",
    maintenance=True,
)
