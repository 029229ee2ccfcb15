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
import time
from pathlib import Path

import duckdb

from tap_equipme.warehouse.extensions import load_lake_extensions
from tap_equipme.warehouse.lake_config import (
    CREDENTIAL_ENV,
    LAKE_SETTINGS,
    LakeSettings,
    lake_settings,
)
from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.wal import wal_due

ATTACH_ATTEMPTS = 5
LAKE_ALIAS = "lake"
"""The name the lake is attached under in the loader's own connection."""


class LakeMissingError(WarehouseError):
    """The lake (or its schema) does not exist yet: a reader has nothing to read."""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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


CATALOG_BLOCK_SIZE = 16_384
"""Block size of a new local catalog file (DuckDB's smallest; its default is 256 KiB)."""


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
        if not read_only and not lake.uses_postgres:
            # A catalog file is a DuckDB database: no checkpoint at close, or every hourly
            # load rewrites the catalog tables it touched (measured: 5.7 MB per run of a
            # 1,000-customer lake). `fold_catalog_wal` checkpoints when the WAL grew large.
            con.execute("PRAGMA disable_checkpoint_on_shutdown")
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
            if not lake.uses_postgres and not Path(lake.catalog).exists():
                # A new catalog file: small blocks (fixed at creation). With DuckDB's 256 KiB
                # default, the catalog's ~25 tables made a 6.5 MB file for 1 MB of data, and
                # a checkpoint's copy-on-write grew it by several MB more (benchmark 8).
                options.append(f"METADATA_PARAMETERS MAP {{'block_size': {CATALOG_BLOCK_SIZE}}}")
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


def fold_catalog_wal(
    con: duckdb.DuckDBPyConnection, lake: LakeSettings, *, force: bool = False
) -> bool:
    """Checkpoint a local catalog file whose write-ahead log is due (`wal.wal_due`).

    Only the catalog database (a plain `CHECKPOINT` of a DuckLake would run DuckLake's own
    maintenance). A PostgreSQL catalog needs nothing.

    Args:
        con: A read-write connection from `connect_lake`, no transaction open.
        lake: Its lake.
        force: Checkpoint whatever the WAL's size (a run that created or altered a table).

    Returns:
        Whether it checkpointed.
    """
    if lake.uses_postgres or not wal_due(Path(lake.catalog), force=force):
        return False
    con.execute(f"CHECKPOINT __ducklake_metadata_{LAKE_ALIAS}")
    return True


__all__ = [
    "CREDENTIAL_ENV",
    "LAKE_ALIAS",
    "LAKE_SETTINGS",
    "LakeMissingError",
    "LakeSettings",
    "connect_lake",
    "fold_catalog_wal",
    "lake_settings",
]
