"""DuckDB warehouse: upserts by key, soft deletes, state and load bookkeeping.

Transactions: batches are upserted into one open transaction, committed together with the
STATE that covers them (or, without a STATE, once it holds `commit_every_rows` rows, to bound
DuckDB's transaction memory). A crash at any point therefore leaves the previous state and
whole transactions of batches, never part of one.

Loading overlaps parsing: `upsert_in_background` hands a parsed batch to one loader thread and
returns, so the target reads and parses the next batch while DuckDB writes this one (both
release the GIL). Every other method first waits for that batch and re-raises its error, so
the connection is never used by two threads at once and nothing commits past a failed batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import duckdb
import pyarrow as pa

from tap_equipme.warehouse.arrow import Column, last_per_key, quote
from tap_equipme.warehouse.change_tracking import ChangeTracker, ChildSet, history_table, seen_table
from tap_equipme.warehouse.column_evolution import SCHEMA_CHANGES_TABLE, SchemaChange, SchemaPlanner
from tap_equipme.warehouse.connection import connect_duckdb, utc_now
from tap_equipme.warehouse.errors import IncompatibleSchemaError, WarehouseError
from tap_equipme.warehouse.state import STATE_TABLE, bookmark_of, parse_state
from tap_equipme.warehouse.versions import VersionTracker

LOADS_TABLE = "_equipme_loads"
DEFAULT_COMMIT_EVERY_ROWS = 250_000
"""Rows an open transaction may hold before it is committed without a STATE (two DuckDB row
groups: big transactions write whole compressed row groups, small commits cost a WAL flush
and a checkpoint each)."""
_STAGED = "__equipme_staged"

logger = logging.getLogger(__name__)


LOADS_COLUMNS = {
    "run_id": "VARCHAR NOT NULL",
    "stream": "VARCHAR NOT NULL",
    "rows_inserted": "BIGINT",
    "rows_updated": "BIGINT",
    "rows_deleted": "BIGINT",
    "bookmark_before": "VARCHAR",
    "bookmark_after": "VARCHAR",
    "started_at": "TIMESTAMPTZ",
    "finished_at": "TIMESTAMPTZ",
    "status": "VARCHAR",
    "rows_undeleted": "BIGINT",
    "requests_list": "BIGINT",
    "requests_metadata": "BIGINT",
    "requests_other": "BIGINT",
    "run_stats": "JSON",
}
"""`_equipme_loads`, in column order (columns after `status` came with change tracking)."""
RUN_STATS_KEY = "run_stats"
"""Top-level key of the final STATE under which a tap may report its run (requests by kind,
responses by status, waits); copied into `_equipme_loads` (the same for each stream's row)."""


@dataclass
class LoadStats:
    """One stream's row of `_equipme_loads` for this run."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    undeleted: int = 0


class DuckDBWarehouse(SchemaPlanner):
    """Loads Arrow batches into a DuckDB file and keeps state and load records beside them."""

    destination = "duckdb"

    def __init__(
        self,
        path: str,
        run_id: str,
        commit_every_rows: int = DEFAULT_COMMIT_EVERY_ROWS,
        *,
        history: bool = True,
        child_sets: list[ChildSet] | None = None,
    ) -> None:
        """Open (or create) the warehouse.

        Args:
            path: The DuckDB file.
            run_id: Identifier of this load in `_equipme_loads`.
            commit_every_rows: Commit an open transaction without a STATE once it holds this
                many upserted rows.
            history: Keep a `<stream>_history` table (SCD2) for every keyed stream.
            child_sets: Streams whose rows of a parent form a complete set when the parent
                appears in a "reads" stream (see `change_tracking.ChildSet`).
        """
        self.path = path
        self.run_id = run_id
        self.commit_every_rows = commit_every_rows
        self.started_at = utc_now()
        self.child_sets = list(child_sets or [])
        self._history = history
        self.run_stats: dict[str, Any] | None = None
        self._loader: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None
        self._loader_thread: int | None = None
        self.con = self._open()
        self._closed = False
        self._in_transaction = False
        self._uncommitted_rows = 0
        self._stats: dict[str, LoadStats] = {}
        self._committed_stats: dict[str, LoadStats] = {}
        self._ensured: dict[str, list[Column]] = {}
        self._schema_changed = False
        """Whether this run recorded a schema change (the Parquet writer publishes the log)."""
        self.versions = VersionTracker()
        """Full-refresh versions seen; a complete one's soft deletes wait for end of input."""
        self.tracker = ChangeTracker(self.con, self.started_at)
        self._tracked: set[str] = set()
        self._last_undeleted = 0
        try:
            self._create_bookkeeping()
            self._fail_stale_loads()
            self.stored_state = self._read_stored_state()
        except BaseException:
            self.close()  # release the file (and a Parquet directory's lock) on a bad start
            raise
        self.bookmark_before = bookmark_of(self.stored_state)
        self.bookmark_after = self.bookmark_before

    @classmethod
    def from_settings(
        cls, path: str, run_id: str, settings: Mapping[str, Any], **options: Any
    ) -> DuckDBWarehouse:
        """Open this destination from the loader's settings (see `target.open_warehouse`).

        Args:
            path: The `path` setting.
            run_id: Identifier of this load.
            settings: All the loader's settings (a destination reads its own).
            **options: As for `__init__` (`commit_every_rows`).

        Returns:
            The opened warehouse.
        """
        return cls(path, run_id, **options)

    # -- connection and transactions ----------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
        return connect_duckdb(self.path)

    def _begin(self) -> None:
        if not self._in_transaction:
            self.con.execute("BEGIN TRANSACTION")
            self._in_transaction = True

    def _commit(self) -> None:
        if self._in_transaction:
            self.con.execute("COMMIT")
            self._in_transaction = False
            self._uncommitted_rows = 0
            self._committed_stats = {s: replace(st) for s, st in self._stats.items()}

    # -- the loader thread ----------------------------------------------------------------

    def wait_for_loads(self) -> None:
        """Wait for the batch being loaded in the background; re-raise its error.

        A no-op on the loader thread itself (its job calls back into this class).
        """
        if self._loader_thread == threading.get_ident():
            return
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def upsert_in_background(
        self,
        stream: str,
        columns: list[Column],
        keys: list[str],
        batch: pa.Table,
        version: int | None,
        loaded: Callable[[int, int, int], None] | None = None,
    ) -> None:
        """Start upserting a batch on the loader thread and return at once.

        Waits for the previous batch first (batches load in arrival order, one at a time).

        Args:
            stream: Stream name.
            columns: The stream's columns.
            keys: Key properties.
            batch: The parsed batch (see `records_to_arrow`).
            version: Table version of these records, if any.
            loaded: Called on the loader thread with `(rows, inserted, updated)` when done.
        """
        self.wait_for_loads()
        if self._loader is None:
            self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="equipme-loader")

        def job() -> None:
            self._loader_thread = threading.get_ident()
            inserted, updated = self.upsert(stream, columns, keys, batch, version)
            if loaded is not None:
                loaded(batch.num_rows, inserted, updated)
            # Commit here, while the next batch is parsed, rather than at the next STATE.
            if self._uncommitted_rows >= self.commit_every_rows:
                self._commit()

        self._pending = self._loader.submit(job)

    def _stop_loader(self) -> None:
        """Interrupt and wait for a batch still loading (its error is dropped: we fail anyway)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            if not pending.done():
                with contextlib.suppress(duckdb.Error):
                    self.con.interrupt()
            with contextlib.suppress(BaseException):
                pending.result()
        if self._loader is not None:
            self._loader.shutdown(wait=True)
            self._loader = None

    def _create_bookkeeping(self) -> None:
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (id INTEGER PRIMARY KEY, state JSON "
            "NOT NULL, run_id VARCHAR, updated_at TIMESTAMPTZ NOT NULL)"
        )
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {LOADS_TABLE} (run_id VARCHAR NOT NULL, stream VARCHAR "
            "NOT NULL, rows_inserted BIGINT, rows_updated BIGINT, rows_deleted BIGINT, "
            "bookmark_before VARCHAR, bookmark_after VARCHAR, started_at TIMESTAMPTZ, "
            "finished_at TIMESTAMPTZ, status VARCHAR, PRIMARY KEY (run_id, stream))"
        )
        for name, sql_type in list(LOADS_COLUMNS.items())[10:]:
            self.con.execute(
                f"ALTER TABLE {LOADS_TABLE} ADD COLUMN IF NOT EXISTS {name} {sql_type}"
            )
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA_CHANGES_TABLE} (run_id VARCHAR NOT NULL, "
            "stream VARCHAR NOT NULL, field_path VARCHAR NOT NULL, change VARCHAR NOT NULL, "
            "old_type VARCHAR, new_type VARCHAR NOT NULL, changed_at TIMESTAMPTZ NOT NULL)"
        )

    def _put_row(self, table: str, key: dict[str, Any], values: list[Any]) -> None:
        """Insert a bookkeeping row, replacing the one with the same `key` (its primary key)."""
        placeholders = ", ".join("?" for _ in values)
        self.con.execute(f"INSERT OR REPLACE INTO {table} VALUES ({placeholders})", values)

    def _fail_stale_loads(self) -> None:
        # One process writes at a time (the file lock), so a load of another run still
        # 'running' was killed (SIGKILL, a lost worker) and will never finish: say so.
        self.con.execute(
            f"UPDATE {LOADS_TABLE} SET status = 'failed' WHERE status = 'running' AND run_id <> ?",
            [self.run_id],
        )

    def _read_stored_state(self) -> dict[str, Any] | None:
        row = self.con.execute(f"SELECT state FROM {STATE_TABLE} WHERE id = 1").fetchone()
        return parse_state(row[0], f"{self.path}, table {STATE_TABLE}") if row else None

    # -- tables (introspection and planning live in SchemaPlanner) ----------------------

    def ensure_stream(self, stream: str, columns: list[Column], keys: list[str]) -> None:
        """Create or evolve the stream's table inside the current transaction.

        Args:
            stream: Stream name.
            columns: The stream's columns.
            keys: Key properties.
        """
        self.wait_for_loads()
        if self._ensured.get(stream) == columns:
            return
        self._begin()
        statements, changes = self.plan_changes(stream, columns, keys)
        for statement in statements:
            logger.info("Stream '%s': %s", stream, statement)
            self.con.execute(statement)
        self._record_schema_changes(stream, changes)
        self._ensured[stream] = columns
        self._stats.setdefault(stream, LoadStats())
        if keys:
            self._ensure_tracking(stream, keys)

    def keeps_history(self, stream: str) -> bool:
        """Whether the stream gets a `<stream>_history` table.

        Args:
            stream: Stream name.

        Returns:
            True for every stream when `history` is on, except the "reads" streams of child
            sets (bookkeeping of the source, not data with versions).
        """
        return self._history and stream not in {c.reads_stream for c in self.child_sets}

    def _ensure_tracking(self, stream: str, keys: list[str]) -> None:
        """Fill change tracking of rows loaded before it existed; create / evolve the history."""
        types = self._existing_types(stream)
        if stream not in self._tracked:
            self.tracker.backfill(stream, types)
            self._tracked.add(stream)
        if not self.keeps_history(stream):
            return
        name = history_table(stream)
        existing = self._existing_types(name) if self._table_exists(name) else None
        for statement in self.tracker.history_ddl(stream, existing):
            self.con.execute(statement)
        self._touched(name)

    def _touched(self, table: str) -> None:
        """Note that a table (a history table) changed in this transaction (Parquet hook).

        Args:
            table: Table name.
        """

    def _record_schema_changes(self, stream: str, changes: list[SchemaChange]) -> None:
        """Log each added or widened column / field once and keep it in the change log."""
        if not changes:
            return
        now = utc_now()
        for change in changes:
            if change.kind == "added":
                logger.info(
                    "Stream '%s': new field '%s' %s (rows loaded before read NULL)",
                    stream,
                    change.path,
                    change.new_type,
                )
            else:
                logger.info(
                    "Stream '%s': field '%s' widened from %s to %s",
                    stream,
                    change.path,
                    change.old_type,
                    change.new_type,
                )
        self.con.executemany(
            f"INSERT INTO {SCHEMA_CHANGES_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[self.run_id, stream, c.path, c.kind, c.old_type, c.new_type, now] for c in changes],
        )
        self._schema_changed = True

    def adapt_columns(self, stream: str, columns: list[Column]) -> list[Column]:
        """See `SchemaPlanner.adapt_columns` (after the batch being loaded, if any).

        Args:
            stream: Stream name.
            columns: The stream's columns.

        Returns:
            The columns to load with.
        """
        self.wait_for_loads()
        return super().adapt_columns(stream, columns)

    # -- loading --------------------------------------------------------------------------

    def plan_schema(self, stream: str, columns: list[Column], keys: list[str]) -> list[str]:
        """See `SchemaPlanner.plan_schema` (after the batch being loaded, if any).

        Args:
            stream: Stream name.
            columns: The stream's columns.
            keys: Key properties.

        Returns:
            The statements that create or evolve the table.
        """
        self.wait_for_loads()
        return super().plan_schema(stream, columns, keys)

    def upsert(
        self,
        stream: str,
        columns: list[Column],
        keys: list[str],
        batch: pa.Table,
        version: int | None,
    ) -> tuple[int, int]:
        """Upsert one batch by key in the current transaction.

        Args:
            stream: Stream name.
            columns: The stream's columns (the batch holds exactly these, plus a row number).
            keys: Key properties (empty: append only).
            batch: The Arrow batch (see `records_to_arrow`).
            version: Table version of these records (ACTIVATE_VERSION), if any.

        Returns:
            `(inserted, updated)` row counts.

        Raises:
            WarehouseError: If a row breaks a NOT NULL column.
        """
        self.wait_for_loads()
        self.ensure_stream(stream, columns, keys)
        self._begin()
        types = self._existing_types(stream)
        staged = last_per_key(batch, keys)
        self.con.register(_STAGED, staged)
        try:
            inserted, updated = self._merge(stream, columns, keys, types, version)
        finally:
            # After a failed statement the transaction is aborted; unregistering may fail too.
            with contextlib.suppress(duckdb.Error):
                self.con.unregister(_STAGED)
        stats = self._stats.setdefault(stream, LoadStats())
        stats.inserted += inserted
        stats.updated += updated
        stats.undeleted += self._last_undeleted
        self._uncommitted_rows += inserted + updated
        self._write_load_row(stream, "running")
        return inserted, updated

    def _merge(
        self,
        stream: str,
        columns: list[Column],
        keys: list[str],
        types: dict[str, Any],
        version: int | None,
    ) -> tuple[int, int]:
        """Merge the staged rows (change tracking); return `(inserted, updated)`."""
        self._last_undeleted = 0
        names = [c.name for c in columns]
        if keys:
            select = [f"CAST({quote(n)} AS {types[n]})" for n in names]
            try:
                counts = self.tracker.merge(
                    stream,
                    select,
                    names,
                    keys,
                    _STAGED,
                    version,
                    utc_now(),
                    self.keeps_history(stream),
                )
            except duckdb.ConstraintException as exc:
                msg = f"Stream '{stream}': a record breaks a constraint of the table: {exc}"
                raise WarehouseError(msg) from exc
            except duckdb.ConversionException as exc:
                msg = f"Stream '{stream}': a value cannot be converted to its column type: {exc}"
                raise WarehouseError(msg) from exc
            if self.keeps_history(stream) and (
                counts.inserted or counts.updated or counts.undeleted
            ):
                self._touched(history_table(stream))
            self._last_undeleted = counts.undeleted
            return counts.inserted, counts.updated
        # No key: append only (nothing to compare a row with).
        table = quote(stream)
        staged_rows = self._scalar(f"SELECT count(*) FROM {_STAGED}")
        updated = 0
        if keys:
            join = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in keys)
            updated = self._scalar(f"SELECT count(*) FROM {table} t JOIN {_STAGED} s ON {join}")
            if updated:
                self.con.execute(f"DELETE FROM {table} t USING {_STAGED} s WHERE {join}")
        names = [c.name for c in columns]
        select = [f"CAST({quote(n)} AS {types[n]})" for n in names]
        insert_cols = [*names, "_loaded_at", "_deleted_at", "_sdc_table_version"]
        select += ["?::TIMESTAMPTZ", "NULL", "?::BIGINT"]
        try:
            self.con.execute(
                f"INSERT INTO {table} ({', '.join(quote(n) for n in insert_cols)}) "
                f"SELECT {', '.join(select)} FROM {_STAGED}",
                [utc_now(), version],
            )
        except duckdb.ConstraintException as exc:
            msg = f"Stream '{stream}': a record breaks a constraint of the table: {exc}"
            raise WarehouseError(msg) from exc
        except duckdb.ConversionException as exc:
            msg = f"Stream '{stream}': a value cannot be converted to its column type: {exc}"
            raise WarehouseError(msg) from exc
        return staged_rows - updated, updated

    def soft_delete_absent(self, stream: str, version: int) -> int:
        """Mark rows not seen in `version` as deleted (ACTIVATE_VERSION), in the open transaction.

        Args:
            stream: Stream name.
            version: The activated table version.

        Returns:
            The number of rows newly marked deleted.
        """
        self.wait_for_loads()
        if not self._table_exists(stream):
            return 0
        self._begin()
        deleted = self.tracker.soft_delete(
            stream,
            self._existing_keys(stream),
            "t._sdc_table_version IS DISTINCT FROM ?::BIGINT",
            [version],
            history=self.keeps_history(stream),
        )
        return self._count_deleted(stream, deleted)

    def _count_deleted(self, stream: str, deleted: int) -> int:
        if deleted and self.keeps_history(stream):
            self._touched(history_table(stream))
        stats = self._stats.setdefault(stream, LoadStats())
        stats.deleted += deleted
        self._write_load_row(stream, "running")
        return deleted

    def apply_child_sets(self, reads_stream: str) -> dict[str, int]:
        """At end of input: soft-delete child rows a "reads" stream proves gone.

        For each child set read through `reads_stream`: a parent listed in this run's reads
        had its complete set of children read, so its children not loaded in this run are
        gone; children of parents soft-deleted in the warehouse go with them.

        Args:
            reads_stream: The stream that finished.

        Returns:
            Child stream -> rows newly marked deleted.
        """
        self.wait_for_loads()
        done: dict[str, int] = {}
        for child_set in self.child_sets:
            if child_set.reads_stream != reads_stream or not self._table_exists(child_set.stream):
                continue
            self._begin()
            where, params = child_set.gone_condition(
                child_keys=self._existing_keys(child_set.stream),
                child_seen=self.tracker.seen_exists(child_set.stream),
                reads_seen=self.tracker.seen_exists(reads_stream),
                parent_exists=bool(child_set.parent_stream)
                and self._table_exists(child_set.parent_stream or ""),
            )
            deleted = self.tracker.soft_delete(
                child_set.stream,
                self._existing_keys(child_set.stream),
                where,
                params,
                history=self.keeps_history(child_set.stream),
            )
            done[child_set.stream] = self._count_deleted(child_set.stream, deleted)
        return done

    def apply_child_sets_so_far(self) -> None:
        """At a STATE: apply the child sets of the parents read so far, then forget them.

        Every batch before the STATE is loaded, and a reads row follows all of its parent's
        children, so the sets of the parents in the reads seen so far are complete. Applying
        them with the state means a run cut short after this commit leaves those deletions
        done (a resumed run does not read these parents again); forgetting the applied keys
        keeps the next application, and the temporary key tables, small.
        """
        for reads_stream in dict.fromkeys(c.reads_stream for c in self.child_sets):
            if not self.tracker.seen_exists(reads_stream):
                continue
            self.apply_child_sets(reads_stream)
            reads = quote(seen_table(reads_stream))
            for child_set in self.child_sets:
                if child_set.reads_stream != reads_stream:
                    continue
                if self.tracker.seen_exists(child_set.stream):
                    key = quote(child_set.key)
                    self.con.execute(
                        f"DELETE FROM {quote(seen_table(child_set.stream))} "
                        f"WHERE {key} IN (SELECT {key} FROM {reads})"
                    )
            self.con.execute(f"DELETE FROM {reads}")

    def _scalar(self, sql: str, params: list[Any] | None = None, *, count: bool = False) -> int:
        rows = self.con.execute(sql, params or []).fetchall()
        if count:
            return len(rows)
        return int(rows[0][0]) if rows else 0

    # -- bookkeeping ----------------------------------------------------------------------

    def _write_load_row(
        self,
        stream: str,
        status: str,
        finished_at: dt.datetime | None = None,
        stats: LoadStats | None = None,
    ) -> None:
        stats = stats or self._stats.setdefault(stream, LoadStats())
        run = self.run_stats or {}
        requests = run["requests"] if isinstance(run.get("requests"), dict) else {}
        values = [
            self.run_id,
            stream,
            stats.inserted,
            stats.updated,
            stats.deleted,
            self.bookmark_before,
            self.bookmark_after,
            self.started_at,
            finished_at,
            status,
            stats.undeleted,
            *(requests.get(kind) for kind in ("list", "metadata", "other")),
            json.dumps(self.run_stats) if self.run_stats else None,
        ]
        self._put_row(LOADS_TABLE, {"run_id": self.run_id, "stream": stream}, values)

    def commit_state(self, state: dict[str, Any]) -> None:
        """Store the state in the open transaction (with the last batch) and commit.

        Args:
            state: The Singer state covering everything loaded so far.
        """
        self.wait_for_loads()
        self._begin()
        self.apply_child_sets_so_far()
        self._put_row(STATE_TABLE, {"id": 1}, [1, json.dumps(state), self.run_id, utc_now()])
        self.bookmark_after = bookmark_of(state)
        if isinstance(state.get(RUN_STATS_KEY), dict):
            self.run_stats = state[RUN_STATS_KEY]
        for stream in self._stats:
            self._write_load_row(stream, "running")
        self._commit()
        self.after_commit(state)

    def after_commit(self, state: dict[str, Any] | None) -> None:
        """Hook run after each commit of state or of the final batch (Parquet exports here).

        Args:
            state: The state just committed, or None.
        """

    def finish(self) -> None:
        """Mark this run's loads succeeded, commit and close."""
        self.wait_for_loads()
        self._begin()
        finished = utc_now()
        for stream in self._stats:
            self._write_load_row(stream, "succeeded", finished)
        self._commit()
        self.after_commit(None)
        self.close()

    def fail(self, reason: str) -> None:
        """Roll back the open batch, mark this run's loads failed and close.

        Args:
            reason: Why the load failed (logged).
        """
        if self._closed:
            return
        logger.error("Load failed, rolling back the open batch: %s", reason)
        try:
            self._stop_loader()
            if self._in_transaction:
                self.con.execute("ROLLBACK")
                self._in_transaction = False
            # Every stream this run touched gets a 'failed' row with what was committed,
            # even if its rows were all rolled back.
            finished = utc_now()
            for stream in self._stats:
                committed = self._committed_stats.get(stream, LoadStats())
                self._write_load_row(stream, "failed", finished, committed)
        finally:
            self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._stop_loader()
        self._closed = True
        with contextlib.suppress(duckdb.Error):
            self.con.close()


__all__ = [
    "DuckDBWarehouse",
    "IncompatibleSchemaError",
    "LoadStats",
    "connect_duckdb",
    "seen_table",
]
