"""`target-duckdb-lake`: a singer-sdk Target loading Singer streams into DuckDB or DuckLake.

Destinations: a DuckDB file, a Parquet directory, a DuckLake. Settings: `target_settings`.
"""

from __future__ import annotations

import os
import sys
import threading
import typing as t
import weakref

import msgspec
import pyarrow as pa
from singer_sdk import Target
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities
from singer_sdk.mapper import SameRecordTransform
from typing_extensions import override

from tap_equipme.warehouse.commit_policy import (
    DEFAULT_STATE_COMMIT_ROWS,
    DEFAULT_STATE_COMMIT_SECONDS,
    CommitPolicy,
)
from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.reader import LazyRecordReader
from tap_equipme.warehouse.sinks import WarehouseSink
from tap_equipme.warehouse.target_settings import CONFIG_JSONSCHEMA, warehouse_opener
from tap_equipme.warehouse.versions import VersionTracker, activate_version_mode

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.sinks import Sink

    from tap_equipme.warehouse.duckdb_writer import DuckDBWarehouse

_RECORD_DECODER = msgspec.json.Decoder()
_OPEN_WAREHOUSES: weakref.WeakSet[DuckDBWarehouse] = weakref.WeakSet()
"""Warehouses opened by targets in this process, so the CLI can roll back on any exit."""


def _in_import_machinery(frame: FrameType | None) -> bool:
    """Whether the interrupted code is inside importlib's bootstrap (holding its locks)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


class TargetDuckdbLake(Target):
    """Loads Singer streams into a DuckDB file, a Parquet directory or a DuckLake (upserts)."""

    name = "target-duckdb-lake"
    package_name = "tap-equipme"
    default_sink_class = WarehouseSink
    terminated_by: int | None = None
    """The termination signal received, if any (the run then never succeeds); set by the
    handler, which singer-sdk installs before this class's `__init__` body runs."""
    message_reader_class = LazyRecordReader
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        *Target.capabilities,
        PluginCapabilities.ACTIVATE_VERSION,
    ]

    config_jsonschema = CONFIG_JSONSCHEMA

    def __init__(self, **kwargs: t.Any) -> None:
        """Initialize the target and check its settings (fails fast on bad ones).

        Args:
            **kwargs: See `singer_sdk.Target`.
        """
        super().__init__(**kwargs)
        # Arrow's default pool (mimalloc) hands pages back to the OS after every batch and
        # takes them again for the next: a third of the JSON parse went to page faults.
        pa.set_memory_pool(pa.system_memory_pool())
        # One DuckDB connection and its open transaction are shared by all sinks.
        self.max_parallelism = 1
        # Settings are checked now; the destination is opened (and locked) when writing starts.
        self._open_warehouse = warehouse_opener(self.config)
        self._warehouse: DuckDBWarehouse | None = None
        # Which reading of ACTIVATE_VERSION applies (see `versions`); checked now.
        self._version_mode = activate_version_mode(self.config)
        self._raw_sinks: dict[str, WarehouseSink | None] = {}
        self._line_sinks: dict[bytes, WarehouseSink | None] = {}
        self._raw_records_seen = 0
        self._last_schemas: dict[str, tuple[t.Any, t.Any]] = {}
        self.commit_policy = CommitPolicy(
            int(self.config.get("state_commit_rows") or DEFAULT_STATE_COMMIT_ROWS),
            float(self.config.get("state_commit_seconds") or DEFAULT_STATE_COMMIT_SECONDS),
        )
        if isinstance(self.message_reader, LazyRecordReader):
            self.message_reader.on_failure.append(self._on_failure)
            self.message_reader.raw_record_handler = self._take_raw_record
            self.message_reader.record_line_handler = self._take_record_line

    @property
    def warehouse(self) -> DuckDBWarehouse:
        """The destination, opened when writing starts (first SCHEMA, STATE or end of input).

        A target built but never written to (singer-sdk's test harness builds one per test
        before the one it runs) therefore holds no file or directory lock.

        Returns:
            The warehouse writer.
        """
        if self._warehouse is None:
            self._warehouse = self._open_warehouse()
            self._warehouse.versions = VersionTracker(self._version_mode)
            _OPEN_WAREHOUSES.add(self._warehouse)
        return self._warehouse

    def active_sink(self, stream_name: str) -> Sink | None:
        """Return the current sink of a stream.

        Args:
            stream_name: Stream name.

        Returns:
            The sink, or None.
        """
        return self._sinks_active.get(stream_name)

    def _raw_sink(self, stream_name: str) -> WarehouseSink | None:
        """Return the sink that may take raw records for a stream (no maps, no validation)."""
        if stream_name in self._raw_sinks:
            return self._raw_sinks[stream_name]
        maps = self.mapper.stream_maps.get(stream_name, [])
        sink = self._sinks_active.get(stream_name)
        plain = (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == stream_name
            and not maps[0].flattening_enabled
        )
        raw_sink = (
            sink if plain and isinstance(sink, WarehouseSink) and sink.accepts_raw_records else None
        )
        self._raw_sinks[stream_name] = raw_sink
        return raw_sink

    def _line_sink(self, stream_key: bytes) -> WarehouseSink | None:
        """Return the sink that keeps a stream's RECORD lines whole, or None if it cannot."""
        sink = self._line_sinks.get(stream_key)
        if sink is None and stream_key not in self._line_sinks:
            try:
                stream = _RECORD_DECODER.decode(b'"' + stream_key + b'"')
            except msgspec.DecodeError:
                stream = None
            raw_sink = self._raw_sink(stream) if isinstance(stream, str) else None
            sink = raw_sink if raw_sink is not None and raw_sink.accepts_message_lines else None
            self._line_sinks[stream_key] = sink
        return sink

    def _count_raw_record(self) -> None:
        self._raw_records_seen += 1
        self.commit_policy.record()
        if not self._raw_records_seen % 8192:
            self._handle_max_record_age()

    def _take_record_line(self, stream_key: bytes, line: bytes) -> bool:
        """Append a whole RECORD line to its sink, unparsed, if the stream allows it.

        Args:
            stream_key: The stream name as it appears (JSON-escaped) in the line.
            line: The RECORD message line.

        Returns:
            False if the line must be parsed and take another path.
        """
        sink = self._line_sink(stream_key)
        if sink is None:
            return False
        if sink.add_line(line):
            self.drain_one(sink)
        self._count_raw_record()
        return True

    def _take_raw_record(self, stream: str | None, raw: msgspec.Raw, version: int | None) -> bool:
        """Append a raw record to its sink if the stream needs no per-record SDK work.

        Args:
            stream: The RECORD message's stream.
            raw: The record's JSON text.
            version: The RECORD message's version.

        Returns:
            False if the record must take singer-sdk's standard path instead.
        """
        sink = self._raw_sinks.get(stream or "")
        if sink is None:
            if stream is None or stream in self._raw_sinks:
                return False
            sink = self._raw_sink(stream)
            if sink is None:
                return False
        if sink.add_raw(raw, version):
            self.drain_one(sink)
        self._count_raw_record()
        return True

    @override
    def _process_schema_message(self, message_dict: dict) -> None:
        # singer-sdk taps repeat a child stream's SCHEMA for every parent record: skip the
        # repeats cheaply, they change nothing.
        stream = message_dict.get("stream")
        fingerprint = (message_dict.get("schema"), message_dict.get("key_properties"))
        if stream in self._last_schemas and self._last_schemas[stream] == fingerprint:
            return
        self._raw_sinks.clear()
        self._line_sinks.clear()
        super()._process_schema_message(message_dict)
        self._last_schemas[str(stream)] = fingerprint

    @override
    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict | None = None,
        schema: dict | None = None,
        key_properties: t.Sequence[str] | None = None,
    ) -> Sink:
        """Return the stream's sink; load the old sink's records before a schema change.

        singer-sdk would keep the old sink's records until the next full drain, so rows
        loaded later from the new sink could be overwritten by older ones.

        Args:
            stream_name: Stream name.
            record: The record being processed, if any.
            schema: The stream's (new) schema, with a SCHEMA message.
            key_properties: Key properties, with a SCHEMA message.

        Returns:
            The sink.
        """
        existing = self._sinks_active.get(stream_name)
        if (
            schema is not None
            and existing is not None
            and (existing.original_schema != schema or existing.key_properties != key_properties)
        ):
            self.drain_one(existing)
        return super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        record = message_dict.get("record")
        if isinstance(record, msgspec.Raw):
            if self._take_raw_record(
                message_dict.get("stream"), record, message_dict.get("version")
            ):
                return
            message_dict["record"] = _RECORD_DECODER.decode(record)
        self.commit_policy.record()
        stream_name = message_dict.get("stream")
        sink_for_version = self._sinks_active.get(stream_name or "")
        if isinstance(sink_for_version, WarehouseSink):
            sink_for_version.observe_version(message_dict.get("version"))
        super()._process_record_message(message_dict)

    @override
    def _process_activate_version_message(self, message_dict: dict) -> None:
        # The SDK's handler warns about `_sdc_*` columns this target does not use: it tracks
        # versions in its own `_sdc_table_version` and `_deleted_at` columns.
        # Records waiting in a batch are loaded first: whether this message closes a version
        # depends on the versions of the records that came before it.
        stream_name = message_dict["stream"]
        for stream_map in self.mapper.stream_maps[stream_name]:
            sink = self.get_sink(stream_map.stream_alias)
            if sink.process_activate_version_messages:
                self.drain_one(sink)
                sink.activate_version(message_dict["version"])

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        # The `opening` reading deletes only for streams whose records all came before a
        # STATE: singer-sdk taps send one after each stream, a tap that dies mid-stream not.
        versions = self.warehouse.versions
        for name, sink in self._sinks_active.items():
            if isinstance(sink, WarehouseSink):
                versions.observe_state(name, sink.rows_received)
        super()._process_state_message(message_dict)
        # A STATE after a bounded interval is committed at once (with every batch before
        # it), not at the next full batch or after five minutes: see `commit_policy`.
        if self.commit_policy.due():
            self.drain_all()

    @override
    def _write_state_message(self, state: dict) -> None:
        """Commit the state with the data it covers, then (only then) emit it on stdout.

        Args:
            state: The latest state; every sink has been drained.
        """
        self.warehouse.commit_state(state)
        self.commit_policy.committed()
        super()._write_state_message(state)

    @override
    def process_endofpipe(self) -> None:
        """Drain everything, commit state, mark the run's loads succeeded.

        Not after a termination signal: a run told to stop (its tap failed, the pipeline was
        stopped) is never recorded as succeeded, even if its input then ended cleanly.
        """
        try:
            if self.terminated_by is not None:
                raise SystemExit(128 + self.terminated_by)
            # Reached only after the last line was read with no error and no signal: the
            # one moment the `opening` reading of ACTIVATE_VERSION may arm deletions.
            self.warehouse.versions.end_of_input(
                {
                    name: sink.rows_received
                    for name, sink in self._sinks_active.items()
                    if isinstance(sink, WarehouseSink)
                }
            )
            super().process_endofpipe()
            if self.terminated_by is not None:
                raise SystemExit(128 + self.terminated_by)
            self.warehouse.finish()
        except BaseException as exc:
            self._on_failure(exc)
            raise

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """Stop on SIGTERM / SIGINT without committing a half-loaded batch.

        singer-sdk's handler drains and commits whatever is pending, even if the signal
        arrived in the middle of a batch's statements. Here the signal unwinds the run
        instead: the open batch is rolled back; committed batches and state stay.

        Args:
            signum: The signal number.
            frame: The interrupted frame.

        Raises:
            SystemExit: Always, with status 128 + signum.
        """
        self.terminated_by = signum
        if _in_import_machinery(frame):
            # An exception raised inside importlib's locking would leak the import lock and
            # hang the loader thread's next import (seen when a tap fails at once and the
            # pipeline stops the target while it still imports): deliver it again shortly.
            threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
            return
        self.logger.warning(
            "Received signal %d: rolling back the open batch and stopping. Committed batches "
            "and the last committed state stay; the next run resumes from that state.",
            signum,
        )
        raise SystemExit(128 + signum)

    def _on_failure(self, exc: BaseException) -> None:
        if self._warehouse is not None:  # never opened: nothing to roll back
            self._warehouse.fail(f"{type(exc).__name__}: {exc}")

    @override
    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: t.Any = None,
        file_input: t.IO[str] | None = None,
    ) -> None:
        """Run the target; user-fixable errors print one paragraph and exit 1.

        Args:
            about: Display package metadata and settings.
            about_format: Format of `--about`.
            config: Config file(s) or ENV.
            file_input: Messages file (default stdin).
        """
        try:
            super().invoke(
                about=about, about_format=about_format, config=config, file_input=file_input
            )
        except BaseException as exc:
            # A signal can land outside the reader (e.g. at end of input): make sure the
            # open batch is rolled back and the run marked failed (no-op if already closed).
            for warehouse in _OPEN_WAREHOUSES:
                warehouse.fail(f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, WarehouseError):
                raise
            sys.stderr.write(f"target-duckdb-lake: error: {exc}\n")
            sys.stderr.flush()
            sys.exit(1)
