"""`EquipmeStream`: the base stream (API access, lean record path, fields beyond the spec).

The list-stream logic (pagination, bookmark, change capture) is `list_stream.EquipmeListStream`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, cast

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

from tap_equipme.errors import EquipmeError
from tap_equipme.http.api_client import ApiClient
from tap_equipme.record_checks import RecordShapeError, field_problem
from tap_equipme.schema_widening import SchemaEvolver

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_equipme.personal_data import PersonalDataPolicy


class StreamOwner(Protocol):
    """What a stream needs of its tap (a protocol, so the streams never import the tap)."""

    api_client: ApiClient
    streams: Mapping[str, Stream]
    personal_data: PersonalDataPolicy


BOOKMARK_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
BOOKMARK_KEY = "createdAfter"
SYNC_MODES = ("change_capture", "incremental")
RUN_STATS_KEY = "run_stats"
"""Top-level key of the final STATE carrying the run's request counters (`RequestStats`)."""


class EquipmeStream(Stream):
    """Base stream: shares the tap's API client; records go out as the API sent them.

    Fields beyond the spec follow the `unknown_fields` setting (see `schema_evolution`).
    """

    # Records are emitted as the API sends them and the schema comes from the same spec, so a
    # per-record type conformance walk would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Initialize the stream; its schema marks the personal fields (see `personal_data`)."""
        super().__init__(*args, **kwargs)
        # The streams declare `schema` as a class attribute (shared by every instance and so
        # by taps of other configs): this instance gets a marked copy of its own, in place
        # before the tap builds the catalog and the stream maps from it.
        marked = self.owner.personal_data.mark_schema(self.name, copy.deepcopy(self.schema))
        self.__dict__["schema"] = self._schema = marked

    @cached_property
    def _scrub(self) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
        # None when nothing of this stream is hashed or dropped: the record path stays as is.
        return self.owner.personal_data.scrubber(self.name)

    @override
    def _write_activate_version_message(self, full_table_version: int) -> None:
        # singer-sdk versions a full refresh by the second the tap started, so two refreshes
        # within one second (a quick retry) would share a version and the second could not
        # soft-delete what the first still had. The tap's start in milliseconds keeps them
        # apart; the closing message (close_version) repeats the same value.
        if full_table_version == self._initialized_at // 1000:
            full_table_version = self._stream_version = self.run_version()
        super()._write_activate_version_message(full_table_version)

    def run_version(self) -> int:
        """This run's table version: the tap's start in milliseconds (a resumed run: its own).

        Returns:
            The version of a full refresh's ACTIVATE_VERSION and records.
        """
        return self._initialized_at

    def close_version(self) -> None:
        """In a full refresh, repeat ACTIVATE_VERSION once every record of the stream is out.

        singer-sdk sends it only before the first record; the Singer convention repeats it at
        the end, so a target can tell a complete version from one cut short by a failure.
        """
        if self.selected and self.emit_activate_version_messages and self._stream_version:
            self._write_activate_version_message(self._stream_version)

    @property
    def api(self) -> ApiClient:
        """The tap's pooled API client."""
        return self.owner.api_client

    @property
    def owner(self) -> StreamOwner:
        """The tap this stream belongs to."""
        return cast("StreamOwner", self._tap)

    @cached_property
    def _all_properties_selected(self) -> bool:
        mask = self.mask
        return all(mask.get(crumb, True) for crumb in mask)

    @cached_property
    def _evolver(self) -> SchemaEvolver:
        # Works on a copy: the class's spec-derived schema (and so --discover) never changes.
        return SchemaEvolver(self.schema)

    @cached_property
    def _reported_paths(self) -> set[str]:
        return set()

    @property
    def unknown_fields_policy(self) -> str:
        """The `unknown_fields` setting: `keep` (default), `drop` or `fail`."""
        return str(self.config.get("unknown_fields") or "keep")

    def _handle_unknown_fields(self, record: dict) -> dict:
        """Apply the `unknown_fields` policy to a record that does not fit the schema.

        Args:
            record: The record as the API sent it.

        Returns:
            The record to emit (without the fields that `drop` removes or that are held back).

        Raises:
            EquipmeError: With `fail`, naming the stream and the fields.
        """
        evolver = self._evolver
        policy = self.unknown_fields_policy
        if policy == "fail":
            paths = evolver.unknown_paths(record)
            msg = (
                f"Stream '{self.name}': the API sent field(s) {', '.join(map(repr, paths))} "
                "that the spec does not declare, and `unknown_fields` is 'fail': stopped "
                "before emitting that record. Set `unknown_fields` to 'keep' to add such fields "
                "to the schema, or to 'drop' to leave them out."
            )
            raise EquipmeError(msg)
        if policy == "keep":
            problem = field_problem(record)
            if problem:
                keys = ", ".join(f"{k}={record.get(k)!r}" for k in self.primary_keys)
                msg = (
                    f"Stream '{self.name}', record {keys}: {problem}, so it cannot be added to "
                    "the schema (`unknown_fields` is 'keep'); stopped before emitting that "
                    "record. Set `unknown_fields` to 'drop' to leave fields beyond the spec out."
                )
                raise RecordShapeError(msg)
            changes = evolver.widen(record)
            if changes:
                self._adopt_schema(evolver.schema)
                for change in changes:
                    self.logger.info(
                        "%s: field '%s' is not in the spec: %s (unknown_fields=keep)",
                        self.name,
                        change.path,
                        f"added as {change.new_type}"
                        if change.kind == "added"
                        else f"widened from {change.old_type} to {change.new_type}",
                    )
        record, removed = evolver.strip_unknown(record)
        new = [path for path in removed if path not in self._reported_paths]
        if new:
            self._reported_paths.update(new)
            if policy == "drop":
                self.logger.warning(
                    "%s records carry fields the spec does not declare, dropped "
                    "(unknown_fields=drop): %s",
                    self.name,
                    ", ".join(new),
                )
            else:
                self.logger.info(
                    "%s: field(s) %s not in the spec and so far only null or empty: left out "
                    "until they carry a value",
                    self.name,
                    ", ".join(f"'{path}'" for path in new),
                )
        return record

    def _adopt_schema(self, schema: dict) -> None:
        """Make a widened schema the stream's own and send it before the next record."""
        # A new field the policy names is marked personal, so a loader's suppression list
        # blanks it too.
        self._schema = self.owner.personal_data.mark_schema(self.name, schema)
        # The stream maps (aliases, flattening, property maps) derive their schemas from it.
        self._tap.mapper.register_raw_stream_schema(self.name, schema, self.primary_keys)
        self._stream_maps = None
        self._write_schema_message()

    @override
    def _generate_record_messages(self, record: dict) -> Generator[RecordMessage, None, None]:
        # The personal-data policy first, before any output (and before stream maps see it):
        # a field beyond the spec that the policy hashes or drops gets its schema from what
        # is emitted (a hash is a string, whatever the value was; a dropped one never lands).
        scrub = self._scrub
        if scrub is not None:
            record = scrub(record)
        # A record with fields beyond the schema (the API grew) takes the slow path once;
        # the check itself is a few set comparisons.
        if not self._evolver.fits(record):
            record = self._handle_unknown_fields(record)
        # singer-sdk walks every record against the selection mask (most of the tap's CPU
        # time); when every property is selected there is nothing to remove, so skip it.
        if not self._all_properties_selected:
            yield from super()._generate_record_messages(record)
            return
        version = self._stream_version
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=version,
                    time_extracted=datetime.now(timezone.utc),
                )
