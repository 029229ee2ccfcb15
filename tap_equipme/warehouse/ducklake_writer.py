"""DuckLake warehouse: the DuckDB writer's SQL, run on a lake attached as the default schema.

`connect_lake` attaches the lake and makes its schema the default, so every statement of
`DuckDBWarehouse` (staging, upsert by DELETE + INSERT of the staged keys, schema evolution,
state and loads bookkeeping, one transaction per STATE) runs here unchanged. What differs is
only what DuckLake lacks or adds:

- no PRIMARY KEY / UNIQUE constraints: upserts already delete the staged keys first and the
  batch is de-duplicated by key before it is staged; each stream's key properties are kept
  in `_equipme_streams`, and the bookkeeping rows are replaced by DELETE + INSERT;
- no RETURNING on UPDATE: soft deletes (change tracking's) count their rows first;
- other writers: DuckLake retries a commit whose changes do not overlap (two tenants in two
  schemas) by itself; a real conflict (another writer changed the same table) rolls the
  transaction back, and this writer replays its statements on the new snapshot, at most
  `COMMIT_ATTEMPTS` times, then fails with a clear error;
- data inlining: DuckLake 1.5.5 with a PostgreSQL catalog fails to read values of a STRUCT
  nested in a STRUCT (customers' `referredBy`, `accountManager`, ...) back from inlined rows
  ("INTERNAL Error: Attempted to access index 0 within vector of size 0"), and refuses a
  table option on a table created in the open transaction, so a per-table switch comes too
  late for a new table's first small load. The writer therefore attaches with
  `DATA_INLINING_ROW_LIMIT 0` (`connect_lake`): every stream and history table row goes to a
  Parquet file, whatever its size or later schema changes. Only the bookkeeping tables
  (`_equipme_state`, `_equipme_loads`, ...: flat, fixed columns, a few rows per commit) opt
  back in (`BOOKKEEPING_INLINING_ROW_LIMIT`), so a commit's state stays in the catalog and
  costs no data file. A table with nested STRUCTs also gets `data_inlining_row_limit = 0`
  stored in the catalog right after the commit that created it, for other writers (the
  ATTACH option is this connection's only).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, cast

import duckdb
from typing_extensions import Self, override

from tap_equipme.warehouse.arrow import Column, quote
from tap_equipme.warehouse.change_tracking import history_table
from tap_equipme.warehouse.column_evolution import SCHEMA_CHANGES_TABLE
from tap_equipme.warehouse.duckdb_session import LOADS_COLUMNS, LOADS_TABLE
from tap_equipme.warehouse.duckdb_writer import DuckDBWarehouse
from tap_equipme.warehouse.journal import JournaledConnection
from tap_equipme.warehouse.lake import (
    LAKE_ALIAS,
    LakeSettings,
    connect_lake,
    fold_catalog_wal,
    lake_settings,
)
from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.state import STATE_TABLE

STREAMS_TABLE = "_equipme_streams"
BOOKKEEPING_INLINING_ROW_LIMIT = 10
"""Rows per insert the bookkeeping tables keep in the catalog (DuckLake's own default)."""
COMMIT_ATTEMPTS = 4
"""Tries of one transaction against a concurrent writer (the first and three replays)."""
RETRY_WAIT_SECONDS = 0.2

logger = logging.getLogger(__name__)


def is_conflict(exc: BaseException) -> bool:
    """Return whether a DuckDB error is a DuckLake commit conflict (worth a replay).

    Args:
        exc: The error.

    Returns:
        True for a transaction conflict.
    """
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


class DuckLakeWarehouse(DuckDBWarehouse):
    """Loads Arrow batches into one DuckLake schema; state and loads tables live beside them."""

    destination = "ducklake"
    supports_primary_keys = False

    def __init__(self, path: str, run_id: str, lake: LakeSettings, **options: Any) -> None:
        """Attach the lake (created if new) and prepare its schema.

        Args:
            path: The catalog (`lake.catalog`).
            run_id: Identifier of this load.
            lake: The lake's settings.
            **options: As for `DuckDBWarehouse` (`commit_every_rows`).
        """
        self.lake = lake
        self._committed_ensured: dict[str, list[Column]] = {}
        self._not_inlined: list[str] = []
        super().__init__(path, run_id, **options)

    @classmethod
    def from_settings(
        cls, path: str, run_id: str, settings: Mapping[str, Any], **options: Any
    ) -> Self:
        """Open the lake named by `path` (the catalog) and the `lake_*` / `s3_*` settings.

        Args:
            path: The catalog.
            run_id: Identifier of this load.
            settings: The loader's settings.
            **options: As for `DuckDBWarehouse` (`commit_every_rows`).

        Returns:
            The opened lake writer.
        """
        return cls(path, run_id, lake_settings(path, settings), **options)

    # -- connection and transactions ----------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
        return cast("duckdb.DuckDBPyConnection", JournaledConnection(connect_lake(self.lake)))

    @override
    def _fold_wal(self) -> None:
        fold_catalog_wal(self.con, self.lake, force=self._ddl_ran)

    @property
    def _journal(self) -> JournaledConnection:
        return cast("JournaledConnection", self.con)

    def _begin(self) -> None:
        if not self._in_transaction:
            super()._begin()
            self._journal.clear()
            self._journal.recording = True

    def _commit(self) -> None:
        if not self._in_transaction:
            return
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                super()._commit()
            except duckdb.Error as exc:
                self._in_transaction = False
                if not is_conflict(exc) or attempt == COMMIT_ATTEMPTS:
                    self._journal.recording = False
                    self._journal.clear()
                    raise self._commit_error(exc, attempt) from exc
                logger.warning(
                    "Commit conflict with another writer of schema %r (try %d of %d): "
                    "replaying the transaction on the new snapshot",
                    self.lake.schema,
                    attempt,
                    COMMIT_ATTEMPTS,
                )
                time.sleep(RETRY_WAIT_SECONDS * attempt)
                self._replay()
            else:
                self._journal.recording = False
                self._journal.clear()
                self._committed_ensured = dict(self._ensured)
                self._stop_inlining()
                return

    def _stop_inlining(self) -> None:
        """Switch data inlining off for the tables the committed transaction created."""
        while self._not_inlined:
            table = self._not_inlined.pop()
            self.con.execute(
                f"CALL {LAKE_ALIAS}.set_option('data_inlining_row_limit', 0, "
                "schema => ?, table_name => ?)",
                [self.lake.schema, table],
            )

    def _replay(self) -> None:
        """Run the rolled-back transaction's statements again on the newest snapshot."""
        with contextlib.suppress(duckdb.Error):
            self.con.execute("ROLLBACK")  # a failed COMMIT may leave the transaction open
        self._journal.recording = False
        self.con.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            self._journal.replay()
        except duckdb.Error as exc:
            self._in_transaction = False
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            raise self._commit_error(exc, 0) from exc

    def _commit_error(self, exc: duckdb.Error, attempts: int) -> WarehouseError:
        if is_conflict(exc):
            msg = (
                f"Another writer kept changing the same tables of {self.lake.describe()}, "
                f"schema {self.lake.schema!r} ({attempts} tries): this transaction was rolled "
                "back; earlier commits and their state stay. Give each sync its own "
                f"'lake_schema' or run them one after the other. DuckDB said: {exc}"
            )
        else:
            msg = f"Cannot commit to the {self.lake.describe()}: {exc}"
        return WarehouseError(msg)

    def fail(self, reason: str) -> None:
        """Roll back (see `DuckDBWarehouse.fail`), dropping the replay record.

        Args:
            reason: Why the load failed.
        """
        if not self._closed:
            self._journal.recording = False
            self._journal.clear()
        super().fail(reason)

    # -- bookkeeping without primary keys -------------------------------------------------

    def _create_bookkeeping(self) -> None:
        statements = [
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (id INTEGER NOT NULL, state JSON "
            "NOT NULL, run_id VARCHAR, updated_at TIMESTAMPTZ NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {LOADS_TABLE} ("
            + ", ".join(f"{name} {sql_type}" for name, sql_type in LOADS_COLUMNS.items())
            + ")",
            f"CREATE TABLE IF NOT EXISTS {STREAMS_TABLE} (stream VARCHAR NOT NULL, "
            "key_properties JSON NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {SCHEMA_CHANGES_TABLE} (run_id VARCHAR NOT NULL, "
            "stream VARCHAR NOT NULL, field_path VARCHAR NOT NULL, change VARCHAR NOT NULL, "
            "old_type VARCHAR, new_type VARCHAR NOT NULL, changed_at TIMESTAMPTZ NOT NULL)",
        ]
        for statement in statements:
            self._execute_retrying(statement, [])
        tables = (STATE_TABLE, LOADS_TABLE, STREAMS_TABLE, SCHEMA_CHANGES_TABLE)
        inlined = {
            row[0]
            for row in self.con.execute(
                f"SELECT scope_entry FROM {LAKE_ALIAS}.options() WHERE option_name = "
                "'data_inlining_row_limit' AND scope = 'TABLE'"
            ).fetchall()
        }
        for table in tables:
            if f"{self.lake.schema}.{table}" not in inlined:
                self._execute_retrying(
                    f"CALL {LAKE_ALIAS}.set_option('data_inlining_row_limit', "
                    f"{BOOKKEEPING_INLINING_ROW_LIMIT}, schema => ?, table_name => ?)",
                    [self.lake.schema, table],
                )

    def _execute_retrying(self, statement: str, params: list[Any]) -> None:
        """Run one auto-committed statement, retried after a conflict with another writer."""
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                self.con.execute(statement, params)
                return
            except duckdb.Error as exc:
                # Two first runs at once: the other one created it; IF NOT EXISTS holds now.
                if not is_conflict(exc) or attempt == COMMIT_ATTEMPTS:
                    raise self._commit_error(exc, attempt) from exc
                time.sleep(RETRY_WAIT_SECONDS * attempt)

    def _put_row(self, table: str, key: dict[str, Any], values: list[Any]) -> None:
        where = " AND ".join(f"{quote(k)} = ?" for k in key)
        self.con.execute(f"DELETE FROM {table} WHERE {where}", list(key.values()))
        placeholders = ", ".join("?" for _ in values)
        self.con.execute(f"INSERT INTO {table} VALUES ({placeholders})", values)

    def _existing_keys(self, stream: str) -> list[str]:
        row = self.con.execute(
            f"SELECT key_properties FROM {STREAMS_TABLE} WHERE stream = ?", [stream]
        ).fetchone()
        return list(json.loads(row[0])) if row else []

    def _table_exists(self, stream: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema = current_schema() AND table_name = ?",
            [stream],
        ).fetchone()
        return bool(row and row[0])

    def _not_null_columns(self, stream: str) -> set[str]:
        # DuckLake's information_schema calls every column nullable; duckdb_columns knows.
        rows = self.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = current_schema() AND table_name = ? AND NOT is_nullable",
            [stream],
        ).fetchall()
        return {r[0] for r in rows}

    @override
    def create_or_evolve(self, stream: str, columns: list[Column], keys: list[str]) -> None:
        """Create or evolve the stream's table; record a new table's keys.

        Args:
            stream: Stream name.
            columns: The stream's columns.
            keys: Key properties.
        """
        created = not self._table_exists(stream)
        history = history_table(stream)
        new_history = bool(keys) and self.keeps_history(stream) and not self._table_exists(history)
        super().create_or_evolve(stream, columns, keys)
        if created:
            self._put_row(STREAMS_TABLE, {"stream": stream}, [stream, json.dumps(keys)])
        types = self._existing_types(stream).values()
        if any(str(t).upper().count("STRUCT(") > 1 for t in types):
            self._not_inlined += [stream] if created else []
            self._not_inlined += [history] if new_history else []


__all__ = ["DuckLakeWarehouse", "is_conflict"]
