"""`WarehouseSink`: keeps a stream's records as JSON message lines and loads each batch in bulk."""

from __future__ import annotations

import typing as t
from functools import cached_property

import msgspec
import pyarrow as pa
from singer_sdk.sinks import BatchSink
from typing_extensions import override

from tap_equipme.warehouse.arrow import (
    SchemaConversionError,
    columns_for,
    encode_message,
    freeform_columns,
    parse_schema,
    records_to_arrow,
    wrap_raw,
)
from tap_equipme.warehouse.blanking import PersonalFieldBlanker, personal_paths
from tap_equipme.warehouse.duckdb_writer import BatchLoad
from tap_equipme.warehouse.load_errors import IncompatibleSchemaError, WarehouseError
from tap_equipme.warehouse.suppression import SUPPRESSIONS_TABLE

if t.TYPE_CHECKING:
    from singer_sdk import Target
    from singer_sdk.sinks import Sink
    from singer_sdk.sinks.core import BaseJSONSchemaValidator

    from tap_equipme.warehouse.duckdb_writer import DuckDBWarehouse


class SinkOwner(t.Protocol):
    """What a sink needs of its target (a protocol, so sinks never import the target)."""

    warehouse: DuckDBWarehouse

    def active_sink(self, stream_name: str) -> Sink | None:
        """The stream's current sink, or None."""
        ...


DEFAULT_BATCH_SIZE_ROWS = 50_000


class WarehouseSink(BatchSink):
    """One stream's batches: JSON text -> one Arrow table -> one upsert transaction."""

    MAX_SIZE_DEFAULT = DEFAULT_BATCH_SIZE_ROWS

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        """Initialize the sink and derive the stream's columns from its schema.

        Args:
            target: The target (a `SinkOwner`: it holds the open warehouse).
            stream_name: Stream name.
            schema: Stream JSON schema.
            key_properties: Key properties.

        Raises:
            IncompatibleSchemaError: If the schema cannot be stored.
        """
        super().__init__(target, stream_name, schema, key_properties)
        self._target = t.cast("SinkOwner", target)
        self.warehouse = self._target.warehouse
        self.keys = list(key_properties or [])
        try:
            self.columns = columns_for(self.schema, self.keys)
        except SchemaConversionError as exc:
            msg = f"Stream '{stream_name}': {exc}; nothing was written."
            raise IncompatibleSchemaError(msg) from exc
        self._parse_schema = parse_schema(self.columns)
        self._freeform = freeform_columns(self.columns)
        self._batch = bytearray()
        """The batch: one JSON message line per record (`record`, `version`)."""
        self._batch_rows = 0
        self._raw_pending = 0
        """Fast-path records appended since the last drain (tallied for the SDK in bulk)."""
        self._max_rows = self.max_size
        self.active_version: int | None = None
        self._record_version: int | None = None
        self._rows_drained = 0
        self._blanker = PersonalFieldBlanker(
            stream_name,
            personal_paths(self.schema),
            self.warehouse.suppressions.get(stream_name, {}),
        )
        self._said_missing: set[str] = set()

    @cached_property
    def validate_schema(self) -> bool:
        """Record validation is off by default: the warehouse types check every value.

        Returns:
            The `validate_records` setting (default False).
        """
        return bool(self.config.get("validate_records", False))

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        return super().get_validator() if self.validate_schema else None

    @property
    def accepts_raw_records(self) -> bool:
        """True if records can skip singer-sdk's per-record processing.

        Returns:
            Whether the target may append raw JSON text directly.
        """
        return self._validator is None and not self.include_sdc_metadata_properties

    @override
    def setup(self) -> None:
        """Fail early (before any data) if the warehouse cannot take this schema."""
        super().setup()
        adapted = self.warehouse.adapt_columns(self.stream_name, self.columns)
        if adapted != self.columns:
            # Columns the table keeps as JSON text take any later value as its JSON text.
            self.columns = adapted
            self._parse_schema = parse_schema(adapted)
            self._freeform = freeform_columns(adapted)
        self.warehouse.plan_schema(self.stream_name, self.columns, self.keys)

    def observe_version(self, version: int | None) -> None:
        """Remember the version of the record about to take the standard path.

        Args:
            version: The RECORD message's `version`, if any.
        """
        self._record_version = version

    @property
    def accepts_message_lines(self) -> bool:
        """True if whole RECORD lines can be kept as they are (the fastest path).

        Returns:
            Whether `add_line` may be used.
        """
        return self.accepts_raw_records and not self._freeform

    def add_line(self, line: bytes) -> bool:
        """Append a whole RECORD message line, unparsed (the fastest path).

        Args:
            line: The message, as read from the input.

        Returns:
            True when the batch is full and should be drained.
        """
        batch = self._batch
        batch += line
        if not line.endswith(b"\n"):
            batch += b"\n"
        self._raw_pending += 1
        self._batch_rows += 1
        return self._batch_rows >= self._max_rows

    def add_raw(self, raw: msgspec.Raw, version: int | None) -> bool:
        """Append one record's raw JSON text (no per-record SDK work).

        Args:
            raw: The record's JSON text.
            version: The RECORD message's `version`.

        Returns:
            True when the batch is full and should be drained.
        """
        self._batch += wrap_raw(raw, version, self._freeform)
        self._raw_pending += 1
        self._batch_rows += 1
        return self._batch_rows >= self._max_rows

    @property
    @override
    def current_size(self) -> int:
        """Records waiting in this batch (whatever path they took).

        Returns:
            The number of records to drain.
        """
        return self._batch_rows

    @property
    def rows_received(self) -> int:
        """Records of this sink received so far, loaded or waiting (any path).

        Returns:
            The count (the `opening` reading of ACTIVATE_VERSION compares it at each STATE).
        """
        return self._rows_drained + self._batch_rows

    def _tally_raw_records(self) -> None:
        """Report fast-path records to the SDK's counters in bulk."""
        if self._raw_pending:
            self.tally_record_read(self._raw_pending)
            self.record_counter_metric.increment(self._raw_pending)
            self._raw_pending = 0

    @override
    def process_record(self, record: dict, context: dict) -> None:
        """Append one record that went through singer-sdk's standard path.

        Args:
            record: The (mapped, validated) record.
            context: Batch context (unused: records are kept as JSON text).
        """
        self._batch += encode_message(record, self._record_version, self._freeform)
        self._batch_rows += 1

    @override
    def process_batch(self, context: dict) -> None:
        """Parse the batch (one Arrow call) and hand it to the warehouse's loader thread.

        The upsert runs while the target reads and parses the next batch; its error, if any,
        surfaces at the next batch, STATE or end of input, before anything more commits.

        Args:
            context: Batch context.

        Raises:
            WarehouseError: If a record does not fit the stream's schema.
        """
        self._tally_raw_records()
        # BATCH messages (singer-sdk's process_batch_files) hand records over in the context.
        for record in context.get("records", ()):
            self._batch += encode_message(record, self.active_version, self._freeform)
            self._batch_rows += 1
        self._rows_drained += self._batch_rows
        data, self._batch, self._batch_rows = self._batch, bytearray(), 0
        if not data:
            return
        try:
            table, version = records_to_arrow(data, self._parse_schema)
        except SchemaConversionError as exc:
            msg = f"Stream '{self.stream_name}': {exc}"
            raise WarehouseError(msg) from exc
        del data
        if self._blanker.active:
            table = self._blank_suppressed(table)
        self.warehouse.versions.observe_records(self.stream_name, version)
        if version is None:
            version = self.active_version
        load = BatchLoad(self.stream_name, self.columns, self.keys, table, version)
        self.warehouse.upsert_in_background(load, self._log_loaded)

    def _blank_suppressed(self, table: pa.Table) -> pa.Table:
        """Blank the personal fields of the rows on the suppression list (values never logged)."""
        before = self._blanker.rows_blanked
        table = self._blanker.apply(table)
        if self._blanker.rows_blanked > before:
            self.logger.info(
                "'%s': personal fields blanked in %d row(s) on the suppression list (%s)",
                self.stream_name,
                self._blanker.rows_blanked - before,
                SUPPRESSIONS_TABLE,
            )
        for column in sorted(self._blanker.missing_key_columns - self._said_missing):
            self._said_missing.add(column)
            self.logger.warning(
                "'%s': %s has entries keyed on column '%s', which this stream does not have; "
                "they blank nothing here",
                self.stream_name,
                SUPPRESSIONS_TABLE,
                column,
            )
        return table

    def _log_loaded(self, rows: int, inserted: int, updated: int) -> None:
        self.logger.info(
            "Loaded a batch of %d rows into '%s': %d inserted, %d updated",
            rows,
            self.stream_name,
            inserted,
            updated,
        )

    @override
    def activate_version(self, new_version: int) -> None:
        """Take an ACTIVATE_VERSION; only one that closes a version arms soft deletes.

        The target loads the records received so far first, so their versions are known.
        An opening ACTIVATE_VERSION (nothing of the version seen yet) deletes nothing: the
        tap may still die before the version is complete. See `versions.VersionTracker`.

        Args:
            new_version: The activated table version.
        """
        self.active_version = new_version
        if self.warehouse.versions.activate(self.stream_name, new_version):
            self.logger.info(
                "ACTIVATE_VERSION %s on '%s' closes the version: rows absent from it will be "
                "marked deleted at the end of the run",
                new_version,
                self.stream_name,
            )

    @override
    def clean_up(self) -> None:
        """At end of input, finalize the stream if this is its current sink."""
        if self._target.active_sink(self.stream_name) is self:
            self.finalize()
        super().clean_up()

    def finalize(self) -> None:
        """At end of input: make sure the table exists and apply a complete version's deletes.

        Runs after the stream's last batch, in the transaction the final STATE commits.
        """
        self.warehouse.ensure_stream(self.stream_name, self.columns, self.keys)
        versions = self.warehouse.versions
        version = versions.take_armed(self.stream_name)
        if version is not None:
            opening = versions.armed_by_end_of_input(self.stream_name, version)
            deleted = self.warehouse.soft_delete_absent(self.stream_name, version)
            self.logger.info(
                "ACTIVATE_VERSION %s on '%s': %d rows absent from it marked deleted%s",
                version,
                self.stream_name,
                deleted,
                " (activate_version_mode 'opening': the input ended cleanly after the "
                "opening message)"
                if opening
                else "",
            )
        for child, gone in self.warehouse.apply_child_sets(self.stream_name).items():
            self.logger.info(
                "'%s' lists the parents whose '%s' rows were all read in this run: %d rows "
                "no longer there marked deleted",
                self.stream_name,
                child,
                gone,
            )
        for unclosed in versions.unclosed(self.stream_name):
            self.logger.warning(versions.unclosed_warning(self.stream_name, unclosed))
