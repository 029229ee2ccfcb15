"""The tap's streams: `customers`, its child `customer_metadata`, and the reads of the latter.

`customer_metadata_reads` has one row per customer whose metadata this run read (the customer
id, when, how many keys): a plain table for any target, and for the warehouse loader the proof
that the customer's metadata rows loaded in this run are all of them (see `child_sets`).
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, cast

from singer_sdk import typing as th

from tap_equipme import schemas
from tap_equipme.client import RUN_STATS_KEY, EquipmeStream
from tap_equipme.config_checks import parse_start_date
from tap_equipme.http.api_client import array_problem
from tap_equipme.http.fanout import map_bounded
from tap_equipme.list_stream import EquipmeListStream
from tap_equipme.listing.checkpoint import (
    DEFAULT_EVERY_CUSTOMERS,
    DEFAULT_INTERVAL_SECONDS,
    CheckpointClock,
    Progress,
)
from tap_equipme.listing.checkpoint import STATE_KEY as PROGRESS_KEY
from tap_equipme.listing.metadata_window import plan_slice
from tap_equipme.record_checks import RecordShapeError, attribute_metadata, metadata_item_problem

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class CustomersStream(EquipmeListStream):
    """Customers (`GET /v1/sales/customers`), the spec's `Customer`."""

    name = "customers"
    path = "v1/sales/customers"
    primary_keys: ClassVar[list[str]] = ["id"]
    replication_key = None
    schema = schemas.customer_schema()
    filter_params: ClassVar[dict[str, str]] = {
        "active": "active",
        "customer_numbers": "customerNumbers",
        "names": "names",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Initialize the stream (see `singer_sdk.Stream`)."""
        super().__init__(*args, **kwargs)
        self._metadata_cursor: int | None = None
        self.metadata_plan: dict[str, int] = {}
        """How many customers' metadata this run reads: new ones and re-read ones."""
        self.progress: Progress | None = None
        """How far this run's metadata phase got (written to the state at each checkpoint)."""
        self._resumable: tuple[Progress | None] | None = None

    def resumable(self) -> Progress | None:
        """The unfinished run of the same mode that this run continues, if any.

        Returns:
            The progress recorded in the state, or None (none, another mode, or `restart`).
        """
        if self._resumable is None:
            self._resumable = (self._find_resumable(),)
        return self._resumable[0]

    def _find_resumable(self) -> Progress | None:
        progress = Progress.from_state(self.stream_state.get(PROGRESS_KEY))
        if progress is None:
            return None
        if self.config.get("restart"):
            self.logger.info("Restarting: unfinished %s dropped (restart)", progress.describe())
            return None
        if progress.mode != self.sync_mode:
            self.logger.warning(
                "Not resuming unfinished %s %s: this run is %s and starts over",
                progress.mode.replace("_", " "),
                progress.describe(),
                self.sync_mode.replace("_", " "),
            )
            return None
        return progress

    def child_version(self) -> int:
        """The table version of the child streams (a resumed full refresh: the one it resumes).

        The customers listing itself is read whole by every run and takes a new version.

        Returns:
            A version in milliseconds.
        """
        resumed = self.resumable()
        if resumed is not None and resumed.version is not None:
            return resumed.version
        return self.run_version()

    def run_started(self) -> datetime:
        """When this run started (server time); a resumed run: when the one it continues did.

        Returns:
            An aware datetime.
        """
        resumed = self.resumable()
        if resumed is not None:
            try:
                return parse_start_date(resumed.started_at)
            except ValueError:
                pass
        return self.api.first_response_date or datetime.now(timezone.utc)

    def _start_progress(self, ids: list[int]) -> list[int]:
        """Record this run's metadata plan; a resumed run drops the customers already done."""
        total = len(ids)
        resumed = self.resumable()
        if resumed is not None and resumed.after_id is not None:
            after = resumed.after_id
            remaining = [i for i in ids if i > after]
            self.progress = resumed.advanced(after, total - len(remaining))
            self.progress = Progress(**{**self.progress.to_state(), "total": total})
            self.logger.info("Resuming %s", self.progress.describe())
            return remaining
        self.progress = Progress(
            run=resumed.run if resumed else uuid.uuid4().hex[:8],
            mode=self.sync_mode,
            started_at=self.run_started().astimezone(timezone.utc).isoformat(),
            version=self.child_version(),
            after_id=None,
            done=0,
            total=total,
        )
        return ids

    def checkpoint(self, after_id: int, done: int) -> None:
        """Emit a STATE saying that every planned customer up to `after_id` is done.

        Called by the metadata stream once the metadata and reads rows of those customers
        are out; the bookmark itself stays where it was until the run completes.

        Args:
            after_id: The last customer id whose metadata (and reads row) was emitted.
            done: Customers of this run's plan done so far.
        """
        if self.progress is None:
            return
        self.progress = self.progress.advanced(after_id, done)
        self.stream_state[PROGRESS_KEY] = self.progress.to_state()
        cast("dict[str, Any]", self.tap_state)[RUN_STATS_KEY] = self.api.stats.as_state()
        self._tap.state_writer.write_state(self.tap_state)

    @override
    def advance_bookmark(self) -> None:
        super().advance_bookmark()
        self.stream_state.pop(PROGRESS_KEY, None)
        if self.sync_mode == "full_refresh":
            # As before resumable runs: a full refresh leaves no rolling-window position.
            self.stream_state.pop("metadata_refresh", None)

    def _previous_start(self) -> datetime | None:
        window = self.stream_state.get("metadata_refresh")
        text = window.get("previous_run_started_at") if isinstance(window, dict) else None
        if not text:
            # A state from an incremental run: its bookmark is that run's start - lookback.
            text = self.stream_state.get("replication_key_value")
            lookback = timedelta(minutes=float(self.config.get("lookback", 5)))
        else:
            lookback = timedelta(0)
        try:
            return parse_start_date(str(text)) + lookback if text else None
        except ValueError:
            return None

    def metadata_ids(self) -> Iterable[int]:
        """The customers whose metadata this run reads.

        Incremental and full refresh: every customer listed. Change capture: the customers
        created since the bookmark, plus the rolling slice of existing ones
        (`metadata_refresh_days`, see `metadata_window`).

        Returns:
            Customer ids.
        """
        if self.sync_mode != "change_capture" or self.new_ids is None:
            # Ascending ids: a checkpoint is one id, "every customer up to here is done".
            ids = sorted(set(self.emitted_ids))
            self.metadata_plan = {"new": len(ids), "refreshed": 0}
            return self._start_progress(ids)
        window = self.stream_state.get("metadata_refresh")
        cursor = window.get("cursor") if isinstance(window, dict) else None
        started = self.run_started()
        days = float(self.config.get("metadata_refresh_days", 7))
        planned = plan_slice(
            self.emitted_ids,
            cursor if isinstance(cursor, int) else None,
            self._previous_start(),
            started,
            timedelta(days=days),
        )
        self._metadata_cursor = planned.cursor
        refreshed = [i for i in planned.ids if i not in self.new_ids]
        self.metadata_plan = {"new": len(self.new_ids), "refreshed": len(refreshed)}
        self.logger.info(
            "Metadata this run: %d new customers, %d re-read (rolling %g-day window, after "
            "customer id %s)",
            len(self.new_ids),
            len(refreshed),
            days,
            cursor,
        )
        return self._start_progress(sorted({*self.new_ids, *refreshed}))

    @override
    def extra_state(self, started: datetime) -> dict[str, Any]:
        if self.sync_mode != "change_capture":
            return {}
        started = self.run_started()  # a resumed run continues the window of the one it resumes
        previous = self.stream_state.get("metadata_refresh")
        cursor = self._metadata_cursor
        if cursor is None and isinstance(previous, dict):
            cursor = previous.get("cursor")
        return {
            "metadata_refresh": {
                "cursor": cursor,
                "previous_run_started_at": started.astimezone(timezone.utc).isoformat(),
            }
        }


class CustomerMetadataStream(EquipmeStream):
    """Metadata of the customers the parent emitted in this run (one request per customer).

    Fetched concurrently (`metadata_concurrency` requests in flight at most, a bounded window
    of results in memory), emitted from the main thread. No per-customer state partitions.

    Each row's `customer_id` is the customer of the request path, never a value from the
    item: an item that carries a `customer_id` of its own (the spec's MetadataItem has none)
    keeps it as `payload_customer_id` (a field beyond the spec, under `unknown_fields`). An
    item without a string `key` stops the run with an error naming the customer.
    """

    name = "customer_metadata"
    path_template = "v1/sales/customers/{customer_id}/metadata"
    primary_keys: ClassVar[list[str]] = ["customer_id", "key"]
    replication_key = None
    schema = schemas.customer_metadata_schema()
    parent_stream_type = CustomersStream
    state_partitioning_keys: ClassVar[list[str]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Initialize the stream (see `singer_sdk.Stream`)."""
        super().__init__(*args, **kwargs)
        self.skipped_customers = 0
        self.reads: list[dict[str, Any]] = []
        """One entry per customer whose metadata this run read (for the reads stream)."""

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        return bool(self.config.get("full_refresh"))

    @override
    def run_version(self) -> int:
        # A resumed full refresh keeps the interrupted run's version: its rows already landed.
        return self._customers().child_version()

    def _customers(self) -> CustomersStream:
        return cast("CustomersStream", self.owner.streams[CustomersStream.name])

    def _parent_ids(self) -> Iterable[int]:
        return self._customers().metadata_ids()

    def _checkpoint_clock(self) -> CheckpointClock:
        return CheckpointClock(
            int(self.config.get("checkpoint_every_customers") or DEFAULT_EVERY_CUSTOMERS),
            float(self.config.get("checkpoint_interval_seconds") or DEFAULT_INTERVAL_SECONDS),
        )

    def _fetch(self, customer_id: int) -> list[dict] | None:
        result = self.api.get_json(
            self.path_template.format(customer_id=customer_id),
            shape_problem=array_problem,
            missing_ok=True,
            kind="metadata",
        )
        return cast("list[dict] | None", result)

    @override
    def get_records(self, context: Context | None) -> Iterator[dict]:
        concurrency = int(self.config.get("metadata_concurrency", 8))
        self.skipped_customers = 0
        self.reads = []
        customers = self._customers()
        ids = self._parent_ids()
        done = customers.progress.done if customers.progress else 0
        reads_stream = cast(
            "CustomerMetadataReadsStream", self.owner.streams[CustomerMetadataReadsStream.name]
        )
        clock = self._checkpoint_clock()
        previous_id: int | None = None
        for customer_id, items in map_bounded(self._fetch, ids, concurrency):
            # Here every record of the customers before this one has been written.
            done += 1
            if previous_id is not None and clock.tick():
                # The previous customers' reads rows, then a STATE covering them: the loader
                # commits them together, and a run cut short resumes after `previous_id`.
                reads_stream.emit_now(self.reads)
                self.reads = []
                customers.checkpoint(previous_id, done - 1)
            previous_id = customer_id
            self.reads.append(
                {
                    "customer_id": customer_id,
                    "read_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "key_count": len(items or ()),
                    "found": items is not None,
                }
            )
            if items is None:
                # 403 / 404: the customer was deleted after it was listed.
                self.skipped_customers += 1
                self.logger.warning(
                    "Customer %d: metadata not accessible (403/404, deleted since it was "
                    "listed?); skipped",
                    customer_id,
                )
                continue
            for index, item in enumerate(items):
                problem = metadata_item_problem(item)
                if problem:
                    msg = (
                        f"Stream '{self.name}': customer {customer_id}, metadata item {index}: "
                        f"{problem}. The API broke its spec; stopped before emitting it."
                    )
                    raise RecordShapeError(msg)
                # The row belongs to the customer of the request path, whatever the item says.
                yield attribute_metadata(customer_id, item)
        self.close_version()
        self.logger.log(
            logging.WARNING if self.skipped_customers else logging.INFO,
            "customer_metadata: skipped %d customer(s) whose metadata answered 403/404",
            self.skipped_customers,
        )


class CustomerMetadataReadsStream(EquipmeStream):
    """One row per customer whose metadata this run read (no request of its own).

    `customer_id`, `read_at`, `key_count`, `found` (False: 403/404, the customer is gone);
    emitted after `customer_metadata`, from what it read.
    """

    name = "customer_metadata_reads"
    primary_keys: ClassVar[list[str]] = ["customer_id"]
    replication_key = None
    schema = th.PropertiesList(
        th.Property("customer_id", th.IntegerType, required=True),
        th.Property("read_at", th.DateTimeType),
        th.Property("key_count", th.IntegerType),
        th.Property("found", th.BooleanType),
    ).to_dict()
    parent_stream_type = CustomersStream
    state_partitioning_keys: ClassVar[list[str]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Initialize the stream (see `singer_sdk.Stream`)."""
        super().__init__(*args, **kwargs)
        self._opened = False

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        return bool(self.config.get("full_refresh"))

    @override
    def run_version(self) -> int:
        parent = self.owner.streams[CustomersStream.name]
        return cast("CustomersStream", parent).child_version()

    def emit_now(self, rows: list[dict[str, Any]]) -> None:
        """Write reads rows before this stream's own sync (at a checkpoint of the metadata).

        The first call sends the SCHEMA (and, in a full refresh, the opening
        ACTIVATE_VERSION) that the stream's sync would send later.

        Args:
            rows: Reads rows of customers whose metadata records are all out.
        """
        if not rows or not self.selected:
            return
        if not self._opened:
            self._write_schema_message()
            if self.emit_activate_version_messages:
                self._stream_version = self.run_version()
                self._write_activate_version_message(self._stream_version)
            self._opened = True
        for row in rows:
            self._write_record_message(row)

    @override
    def _write_activate_version_message(self, full_table_version: int) -> None:
        if self._opened and full_table_version == self._initialized_at // 1000:
            # The sync's opening message, already sent before the checkpointed rows: a repeat
            # now would read as "closing" to a target that had seen rows of the version.
            self._stream_version = self.run_version()
            return
        super()._write_activate_version_message(full_table_version)

    @override
    def get_records(self, context: Context | None) -> Iterator[dict]:
        metadata = self.owner.streams[CustomerMetadataStream.name]
        yield from cast("CustomerMetadataStream", metadata).reads
        # Like its siblings: close the version it opened, or a target that waits for the
        # closing message never deletes and warns on every full refresh.
        self.close_version()
