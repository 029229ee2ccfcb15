"""Equipme customers -> DuckDB (or Parquet): an hourly change-capture DAG and a weekly full refresh.

Both DAGs come from one factory: extract-load (`equipme-sync`'s `run_sync`) -> data quality
checks -> publish (reporting views and a Parquet export), which updates the asset
`equipme://customers` so downstream DAGs can be scheduled on fresh data.

Configuration:
- Connection `equipme_default`: host = API URL (e.g. `https://api.equipme.io`), password =
  API key, extra = optional tap settings as JSON (`page_size`, `active`, ...).
- Params `warehouse_path` (default: `$EQUIPME_WAREHOUSE_PATH`, else
  `$AIRFLOW_HOME/data/equipme.duckdb`, or `.../equipme_parquet` for Parquet, resolved when the
  task runs), `destination` (`duckdb` | `parquet`) and `export_dir` (default: `export/` beside
  the DuckDB file).
- Destination `ducklake`: `warehouse_path` is the DuckLake catalog (`postgres:host=...
  dbname=...`, no password), params `lake_data_path`, `lake_schema`, `s3_endpoint`,
  `s3_region`, `s3_url_style`, `s3_use_ssl`; the credentials come from the worker's
  environment (`PGPASSWORD`, `AWS_ACCESS_KEY_ID`, ...). The loader creates the views there.
- Pool `equipme_warehouse` with 1 slot: only one task at a time touches the warehouse file.
- Each task retries 3 times with exponential backoff (2, 4, 8 min, at most 30);
  `EQUIPME_DAG_RETRIES` (read when the file is parsed) overrides the count.

Nothing here does work at import time: heavy modules are imported inside the tasks.
"""

from __future__ import annotations

import datetime as dt
import os
import typing as t
from pathlib import Path

from airflow.sdk import Asset, BaseHook, Param, dag, get_current_context, task

CONN_ID = "equipme_default"
POOL = "equipme_warehouse"
CUSTOMERS_ASSET = Asset("equipme://customers")
START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def warehouse_location(params: t.Mapping[str, t.Any]) -> tuple[str, Path | str]:
    """Return `(destination, path)` from the DAG params, defaults resolved now.

    Args:
        params: The run's params.

    Returns:
        The destination and the absolute warehouse path (destination `ducklake`: the
        catalog, as given).
    """
    destination = str(params.get("destination") or "duckdb")
    chosen = params.get("warehouse_path") or os.environ.get("EQUIPME_WAREHOUSE_PATH")
    if destination == "ducklake":
        # A catalog, not a file: `postgres:...` must not be resolved against the cwd.
        return destination, str(chosen or "")
    if not chosen:
        home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
        name = "equipme.duckdb" if destination == "duckdb" else "equipme_parquet"
        chosen = str(home / "data" / name)
    return destination, Path(chosen).expanduser().resolve()


LAKE_PARAMS = {
    "lake_data_path": "string",
    "lake_schema": "string",
    "s3_endpoint": "string",
    "s3_region": "string",
    "s3_url_style": "string",
    "s3_use_ssl": "boolean",
}
"""Destination `ducklake`: the non-secret lake settings (credentials: the worker's env)."""


def lake_params(params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Return the lake settings set in the run's params.

    Args:
        params: The run's params.

    Returns:
        The `lake_*` / `s3_*` settings that are not None.
    """
    return {name: params[name] for name in LAKE_PARAMS if params.get(name) is not None}


def tap_config_from_connection(conn_id: str = CONN_ID) -> dict[str, t.Any]:
    """Build the tap settings from the Airflow Connection (the key never leaves it in logs).

    Args:
        conn_id: The Connection id.

    Returns:
        Tap settings: `extra` first, then `api_url` from host/port and `api_key` from password.
    """
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        # A missing connection does not appear by retrying.
        msg = (
            f"Connection {conn_id!r} is not defined: create it with host = the API URL "
            "(e.g. https://api.equipme.io) and password = the API key."
        )
        raise AirflowFailException(msg) from None
    settings: dict[str, t.Any] = dict(conn.extra_dejson or {})
    host = (conn.host or "").rstrip("/")
    if host:
        if "://" not in host:
            host = f"{conn.schema or 'https'}://{host}"
        if conn.port and host.count(":") < 2:  # the scheme has one colon, a port adds one
            host = f"{host}:{conn.port}"
        settings["api_url"] = host
    if conn.password:
        settings["api_key"] = conn.password
    if not settings.get("api_key"):
        msg = f"Connection {conn_id!r} has no API key: put it in the connection's password."
        raise AirflowFailException(msg)
    return settings


def build_dag(
    dag_id: str,
    *,
    schedule: str,
    full_refresh: bool,
    timeout: dt.timedelta,
    description: str,
) -> t.Any:
    """Build one Equipme customers DAG.

    Args:
        dag_id: The DAG id.
        schedule: Cron preset or expression.
        full_refresh: Whether extract-load ignores the bookmark (and marks deletions).
        timeout: Execution timeout of each task.
        description: One line shown in the UI.

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
        },
        params={
            "warehouse_path": Param(
                None,
                type=["null", "string"],
                description="DuckDB file or Parquet directory; default "
                "$EQUIPME_WAREHOUSE_PATH, else $AIRFLOW_HOME/data/equipme.duckdb "
                "(equipme_parquet for Parquet)",
            ),
            "destination": Param("duckdb", enum=["duckdb", "parquet", "ducklake"]),
            **{name: Param(None, type=["null", kind]) for name, kind in LAKE_PARAMS.items()},
            "export_dir": Param(
                None,
                type=["null", "string"],
                description="Parquet export of tables and views (DuckDB destination); "
                "default: export/ beside the DuckDB file",
            ),
        },
    )
    def equipme_customers() -> None:
        @task
        def extract_load() -> dict[str, t.Any]:
            import sys

            from tap_equipme.pipeline.sync import run_sync

            destination, path = warehouse_location(get_current_context()["params"])
            summary = run_sync(
                tap_config_from_connection(),
                destination,
                path,
                full_refresh=full_refresh,
                progress_interval=30.0,
                progress_out=sys.stderr,
                lake=lake_params(get_current_context()["params"]),
            )
            print(summary.render())  # the task log is the place for the summary
            return summary.as_dict()

        @task
        def quality_checks(summary: dict[str, t.Any]) -> dict[str, t.Any]:
            import dataclasses

            from airflow.sdk.exceptions import AirflowFailException

            from tap_equipme.pipeline.quality import QualityError, api_total, check_warehouse

            destination, path = warehouse_location(get_current_context()["params"])
            try:
                expected = api_total(tap_config_from_connection()) if full_refresh else None
                report = check_warehouse(
                    destination,
                    path,
                    expected_customers=expected,
                    lake=lake_params(get_current_context()["params"]),
                )
            except QualityError as exc:
                # Bad data does not get better by retrying.
                raise AirflowFailException(str(exc)) from None
            return {**dataclasses.asdict(report), "run_id": summary["run_id"]}

        @task(outlets=[CUSTOMERS_ASSET])
        def publish(report: dict[str, t.Any]) -> dict[str, t.Any]:
            from tap_equipme.warehouse.views import create_views, export_parquet

            params = get_current_context()["params"]
            destination, path = warehouse_location(params)
            if destination != "duckdb":
                return {"views": [], "exported": {}, "run_id": report["run_id"]}
            path = Path(path)
            export_dir = Path(params.get("export_dir") or path.parent / "export")
            views = create_views(path)
            exported = export_parquet(path, export_dir)
            return {
                "views": views,
                "exported": {name: str(file) for name, file in exported.items()},
                "run_id": report["run_id"],
            }

        publish(quality_checks(extract_load()))  # type: ignore[arg-type]

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
    description="Equipme customers and metadata, full refresh: catches updates and deletions",
)
