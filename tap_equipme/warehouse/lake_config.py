"""The DuckLake settings, parsed in one place: the loader, the pipeline and the DAG read them here.

A DuckLake warehouse is a catalog (a PostgreSQL database, `postgres:<libpq conninfo>`, for
several machines; or a local DuckDB catalog file for one) plus a data path (a directory or
`s3://bucket/prefix/`) holding Parquet files. The loader's `path` setting is the catalog; the
`lake_*` / `s3_*` settings below are the rest (none secret). Credentials never travel in
settings: the PostgreSQL password comes from libpq's own environment (`PGPASSWORD`,
`PGPASSFILE`, `PGSERVICE`), S3 keys from `CREDENTIAL_ENV`; a catalog string that holds a
password is refused, so it cannot reach an argv, a log line or the state.

Light at import (no DuckDB, no singer-sdk): the DAG file reads `LAKE_SETTINGS` when parsed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tap_equipme.warehouse.load_errors import WarehouseError

if TYPE_CHECKING:
    from singer_sdk import typing as th

LAKE_SETTINGS: dict[str, dict[str, Any]] = {
    "lake_data_path": {
        "type": "string",
        "description": "Destination `ducklake`: where the Parquet files go, a directory or "
        "`s3://bucket/prefix/` (stored in the catalog by the first load; later loads may "
        "omit it).",
    },
    "lake_schema": {
        "type": "string",
        "default": "main",
        "description": "Destination `ducklake`: the lake schema of this warehouse's tables, "
        "state and views (one per tenant: syncs into different schemas run at once).",
    },
    "s3_endpoint": {
        "type": "string",
        "description": "S3-compatible endpoint (`host:port`, e.g. MinIO); default AWS.",
    },
    "s3_region": {
        "type": "string",
        "description": "S3 region (default `AWS_REGION` / `AWS_DEFAULT_REGION`).",
    },
    "s3_url_style": {
        "type": "string",
        "allowed_values": ["vhost", "path"],
        "description": "`path` for most S3-compatible stores, `vhost` (AWS default).",
    },
    "s3_use_ssl": {
        "type": "boolean",
        "default": True,
        "description": "HTTPS to the S3 endpoint (false only for a local test store).",
    },
}
"""Loader settings of destination `ducklake` besides `path` (none of them secret): name ->
JSON type, default, allowed values, description."""
CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PGPASSWORD",
)
"""Environment variables that may hold lake credentials (the pipeline redacts their values)."""
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_CONNINFO_PASSWORD = re.compile(r"(^|\s)password\s*=", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"^postgres(?:ql)?://[^/@?]*:([^@/?]+)@", re.IGNORECASE)


def lake_properties() -> list[th.Property]:
    """Return the `lake_*` and `s3_*` settings as singer-sdk properties (for `--about`).

    Returns:
        The properties, for the target's `config_jsonschema`.
    """
    from singer_sdk import typing as th

    properties = []
    for name, spec in LAKE_SETTINGS.items():
        kind: Any = th.BooleanType if spec["type"] == "boolean" else th.StringType
        if "allowed_values" in spec:
            kind = th.StringType(allowed_values=spec["allowed_values"])
        extra = {"default": spec["default"]} if "default" in spec else {}
        properties.append(th.Property(name, kind, description=spec["description"], **extra))
    return properties


@dataclass(frozen=True)
class LakeSettings:
    """Where a DuckLake lives (no secrets: those come from the environment)."""

    catalog: str
    """`postgres:<conninfo or URI>` or the path of a DuckDB catalog file."""
    data_path: str | None = None
    """A directory or `s3://bucket/prefix/`; None: the one stored in the catalog."""
    schema: str = "main"
    """The lake schema this warehouse's tables live in (one per tenant)."""
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_url_style: str | None = None
    s3_use_ssl: bool = True

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], config: Mapping[str, Any]) -> LakeSettings:
        """Build and check the settings (`path` is the catalog).

        Args:
            path: The `path` setting: the catalog.
            config: The other settings (`lake_data_path`, `lake_schema`, `s3_*`).

        Returns:
            The settings.

        Raises:
            WarehouseError: For a catalog holding a password or a bad setting.
        """
        catalog = str(path).strip()
        if not catalog:
            msg = "Setting 'path' is required: the DuckLake catalog (postgres:... or a file)."
            raise WarehouseError(msg)
        postgres = _postgres_part(catalog)
        if postgres is not None:
            if _CONNINFO_PASSWORD.search(postgres) or _URI_PASSWORD.search(postgres):
                msg = (
                    "Setting 'path': the DuckLake catalog must not hold a password (it would "
                    "show in process lists and logs). Put it in the PGPASSWORD environment "
                    "variable, a libpq passfile (PGPASSFILE) or service file (PGSERVICE); "
                    "nothing was written."
                )
                raise WarehouseError(msg)
        else:
            catalog = str(Path(catalog).expanduser().resolve())
        schema = str(config.get("lake_schema") or "main")
        if not _IDENTIFIER.match(schema):
            msg = (
                f"Setting 'lake_schema': {schema!r} is not a plain identifier (letters, digits "
                "and underscores, not starting with a digit, at most 63 characters)."
            )
            raise WarehouseError(msg)
        data_path = config.get("lake_data_path") or None
        if data_path is not None:
            data_path = str(data_path)
            if "://" not in data_path:
                data_path = str(Path(data_path).expanduser().resolve())
            elif not data_path.startswith(("s3://", "s3a://", "gs://", "r2://")):
                msg = (
                    f"Setting 'lake_data_path': {data_path!r} is neither a directory nor an "
                    "s3:// URL."
                )
                raise WarehouseError(msg)
            if not data_path.endswith("/"):
                data_path += "/"
        url_style = config.get("s3_url_style") or None
        if url_style is not None and url_style not in ("vhost", "path"):
            msg = f"Setting 's3_url_style': {url_style!r} is not 'vhost' or 'path'."
            raise WarehouseError(msg)
        use_ssl = config.get("s3_use_ssl")
        return cls(
            catalog=catalog,
            data_path=data_path,
            schema=schema,
            s3_endpoint=config.get("s3_endpoint") or None,
            s3_region=config.get("s3_region") or None,
            s3_url_style=url_style,
            s3_use_ssl=True if use_ssl is None else bool(use_ssl),
        )

    @property
    def uses_postgres(self) -> bool:
        """Whether the catalog is a PostgreSQL database."""
        return _postgres_part(self.catalog) is not None

    @property
    def uses_s3(self) -> bool:
        """Whether the data path is in object storage."""
        return bool(self.data_path and "://" in self.data_path)

    def extensions(self) -> tuple[str, ...]:
        """Return the DuckDB extensions this lake needs."""
        names = ["ducklake"]
        if self.uses_postgres:
            names.append("postgres_scanner")
        if self.uses_s3:
            names.append("httpfs")
        return tuple(names)

    def describe(self) -> str:
        """Return the catalog and data path for messages (they hold no secret)."""
        return f"DuckLake catalog {self.catalog!r}, data path {self.data_path or '(stored)'!r}"


def _postgres_part(catalog: str) -> str | None:
    for prefix in ("postgres:", "postgresql:"):
        if catalog.lower().startswith(prefix):
            rest = catalog[len(prefix) :]
            # `postgres:` + a URI keeps the URI whole (`postgresql://...`).
            return catalog if rest.startswith("//") else rest
    return None


def lake_settings(path: str | os.PathLike[str], config: Mapping[str, Any] | None) -> LakeSettings:
    """Return the lake of a `ducklake` destination from its `path` and `lake_*` / `s3_*` settings.

    Args:
        path: The catalog.
        config: The other settings (extra keys are ignored).

    Returns:
        The lake's settings.
    """
    return LakeSettings.from_config(path, config or {})
