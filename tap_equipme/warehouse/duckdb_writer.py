"""DuckDB warehouse: upserts by key, soft deletes, child sets, change tracking per batch.

Loading overlaps parsing: `upsert_in_background` hands a parsed batch to one loader thread and
returns, so the target reads and parses the next batch while DuckDB writes this one (both
release the GIL). Every other method first waits for that batch and re-raises its error, so
the connection is never used by two threads at once and nothing commits past a failed batch.
Soft deletes, child sets and the state commit: `duckdb_deletes.DuckDBDeletes`; connection,
transactions and bookkeeping: `duckdb_session.DuckDBSession`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from singer_sdk.exceptions import MissingKeyPropertiesError

from tap_equipme.warehouse.arrow import Column, last_per_key, quote
from tap_equipme.warehouse.change_tracking import history_table, seen_table
from tap_equipme.warehouse.column_evolution import SCHEMA_CHANGES_TABLE, SchemaChange
from tap_equipme.warehouse.connection import connect_duckdb, utc_now
from tap_equipme.warehouse.duckdb_deletes import DuckDBDeletes
from tap_equipme.warehouse.duckdb_session import LoadStats
from tap_equipme.warehouse.load_errors import IncompatibleSchemaError, WarehouseError

_STAGED = "__equipme_staged"

logger = logging.getLogger(__name__)


class MissingKeyError(WarehouseError, MissingKeyPropertiesError):
    """A record without a value for one of its stream's key properties (Singer requires one).

    (Here, not in `errors`: that module stays free of singer-sdk, for light importers.)
    """


def _check_keys(stream: str, batch: pa.Table, keys: list[str]) -> None:
    """Refuse a batch with a record that lacks a key value, naming the stream and the key.

    (The fast record paths skip singer-sdk's per-record check; without this, DuckDB would
    report a NOT NULL failure of an internal staging table.)
    """
    for key in keys:
        column = batch.column(key)
        if column.null_count:
            position = pc.index(pc.is_null(column), value=True).as_py()
            msg = (
                f"Stream {stream!r}: a record has no value for key property {key!r} (record "
                f"{position + 1} of its batch of {batch.num_rows}); Singer requires every "
                "key property in every record. Nothing of this batch was loaded."
            )
            raise MissingKeyError(msg)


@contextlib.contextmanager
def _row_errors(stream: str) -> Iterator[None]:
    """Name the stream in DuckDB's errors about a row (a constraint, a conversion)."""
    try:
        yield
    except duckdb.ConstraintException as exc:
        msg = f"Stream '{stream}': a record breaks a constraint of the table: {exc}"
        raise WarehouseError(msg) from exc
    except duckdb.ConversionException as exc:
        msg = f"Stream '{stream}': a value cannot be converted to its column type: {exc}"
        raise WarehouseError(msg) from exc


class BatchLoad(NamedTuple):
    """One parsed batch of a stream, as `DuckDBWarehouse.upsert` takes it."""

    stream: str
    columns: list[Column]
    keys: list[str]
    batch: pa.Table
    version: int | None


class DuckDBWarehouse(DuckDBDeletes):
    """Loads Arrow batches into a DuckDB file and keeps state and load records beside them."""

    def upsert_in_background(
        self, load: BatchLoad, loaded: Callable[[int, int, int], None] | None = None
    ) -> None:
        """Start upserting a batch on the loader thread and return at once.

        Waits for the previous batch first (batches load in arrival order, one at a time).

        Args:
            load: The batch and its stream (the arguments of `upsert`).
            loaded: Called on the loader thread with `(rows, inserted, updated)` when done.
        """
        self.wait_for_loads()
        if self._loader is None:
            self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="equipme-loader")

        def job() -> None:
            self._loader_thread = threading.get_ident()
            inserted, updated = self.upsert(*load)
            if loaded is not None:
                loaded(load.batch.num_rows, inserted, updated)
            # Commit here, while the next batch is parsed, rather than at the next STATE.
            if self._uncommitted_rows >= self.commit_every_rows:
                self._commit()

        self._pending = self._loader.submit(job)

    # -- tables (introspection and planning live in SchemaPlanner) ----------------------

    def ensure_stream(self, stream: str, columns: list[Column], keys: list[str]) -> None:
        """Create or evolve the stream's table inside the current transaction.

        Args:
            stream: Stream name.
            columns: The stream's columns.
            keys: Key properties.
        """
        self.wait_for_loads()
        if self._ensured.get(stream) != columns:
            self.create_or_evolve(stream, columns, keys)

    def create_or_evolve(self, stream: str, columns: list[Column], keys: list[str]) -> None:
        """Create the stream's table or change it to `columns` (`ensure_stream`'s work).

        Args:
            stream: Stream name.
            columns: The stream's columns.
            keys: Key properties.
        """
        statements, changes = self.plan_changes(stream, columns, keys)
        if self._in_transaction and any(s.startswith("ALTER TABLE") for s in statements):
            # DuckDB cannot commit a transaction that changed a table's rows and then altered
            # it ("another transaction has altered this table"): a field first seen on a
            # later record (a new SCHEMA mid-stream) would fail every run. The rows loaded so
            # far are committed first, as `commit_every_rows` does; the state is not.
            logger.info("Stream '%s': committing the rows loaded so far before altering it", stream)
            self._commit()
        self._begin()
        self._ddl_ran = self._ddl_ran or bool(statements)
        for statement in statements:
            logger.info("Stream '%s': %s", stream, statement)
            self.con.execute(statement)
        self._record_schema_changes(stream, changes)
        self._ensured[stream] = columns
        self._stats.setdefault(stream, LoadStats())
        if keys:
            self._ensure_tracking(stream, keys)

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
        _check_keys(stream, batch, keys)
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
            with _row_errors(stream):
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
        with _row_errors(stream):
            self.con.execute(
                f"INSERT INTO {table} ({', '.join(quote(n) for n in insert_cols)}) "
                f"SELECT {', '.join(select)} FROM {_STAGED}",
                [utc_now(), version],
            )
        return staged_rows - updated, updated


__all__ = [
    "DuckDBWarehouse",
    "IncompatibleSchemaError",
    "LoadStats",
    "MissingKeyError",
    "connect_duckdb",
    "seen_table",
]
