"""DuckLake settings and connections: the catalog, the data path, S3 options, credentials.

A DuckLake warehouse is a catalog (a PostgreSQL database, `postgres:<libpq conninfo>`, for
several machines; or a local DuckDB catalog file for one) plus a data path (a directory or
`s3://bucket/prefix/`) holding Parquet files. The loader's `path` setting is the catalog.

Credentials never travel in settings: the PostgreSQL password comes from libpq's own
environment (`PGPASSWORD`, `PGPASSFILE`, `PGSERVICE`), S3 keys from `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; a catalog string that holds a password is
refused, so it cannot reach an argv, a log line or the state.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tap_equipme.warehouse.errors import WarehouseError
from tap_equipme.warehouse.extensions import load_lake_extensions

ATTACH_ATTEMPTS = 5
LAKE_ALIAS = "lake"
"""The name the lake is attached under in the loader's own connection."""
LAKE_SETTINGS = (
    "lake_data_path",
    "lake_schema",
    "s3_endpoint",
    "s3_region",
    "s3_url_style",
    "s3_use_ssl",
)
"""Loader settings of destination `ducklake` besides `path` (none of them secret)."""
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


class LakeMissingError(WarehouseError):
    """The lake (or its schema) does not exist yet: a reader has nothing to read."""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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


def _create_s3_secret(con: duckdb.DuckDBPyConnection, lake: LakeSettings) -> None:
    options = ["TYPE s3"]
    key_id = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    token = os.environ.get("AWS_SESSION_TOKEN")
    if key_id and secret:
        options += [f"KEY_ID {_literal(key_id)}", f"SECRET {_literal(secret)}"]
        if token:
            options.append(f"SESSION_TOKEN {_literal(token)}")
    region = lake.s3_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options.append(f"REGION {_literal(region)}")
    if lake.s3_endpoint:
        endpoint = lake.s3_endpoint.split("://", 1)[-1].rstrip("/")
        options.append(f"ENDPOINT {_literal(endpoint)}")
    if lake.s3_url_style:
        options.append(f"URL_STYLE {_literal(lake.s3_url_style)}")
    options.append(f"USE_SSL {'true' if lake.s3_use_ssl else 'false'}")
    try:
        con.execute(f"CREATE OR REPLACE TEMPORARY SECRET equipme_lake_s3 ({', '.join(options)})")
    except duckdb.Error:
        # The statement holds the keys: never let DuckDB's message (which may quote it) out.
        msg = (
            "Settings 's3_*': DuckDB refused the S3 options (endpoint, region, URL style); "
            "check them. The credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
            "/ AWS_SESSION_TOKEN."
        )
        raise WarehouseError(msg) from None


def _attach(con: duckdb.DuckDBPyConnection, statement: str) -> None:
    """ATTACH; when two first loads initialise one new catalog at once, the loser retries."""
    for attempt in range(1, ATTACH_ATTEMPTS + 1):
        try:
            con.execute(statement)
        except duckdb.Error as exc:
            text = str(exc)
            racing = "Failed to initialize DuckLake" in text and (
                "already exists" in text or "duplicate key" in text
            )
            if not racing or attempt == ATTACH_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)
        else:
            return


def _create_schema(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    exists = (
        "SELECT count(*) FROM information_schema.schemata "
        f"WHERE catalog_name = '{LAKE_ALIAS}' AND schema_name = ?"
    )
    for _ in range(5):
        row = con.execute(exists, [schema]).fetchone()
        if row and row[0]:
            return
        try:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {LAKE_ALIAS}.{schema}")
        except duckdb.TransactionException:
            continue  # another writer created it (or another schema) at the same moment
        return


def connect_lake(lake: LakeSettings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB with the lake attached and its schema as the default.

    Unqualified table names then resolve inside the lake schema, so the DuckDB writer's SQL
    runs unchanged.

    Args:
        lake: The lake.
        read_only: Attach read-only (readers, state and quality checks).

    Returns:
        The connection (session time zone UTC).

    Raises:
        WarehouseError: If an extension, the catalog or the data path cannot be used.
    """
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        load_lake_extensions(con, lake.extensions())
        if lake.uses_s3:
            _create_s3_secret(con, lake)
        elif lake.data_path and not read_only:
            try:
                Path(lake.data_path).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                msg = f"Setting 'lake_data_path': cannot create {lake.data_path!r}: {exc}"
                raise WarehouseError(msg) from exc
        if read_only and not lake.uses_postgres and not Path(lake.catalog).exists():
            msg = f"Setting 'path': no lake was created at the {lake.describe()} yet."
            raise LakeMissingError(msg)
        options = []
        if lake.data_path:
            options.append(f"DATA_PATH {_literal(lake.data_path)}")
        if read_only:
            options.append("READ_ONLY")
        else:
            # No data inlining by this writer unless a table opts in (`set_option`, which
            # wins over this): DuckLake 1.5.5 with a PostgreSQL catalog cannot read inlined
            # rows holding a STRUCT nested in a STRUCT back, and a table's own option can be
            # set only after the commit that created it, too late for its first small load.
            # A connection option only: nothing is stored in the catalog.
            options.append("DATA_INLINING_ROW_LIMIT 0")
        suffix = f" ({', '.join(options)})" if options else ""
        try:
            _attach(con, f"ATTACH {_literal('ducklake:' + lake.catalog)} AS {LAKE_ALIAS}{suffix}")
        except duckdb.Error as exc:
            text = str(exc)
            if read_only and "creating a new DuckLake is explicitly disabled" in text:
                msg = f"Setting 'path': no lake was created at the {lake.describe()} yet."
                raise LakeMissingError(msg) from None
            hint = ""
            if "DATA_PATH" in text and "does not match" not in text:
                hint = " Set 'lake_data_path' for a new lake."
            # `from None`: the message is all a user needs; the chain would repeat it.
            msg = f"Setting 'path': cannot attach the {lake.describe()}: {text}{hint}"
            raise WarehouseError(msg) from None
        if not read_only:
            _create_schema(con, lake.schema)
        try:
            con.execute(f"USE {LAKE_ALIAS}.{lake.schema}")
        except duckdb.Error:
            msg = f"Setting 'lake_schema': the lake has no schema {lake.schema!r} yet."
            raise LakeMissingError(msg) from None
    except BaseException:
        con.close()
        raise
    return con


def lake_settings(path: str | os.PathLike[str], config: Mapping[str, Any] | None) -> LakeSettings:
    """Return the lake of a `ducklake` destination from its `path` and `lake_*` / `s3_*` settings.

    Args:
        path: The catalog.
        config: The other settings (extra keys are ignored).

    Returns:
        The lake's settings.
    """
    return LakeSettings.from_config(path, config or {})
