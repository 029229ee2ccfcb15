"""The DuckDB warehouse's session: connection, transactions, loader thread, run bookkeeping.

Transactions: batches are upserted into one open transaction, committed together with the
STATE that covers them (or, without a STATE, once it holds `commit_every_rows` rows, to bound
DuckDB's transaction memory). A crash at any point therefore leaves the previous state and
whole transactions of batches, never part of one.

Bookkeeping: the state (`_equipme_state`), one `_equipme_loads` row per stream and run, the
schema change log. Loading rows is `duckdb_writer.DuckDBWarehouse`, built on this class.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
from typing_extensions import Self

from tap_equipme.warehouse.arrow import Column
from tap_equipme.warehouse.change_tracking import ChangeTracker, MergeCounts
from tap_equipme.warehouse.child_sets import ChildSet
from tap_equipme.warehouse.column_evolution import SCHEMA_CHANGES_TABLE, SchemaPlanner
from tap_equipme.warehouse.connection import connect_duckdb, utc_now
from tap_equipme.warehouse.state import STATE_TABLE, parse_state, stream_bookmark
from tap_equipme.warehouse.suppression import Suppressions, read_suppressions
from tap_equipme.warehouse.versions import VersionTracker
from tap_equipme.warehouse.wal import wal_due

LOADS_TABLE = "_equipme_loads"
DEFAULT_COMMIT_EVERY_ROWS = 100_000
"""Rows an open transaction may hold before it is committed without a STATE (about a DuckDB
row group: big transactions write whole compressed row groups, small commits cost a WAL flush
and a checkpoint each). It bounds the rows of the open transaction in a listing with no
STATE, where a first load's peak RSS is reached (benchmark 9): at 250,000 a 1,000,000-customer
listing could hold 2.5x the rows of a 100,000-customer one; at 100,000 both hold the same at
most. (The peak still grows with the listing: see docs/benchmarks-scale.md, run 3.)"""

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


@dataclass
class LoadStats(MergeCounts):
    """One stream's row of `_equipme_loads` for this run: its batches' merges, and deletes."""

    deleted: int = 0


class DuckDBSession(SchemaPlanner):
    """A DuckDB file opened for one load: transactions, the loader thread, state, load records."""

    destination = "duckdb"

    def __init__(
        self,
        path: str,
        run_id: str,
        commit_every_rows: int = DEFAULT_COMMIT_EVERY_ROWS,
        *,
        history: bool = True,
        child_sets: list[ChildSet] | None = None,
        bookmark_stream: str | None = None,
        run_stats_key: str | None = None,
    ) -> None:
        """Open (or create) the warehouse.

        Args:
            path: The DuckDB file.
            run_id: Identifier of this load in `_equipme_loads`.
            commit_every_rows: Commit an open transaction without a STATE once it holds this
                many upserted rows.
            history: Keep a `<stream>_history` table (SCD2) for every keyed stream.
            child_sets: Streams whose rows of a parent form a complete set when the parent
                appears in a "reads" stream (see `child_sets.ChildSet`).
            bookmark_stream: The stream whose bookmark `_equipme_loads` records (before and
                after the run); None: none.
            run_stats_key: Top-level key of the STATE under which the source reports its run
                (requests by kind, responses by status, waits), copied into `_equipme_loads`
                (the same for each stream's row); None: none.
        """
        self.path = path
        self.run_id = run_id
        self.commit_every_rows = commit_every_rows
        self.started_at = utc_now()
        self.child_sets = list(child_sets or [])
        self.bookmark_stream = bookmark_stream
        self.run_stats_key = run_stats_key
        self._history = history
        self.run_stats: dict[str, Any] | None = None
        self._loader: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None
        self._loader_thread: int | None = None
        self._checkpoint_file: Path | None = None
        """The DuckDB file whose WAL `close` may fold in (set by `_open`; None: a lake)."""
        self._ddl_ran = False
        """Whether this run created or altered a table (see `_fold_wal`)."""
        self.con = self._open()
        self._closed = False
        self._in_transaction = False
        self._uncommitted_rows = 0
        self._stats: dict[str, LoadStats] = {}
        self._committed_stats: dict[str, LoadStats] = {}
        self._ensured: dict[str, list[Column]] = {}
        self._put_columns: dict[str, list[str]] = {}
        self._schema_changed = False
        """Whether this run recorded a schema change (the Parquet writer publishes the log)."""
        self.versions = VersionTracker()
        """Full-refresh versions seen; a complete one's soft deletes wait for end of input."""
        self.tracker = ChangeTracker(
            self.con,
            self.started_at,
            seen_streams={s for c in self.child_sets for s in (c.stream, c.reads_stream)},
        )
        self._tracked: set[str] = set()
        self._last_undeleted = 0
        try:
            self._create_bookkeeping()
            self._fail_stale_loads()
            self.stored_state = self._read_stored_state()
            self.suppressions: Suppressions = self._read_suppressions()
            """The suppression list, read once as the run starts (see `suppression.py`)."""
        except BaseException:
            self.close()  # release the file (and a Parquet directory's lock) on a bad start
            raise
        self.bookmark_before = stream_bookmark(self.stored_state, bookmark_stream)
        self.bookmark_after = self.bookmark_before

    @classmethod
    def from_settings(
        cls, path: str, run_id: str, settings: Mapping[str, Any], **options: Any
    ) -> Self:
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
        con = connect_duckdb(self.path)
        # No checkpoint at close (see `wal` and `close`): an hourly
        # run's few changed rows then cost their WAL records, not a rewrite of every table
        # they touched.
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        self._checkpoint_file = Path(self.path)
        return con

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
        """Insert a bookkeeping row, replacing the one with the same `key` (its primary key).

        An UPDATE in place, an INSERT if there is no row: DuckDB's INSERT OR REPLACE (a
        delete plus an insert in the key's index) got dearer with every commit of a long run
        (profiled in benchmark 9: the largest loader cost growing with the run's length, where
        a first load commits a state every few hundred customers); the UPDATE stays flat.
        """
        if table not in self._put_columns:
            self._put_columns[table] = [
                str(row[1]) for row in self.con.execute(f"PRAGMA table_info('{table}')").fetchall()
            ]
        columns = self._put_columns[table]
        if len(columns) != len(values):  # a table this run did not create: the general path
            placeholders = ", ".join("?" for _ in values)
            self.con.execute(f"INSERT OR REPLACE INTO {table} VALUES ({placeholders})", values)
            return
        sets = [(c, v) for c, v in zip(columns, values, strict=True) if c not in key]
        updated = self.con.execute(
            f"UPDATE {table} SET {', '.join(f'{c} = ?' for c, _ in sets)} WHERE "
            + " AND ".join(f"{k} = ?" for k in key),
            [*(v for _, v in sets), *key.values()],
        ).fetchone()
        if not (updated and updated[0]):
            placeholders = ", ".join("?" for _ in values)
            self.con.execute(f"INSERT INTO {table} VALUES ({placeholders})", values)

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

    def _read_suppressions(self) -> Suppressions:
        return read_suppressions(self.con)

    def _touched(self, table: str) -> None:
        """Note that a table (a history table) changed in this transaction (Parquet hook).

        Args:
            table: Table name.
        """

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
        self.before_state_commit()
        self._put_row(STATE_TABLE, {"id": 1}, [1, json.dumps(state), self.run_id, utc_now()])
        self.bookmark_after = stream_bookmark(state, self.bookmark_stream)
        if self.run_stats_key and isinstance(state.get(self.run_stats_key), dict):
            self.run_stats = state[self.run_stats_key]
        for stream in self._stats:
            self._write_load_row(stream, "running")
        self._commit()
        self.after_commit(state)

    def before_state_commit(self) -> None:
        """Hook run in the open transaction just before a state is stored (child sets here)."""

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
                self._in_transaction = False
                # A failed COMMIT has already ended the transaction: nothing left to undo.
                with contextlib.suppress(duckdb.TransactionException):
                    self.con.execute("ROLLBACK")
            # Every stream this run touched gets a 'failed' row with what was committed,
            # even if its rows were all rolled back.
            finished = utc_now()
            for stream in self._stats:
                committed = self._committed_stats.get(stream, LoadStats())
                self._write_load_row(stream, "failed", finished, committed)
        finally:
            self.close()

    def _fold_wal(self) -> None:
        """Checkpoint a DuckDB file whose WAL is due (`wal.wal_due`), forced after DDL."""
        if self._checkpoint_file is not None and wal_due(
            self._checkpoint_file, force=self._ddl_ran
        ):
            self.con.execute("CHECKPOINT")

    def close(self) -> None:
        """Close the connection (idempotent); checkpoint a DuckDB file whose WAL grew large."""
        self._stop_loader()
        if not self._closed and not self._in_transaction:
            with contextlib.suppress(OSError, duckdb.Error):
                self._fold_wal()
        self._closed = True
        with contextlib.suppress(duckdb.Error):
            self.con.close()
