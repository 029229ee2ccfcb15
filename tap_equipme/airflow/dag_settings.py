"""What a task of the Equipme DAGs reads from Airflow: Connections, the warehouse's params.

The tap's Connection, the lake's Connection, the warehouse from the run's params. Light at
parse time (Airflow's SDK and the list of lake settings only); the DAG file calls these inside
its tasks. The API key and the lake's credentials stay in the values returned: the key goes
to the tap's config, the lake's credentials into the sync's environment only
(`lake_environment`), never into a log line or an exception message.
"""

from __future__ import annotations

import contextlib
import os
import typing as t
from pathlib import Path

from airflow.sdk import BaseHook

from tap_equipme.pipeline.lake_connection import LAKE_SETTINGS

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from airflow.sdk import Connection

CONN_ID = "equipme_default"
LAKE_CONN_ID = "equipme_lake"

LAKE_PARAMS = {name: spec["type"] for name, spec in LAKE_SETTINGS.items()}
"""Destination `ducklake`: the non-secret lake settings (credentials: the worker's env)."""


def airflow_home() -> Path:
    """`$AIRFLOW_HOME` (default `~/airflow`), where the default warehouse files go."""
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))


def warehouse_location(params: Mapping[str, t.Any]) -> tuple[str, Path | str]:
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
        name = "equipme.duckdb" if destination == "duckdb" else "equipme_parquet"
        chosen = str(airflow_home() / "data" / name)
    return destination, Path(chosen).expanduser().resolve()


def warehouse_destination(
    params: Mapping[str, t.Any],
) -> tuple[str, Path | str, dict[str, t.Any], dict[str, str]]:
    """Return `(destination, path, lake settings, lake credentials)` for a task.

    Destination `ducklake` merges the params with the Connection `equipme_lake` (if defined);
    the credentials are for the task's environment only (`lake_environment`).

    Args:
        params: The run's params.

    Returns:
        The destination, the warehouse path (or catalog), the lake settings and credentials.
    """
    from tap_equipme.pipeline.lake_connection import lake_destination, lake_params

    destination, path = warehouse_location(params)
    if destination != "ducklake":
        return destination, path, lake_params(params), {}
    path, lake, credentials = lake_destination(params, lake_from_connection(required=False))
    return destination, path, lake, credentials


@contextlib.contextmanager
def task_warehouse(params: Mapping[str, t.Any]) -> Iterator[tuple[str, Path | str, dict]]:
    """Yield `(destination, path, lake settings)` with the lake's credentials in the env.

    Args:
        params: The run's params.

    Yields:
        What `warehouse_destination` returns but the credentials, which are in the process
        environment until the block ends (`lake_environment`).
    """
    from tap_equipme.pipeline.lake_connection import lake_environment

    destination, path, lake, credentials = warehouse_destination(params)
    with lake_environment(credentials):
        yield destination, path, lake


def _connection(conn_id: str, missing: str, *, required: bool = True) -> Connection | None:
    """The Airflow Connection `conn_id`, or a task failure (no retry) saying what to create."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        if not required:
            return None
        # A missing connection does not appear by retrying.
        raise AirflowFailException(f"Connection {conn_id!r} is not defined: {missing}") from None


def _fields(conn: Connection) -> dict[str, t.Any]:
    """The Connection's fields both readers take (the password never leaves these calls)."""
    return {
        "host": conn.host,
        "port": conn.port,
        "schema": conn.schema,
        "password": conn.password,
        "extra": conn.extra_dejson,
    }


def tap_config_from_connection(conn_id: str = CONN_ID) -> dict[str, t.Any]:
    """Build the tap settings from the Airflow Connection (the key never leaves it in logs).

    Any connection type works: `equipme` (the form with API URL and API key fields) or the
    older JSON-in-extra ones (`http`, ...); the mapping is `tap_equipme.airflow.connection`.

    Args:
        conn_id: The Connection id.

    Returns:
        Tap settings: `extra` first, then `api_url` from host/port and `api_key` from password.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from tap_equipme.airflow.connection import (
        EquipmeConnectionError,
        tap_settings_from_connection,
    )

    missing = "create it (type `equipme`) with the API URL (e.g. https://api.equipme.io) and the "
    conn = t.cast("Connection", _connection(conn_id, missing + "API key."))
    try:
        return tap_settings_from_connection(conn_id, **_fields(conn))
    except EquipmeConnectionError as exc:
        raise AirflowFailException(str(exc)) from None


def lake_from_connection(conn_id: str = LAKE_CONN_ID, *, required: bool = True) -> t.Any:
    """Read the DuckLake destination (catalog, settings, credentials) from its Connection.

    The credentials stay in the returned object's `credentials`, to be put in the sync's
    environment only (`tap_equipme.pipeline.lake_connection.lake_environment`).

    Args:
        conn_id: The Connection id: host/port/schema/login/password = the PostgreSQL catalog,
            extra = `data_path`, `lake_schema`, `s3_*`, `aws_access_key_id`, ...
        required: Whether a missing Connection is an error (else: None).

    Returns:
        A `tap_equipme.pipeline.lake_connection.LakeTarget`, or None.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from tap_equipme.pipeline.lake_connection import LakeConnectionError
    from tap_equipme.pipeline.lake_connection import lake_from_connection as from_fields

    conn = _connection(
        conn_id,
        "create it with host/port/schema/login/password = the lake's PostgreSQL catalog and "
        'extra = {"data_path": ...}.',
        required=required,
    )
    if conn is None:
        return None
    try:
        return from_fields(conn_id, login=conn.login, **_fields(conn))
    except LakeConnectionError as exc:
        # A wrong Connection does not get right by retrying.
        raise AirflowFailException(str(exc)) from None
