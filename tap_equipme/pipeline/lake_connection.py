"""A DuckLake destination described by one Airflow-style Connection (host, login, extra...).

The DAG looks the Connection up (`equipme_lake`) and hands its fields here; nothing in this
module imports Airflow, so the mapping is tested without it. The result keeps the catalog
(a libpq conninfo without the password), the `lake_*` / `s3_*` loader settings, and the
credentials apart: the credentials go only into the environment of the process that runs the
sync (`lake_environment`), where the loader reads them (`PGPASSWORD`, `AWS_*`), never into
argv, settings, a log line or an XCom.

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

SETTING_EXTRAS = {
    "data_path": "lake_data_path",
    "lake_schema": "lake_schema",
    "s3_endpoint": "s3_endpoint",
    "s3_region": "s3_region",
    "s3_url_style": "s3_url_style",
    "s3_use_ssl": "s3_use_ssl",
}
"""Connection extra -> loader setting."""
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
