"""The tap's streams: `customers` and its child `customer_metadata`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, cast

from tap_equipme import schemas
from tap_equipme.api_client import array_problem
from tap_equipme.client import EquipmeListStream, EquipmeStream
from tap_equipme.fanout import map_bounded

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


class CustomerMetadataStream(EquipmeStream):
    """Metadata of the customers the parent emitted in this run (one request per customer).

    Fetched concurrently (`metadata_concurrency` requests in flight at most, a bounded window
    of results in memory), emitted from the main thread. No per-customer state partitions.
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

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        return bool(self.config.get("full_refresh"))

    def _parent_ids(self) -> Iterable[int]:
        parent = self.owner.streams[CustomersStream.name]
        return cast("CustomersStream", parent).emitted_ids

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
        for customer_id, items in map_bounded(self._fetch, self._parent_ids(), concurrency):
            if items is None:
                # 403 / 404: the customer was deleted after it was listed.
                self.skipped_customers += 1
                self.logger.warning(
                    "Customer %d: metadata not accessible (403/404, deleted since it was "
                    "listed?); skipped",
                    customer_id,
                )
                continue
            for item in items:
                yield {"customer_id": customer_id, **item}
        self.close_version()
        self.logger.log(
            logging.WARNING if self.skipped_customers else logging.INFO,
            "customer_metadata: skipped %d customer(s) whose metadata answered 403/404",
            self.skipped_customers,
        )
