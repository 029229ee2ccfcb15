"""Provider metadata of the `equipme` connection type (Airflow's `apache_airflow_provider`).

Airflow 3 reads the connection form as data: `conn-fields` (extra fields with a JSON schema)
and `ui-field-behaviour` (hidden, relabelled and placeholder standard fields), without
importing the hook (`airflow.providers_manager.ProvidersManager._load_ui_metadata`). The
standard `password` field is masked by the UI, so the API key lives there, as it always did in
the `equipme_default` connection; the API URL is the standard `host`.
"""

from __future__ import annotations

import typing as t

from tap_equipme import __version__

CONN_TYPE = "equipme"
HOOK_CLASS = "tap_equipme.airflow.hook.EquipmeHook"

# Optional tap settings offered as named fields (stored in the connection's extra under these
# names, as the tap reads them); any other tap setting can still go in extra as JSON.
CONN_FIELDS: dict[str, dict[str, t.Any]] = {
    "sync_mode": {
        "label": "Sync mode",
        "description": "change_capture (default): edits, deletions and a rolling metadata "
        "refresh; incremental: only new customers.",
        "schema": {"type": ["string", "null"], "enum": ["change_capture", "incremental", None]},
    },
    "page_size": {
        "label": "Page size",
        "description": "Customers per list request, 1..1000 (default 1000).",
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000},
    },
    "max_requests_per_second": {
        "label": "Max requests per second",
        "description": "Cap on the request rate, if you know your tenant's limit "
        "(default: found from 429 answers).",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
    },
}


def get_provider_info() -> dict[str, t.Any]:
    """Return the provider info Airflow's ProvidersManager reads (schema: provider_info).

    Returns:
        The provider's name, package, version and its one connection type.
    """
    return {
        "package-name": "tap-equipme",
        "name": "Equipme",
        "description": "Equipme Supplier API: the `equipme` connection type for the "
        "tap-equipme DAGs (customers and metadata into DuckDB, Parquet or DuckLake).",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": HOOK_CLASS,
                "hook-name": "Equipme",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "API URL", "password": "API key"},
                    "placeholders": {
                        "host": "https://api.equipme.io",
                        "password": "the Equipme API key (stored encrypted, shown masked)",
                        "extra": '{"active": true}  (any other tap setting, as JSON)',
                    },
                },
            }
        ],
    }
