"""The hook of the `equipme` connection type: tap settings, and the UI's connection test."""

from __future__ import annotations

import typing as t

from airflow.sdk import BaseHook

from tap_equipme.airflow.connection import tap_settings_from_connection
from tap_equipme.airflow.provider import CONN_TYPE


class EquipmeHook(BaseHook):
    """Reads an Equipme connection (default `equipme_default`) as tap settings.

    The form is declared as data in `tap_equipme.airflow.provider`; this class is what
    Airflow imports when a task asks for the connection or the UI tests it.
    """

    conn_name_attr = "equipme_conn_id"
    default_conn_name = "equipme_default"
    conn_type = CONN_TYPE
    hook_name = "Equipme"

    def __init__(self, equipme_conn_id: str = default_conn_name, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self.equipme_conn_id = equipme_conn_id

    def get_conn(self) -> dict[str, t.Any]:
        """Return the tap settings of the connection (see `get_tap_config`).

        Returns:
            The tap settings.
        """
        return self.get_tap_config()

    def get_tap_config(self) -> dict[str, t.Any]:
        """Return the tap settings: extra, then `api_url` and `api_key` from the fields.

        Returns:
            The tap settings (the API key included: hand them only to the tap).
        """
        conn = self.get_connection(self.equipme_conn_id)
        return tap_settings_from_connection(
            self.equipme_conn_id,
            host=conn.host,
            port=conn.port,
            schema=conn.schema,
            password=conn.password,
            extra=conn.extra_dejson,
        )

    def test_connection(self) -> tuple[bool, str]:
        """Ask the API for one customer (the UI's Test button).

        Returns:
            Whether the API answered with the key, and a message (never the key).
        """
        from tap_equipme.pipeline.quality import QualityError, api_total

        try:
            total = api_total(self.get_tap_config(), timeout=15.0)
        except (QualityError, ValueError) as exc:
            return False, str(exc)
        return True, f"The Equipme API answered: {total} customers."
