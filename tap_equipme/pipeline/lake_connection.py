"""A DuckLake destination described by one Airflow-style Connection (host, login, extra...).

The DAG looks the Connection up (`equipme_lake`) and hands its fields here, with its run's
params (`lake_destination`); nothing in this module imports Airflow (nor anything heavy: the
DAG file reads `LAKE_SETTINGS` when parsed), so the mapping is tested without it. The result
keeps the catalog (a libpq conninfo without the password), the `lake_*` / `s3_*` loader
settings, and the credentials apart: the credentials go only into the environment of the
process that runs the sync (`lake_environment`), where the loader reads them (`PGPASSWORD`,
`AWS_*`), never into argv, settings, a log line or an XCom.

Connection fields:

- host, port, schema (the catalog's database), login, password: the PostgreSQL catalog;
- extra (JSON): `data_path` (a directory or `s3://bucket/prefix/`), `lake_schema`,
  `s3_endpoint`, `s3_region`, `s3_url_style` (`path` | `vhost`), `s3_use_ssl`, and the object
  storage keys `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from tap_equipme.warehouse.lake_config import CREDENTIAL_ENV, LAKE_SETTINGS

__all__ = ["CREDENTIAL_ENV", "LAKE_SETTINGS"]

SETTING_EXTRAS = {
    ("data_path" if name == "lake_data_path" else name): name for name in LAKE_SETTINGS
}
"""Connection extra -> loader setting (the loader's `lake_*` / `s3_*` settings)."""
CREDENTIAL_EXTRAS = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
}
"""Connection extra -> environment variable of the loader."""


class LakeConnectionError(ValueError):
    """The Connection cannot describe a lake; the message names the field (never its value)."""


@dataclass(frozen=True)
class LakeTarget:
    """Where and how to load: catalog, settings, and the credentials kept apart."""

    catalog: str
    """`postgres:<conninfo>` without a password: safe to log and to pass as `path`."""
    settings: dict[str, t.Any]
    """The loader's `lake_*` / `s3_*` settings (no secret)."""
    credentials: dict[str, str] = field(repr=False)
    """Environment variables for the loader: `PGPASSWORD`, `AWS_*` (secret)."""


def _conninfo_value(value: str) -> str:
    """Quote one libpq conninfo value (spaces, quotes and backslashes escaped)."""
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def lake_from_connection(
    conn_id: str,
    *,
    host: str | None,
    port: int | None,
    schema: str | None,
    login: str | None,
    password: str | None,
    extra: Mapping[str, t.Any] | None,
) -> LakeTarget:
    """Build the lake destination from a Connection's fields.

    Args:
        conn_id: The Connection id (for messages).
        host: The catalog's PostgreSQL host (a name, an address or a Unix socket directory).
        port: Its port (None: libpq's default).
        schema: The catalog database.
        login: The PostgreSQL user.
        password: The PostgreSQL password (only ever returned in `credentials`).
        extra: The Connection's extra JSON.

    Returns:
        The lake destination.

    Raises:
        LakeConnectionError: For a missing host/database or an unknown or ill-typed extra.
    """
    where = f"Connection {conn_id!r}"
    if not host:
        msg = f"{where}: host is empty: set it to the PostgreSQL server of the lake's catalog."
        raise LakeConnectionError(msg)
    if not schema:
        msg = f"{where}: schema is empty: set it to the catalog's database name."
        raise LakeConnectionError(msg)
    extra = dict(extra or {})
    unknown = sorted(set(extra) - set(SETTING_EXTRAS) - set(CREDENTIAL_EXTRAS))
    if unknown:
        known = ", ".join(sorted({*SETTING_EXTRAS, *CREDENTIAL_EXTRAS}))
        msg = f"{where}: unknown extra field(s) {', '.join(unknown)} (known: {known})."
        raise LakeConnectionError(msg)
    parts = {"host": host, "port": str(port) if port else None, "dbname": schema, "user": login}
    catalog = "postgres:" + " ".join(
        f"{key}={_conninfo_value(value)}" for key, value in parts.items() if value
    )
    settings: dict[str, t.Any] = {}
    for name, setting in SETTING_EXTRAS.items():
        value = extra.get(name)
        if value is None or value == "":
            continue
        if name == "s3_use_ssl":
            if not isinstance(value, bool):
                msg = f"{where}: extra field s3_use_ssl must be true or false."
                raise LakeConnectionError(msg)
        elif not isinstance(value, str):
            msg = f"{where}: extra field {name} must be a string."
            raise LakeConnectionError(msg)
        settings[setting] = value
    credentials = {"PGPASSWORD": password} if password else {}
    for name, variable in CREDENTIAL_EXTRAS.items():
        value = extra.get(name)
        if value:
            if not isinstance(value, str):
                msg = f"{where}: extra field {name} must be a string."
                raise LakeConnectionError(msg)
            credentials[variable] = value
    if ("AWS_ACCESS_KEY_ID" in credentials) != ("AWS_SECRET_ACCESS_KEY" in credentials):
        msg = f"{where}: set both aws_access_key_id and aws_secret_access_key in extra, or neither."
        raise LakeConnectionError(msg)
    return LakeTarget(catalog=catalog, settings=settings, credentials=credentials)


@contextmanager
def lake_environment(credentials: Mapping[str, str]) -> Iterator[None]:
    """Put the credentials in this process's environment for the block, then restore it.

    The sync's loader subprocess inherits them; they are gone again when the block ends, so
    a later task in a reused process does not see them.

    Args:
        credentials: Environment variables to set.

    Yields:
        Nothing.
    """
    saved = {name: os.environ.get(name) for name in credentials}
    os.environ.update(credentials)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def lake_params(params: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Return the lake settings set in a DAG run's params.

    Args:
        params: The run's params.

    Returns:
        The `lake_*` / `s3_*` settings that are not None.
    """
    return {name: params[name] for name in LAKE_SETTINGS if params.get(name) is not None}


def lake_destination(
    params: Mapping[str, t.Any], connection: LakeTarget | None
) -> tuple[str, dict[str, t.Any], dict[str, str]]:
    """Return `(catalog, lake settings, credentials)` of a `ducklake` run.

    With the Connection (`connection`), it gives the catalog, the settings and the
    credentials; the params `warehouse_path` and `lake_*` / `s3_*` override its non-secret
    parts. Without it: the params (catalog default `$EQUIPME_WAREHOUSE_PATH`) and the
    credentials already in the worker's environment.

    Args:
        params: The run's params.
        connection: The lake Connection's destination (`lake_from_connection`), or None.

    Returns:
        The catalog, the `lake_*` / `s3_*` settings and the environment variables to set.
    """
    catalog = params.get("warehouse_path") or (connection.catalog if connection else None)
    catalog = catalog or os.environ.get("EQUIPME_WAREHOUSE_PATH") or ""
    settings = {**(connection.settings if connection else {}), **lake_params(params)}
    return str(catalog), settings, dict(connection.credentials) if connection else {}
