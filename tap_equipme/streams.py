"""The tap's streams: `customers`, its child `customer_metadata`, and the reads of the latter.

`customer_metadata_reads` has one row per customer whose metadata this run read (the customer
id, when, how many keys): a plain table for any target, and for the warehouse loader the proof
that the customer's metadata rows loaded in this run are all of them (see `child_sets`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, cast

from singer_sdk import typing as th

from tap_equipme import schemas
from tap_equipme.client import EquipmeStream
from tap_equipme.config_checks import parse_start_date
from tap_equipme.http.api_client import array_problem
from tap_equipme.http.fanout import map_bounded
from tap_equipme.list_stream import EquipmeListStream
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
            ids = list(self.emitted_ids)
            self.metadata_plan = {"new": len(ids), "refreshed": 0}
            return ids
        window = self.stream_state.get("metadata_refresh")
        cursor = window.get("cursor") if isinstance(window, dict) else None
        started = self.api.first_response_date or datetime.now(timezone.utc)
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
        return [*sorted(self.new_ids), *refreshed]

    @override
    def extra_state(self, started: datetime) -> dict[str, Any]:
        if self.sync_mode != "change_capture":
            return {}
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

    def _parent_ids(self) -> Iterable[int]:
        parent = self.owner.streams[CustomersStream.name]
        return cast("CustomersStream", parent).metadata_ids()

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
        for customer_id, items in map_bounded(self._fetch, self._parent_ids(), concurrency):
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

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        return bool(self.config.get("full_refresh"))

    @override
    def get_records(self, context: Context | None) -> Iterator[dict]:
        metadata = self.owner.streams[CustomerMetadataStream.name]
        yield from cast("CustomerMetadataStream", metadata).reads
        # Like its siblings: close the version it opened, or a target that waits for the
        # closing message never deletes and warns on every full refresh.
        self.close_version()
