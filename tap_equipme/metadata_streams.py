"""The customers' metadata streams: `customer_metadata` and `customer_metadata_reads`.

`customer_metadata` is the child of `customers` (one request per customer, fetched
concurrently). `customer_metadata_reads` has one row per customer whose metadata this run read
(the customer id, when, how many keys): a plain table for any target, and for the warehouse
loader the proof that the customer's metadata rows loaded in this run are all of them (see the
loader's `child_sets` setting).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, cast

from singer_sdk import typing as th
from typing_extensions import override

from tap_equipme import schemas
from tap_equipme.client import EquipmeStream
from tap_equipme.http.api_client import array_problem
from tap_equipme.http.fanout import map_bounded
from tap_equipme.listing.checkpoint import (
    DEFAULT_EVERY_CUSTOMERS,
    DEFAULT_INTERVAL_SECONDS,
    CheckpointClock,
)
from tap_equipme.record_checks import attribute_metadata, check_items, metadata_item_problem
from tap_equipme.streams import CustomersStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class CustomerChildStream(EquipmeStream):
    """A stream of what each customer of this run has: versions follow the customers'."""

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


class CustomerMetadataStream(CustomerChildStream):
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
            check_items(
                items,
                metadata_item_problem,
                f"Stream '{self.name}': customer {customer_id}, metadata",
                "stopped before emitting it.",
            )
            for item in items:
                # The row belongs to the customer of the request path, whatever the item says.
                yield attribute_metadata(customer_id, item)
        self.close_version()
        self.logger.log(
            logging.WARNING if self.skipped_customers else logging.INFO,
            "customer_metadata: skipped %d customer(s) whose metadata answered 403/404",
            self.skipped_customers,
        )


class CustomerMetadataReadsStream(CustomerChildStream):
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
