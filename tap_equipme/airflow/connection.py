"""Tap settings from an Airflow connection's fields: pure data, no Airflow import.

One mapping for every connection that names the API: the `equipme` connection type (API URL
and API key fields, optional named fields) and the `equipme_default` connections made before
it existed (any type, often `http`, tap settings as JSON in extra).
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from tap_equipme.airflow.provider import CONN_TYPE

# Where the Airflow 2 form kept a provider's named fields; the Airflow 3 UI stores them bare.
_FIELD_PREFIX = f"extra__{CONN_TYPE}__"


class EquipmeConnectionError(ValueError):
    """The connection cannot give tap settings (the message names the connection)."""


def tap_settings_from_connection(
    conn_id: str,
    *,
    host: str | None,
    port: int | None = None,
    schema: str | None = None,
    password: str | None = None,
    extra: Mapping[str, t.Any] | None = None,
) -> dict[str, t.Any]:
    """Build the tap's settings from a connection's fields.

    Args:
        conn_id: The connection id (for messages).
        host: The API URL (a bare host gets `schema`, default `https`, as its scheme).
        port: Optional port, added unless the host has one.
        schema: Optional scheme for a bare host (old connections).
        password: The API key.
        extra: Tap settings from the connection's extra (named fields and JSON alike).

    Returns:
        Tap settings: extra first, then `api_url` from host/port and `api_key` from password.

    Raises:
        EquipmeConnectionError: If no API key is set; the key itself is never quoted.
    """
    settings: dict[str, t.Any] = {}
    for name, value in (extra or {}).items():
        key = name.removeprefix(_FIELD_PREFIX)
        # An empty named field in the form means "not set", not "set to nothing".
        if value is None or value == "":
            continue
        settings[key] = value
    url = (host or "").strip().rstrip("/")
    if url:
        if "://" not in url:
            url = f"{schema or 'https'}://{url}"
        if port and url.count(":") < 2:  # the scheme has one colon, a port adds one
            url = f"{url}:{port}"
        settings["api_url"] = url
    if password:
        settings["api_key"] = password
    if not settings.get("api_key"):
        msg = (
            f"Connection {conn_id!r} has no API key: put it in the connection's "
            "API key (password) field."
        )
        raise EquipmeConnectionError(msg)
    return settings
