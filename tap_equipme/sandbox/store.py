"""The sandbox's state: customers, metadata, deletions, creation times, cached JSON.

Thread-safe (one lock). Customers are generated lazily (see ``data``) and rendered once to
JSON bytes; a change to a customer drops its cached bytes, and any change drops the cached
list orderings.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from tap_equipme.sandbox import data
from tap_equipme.sandbox.api_error import forbidden, not_found
from tap_equipme.sandbox.data import CustomerCore
from tap_equipme.sandbox.extra_fields import ExtraFields
from tap_equipme.sandbox.render import Renderer, dumps
from tap_equipme.sandbox.writes import details_from_create

_ORDERING_CACHE_SIZE = 64


@dataclass(frozen=True)
class ListFilter:
    """The filtering and sorting part of a list request (offset/limit excluded)."""

    active: bool | None = None
    created_after_us: int | None = None
    names: tuple[str, ...] = ()
    customer_numbers: tuple[str, ...] = ()
    sort_by: str | None = None
    sort_order: str = "asc"


class Store:
    """All mutable sandbox state behind one lock."""

    def __init__(self, customers: int, seed: int, href_prefix: str = "") -> None:
        self.renderer = Renderer(href_prefix)
        self.lock = threading.RLock()
        self.reset(customers, seed)

    # ----- lifecycle -------------------------------------------------------------------
    def reset(self, customers: int, seed: int) -> None:
        """Regenerate ``customers`` customers from ``seed``; forget every change."""
        cores = data.generate_cores(customers, seed)
        with self.lock:
            self.seed = seed
            self.cores: dict[int, CustomerCore] = {core.id: core for core in cores}
            self.deleted: set[int] = set()
            self.next_id = customers + 1
            self._details: dict[int, dict[str, Any]] = {}
            self._json: dict[int, bytes] = {}
            self._metadata: dict[int, dict[str, dict[str, Any]]] = {}
            self._orderings: OrderedDict[ListFilter, list[int]] = OrderedDict()
            self.renderer.extra = ExtraFields()

    def _changed(self, customer_id: int | None = None) -> None:
        if customer_id is not None:
            self._json.pop(customer_id, None)
        self._orderings.clear()

    # ----- customers -------------------------------------------------------------------
    def _live_core(self, customer_id: int) -> CustomerCore:
        if customer_id in self.deleted:
            raise forbidden(f"Customer {customer_id} does not exist anymore.")
        core = self.cores.get(customer_id)
        if core is None:
            raise not_found(f"Customer {customer_id} was not found.")
        return core

    def details(self, customer_id: int) -> dict[str, Any]:
        """The customer's stored fields (generated on first use), API shape without links."""
        found = self._details.get(customer_id)
        if found is None:
            core = self.cores[customer_id]
            found = data.customer_details(self.seed, core, self.cores.get)
            referrer_id = found.get("referredBy", {}).get("company")
            if referrer_id is not None:
                referrer = self.cores[referrer_id]
                found["referredBy"]["company"] = self.renderer.customer_reference(referrer)
            self._details[customer_id] = found
        return found

    def render(self, customer_id: int) -> dict[str, Any]:
        """The Customer document exactly as GET by id returns it."""
        return self.renderer.customer(self.details(customer_id))

    def customer_json(self, customer_id: int) -> bytes:
        """The customer's rendered JSON bytes (cached until it changes)."""
        cached = self._json.get(customer_id)
        if cached is None:
            cached = dumps(self.render(customer_id))
            self._json[customer_id] = cached
        return cached

    def get_customer(self, customer_id: int) -> bytes:
        """GET by id: the JSON bytes, 404 if unknown, 403 if deleted."""
        with self.lock:
            self._live_core(customer_id)
            return self.customer_json(customer_id)

    def ordering(self, list_filter: ListFilter) -> list[int]:
        """Ids matching ``list_filter`` in response order (cached until any change)."""
        with self.lock:
            cached = self._orderings.get(list_filter)
            if cached is not None:
                self._orderings.move_to_end(list_filter)
                return cached
            names = set(list_filter.names)
            numbers = set(list_filter.customer_numbers)
            matching = [
                core
                for core in self.cores.values()
                if core.id not in self.deleted
                and (list_filter.active is None or core.active == list_filter.active)
                and (
                    list_filter.created_after_us is None
                    or core.created_us > list_filter.created_after_us
                )
                and (not names or core.name in names)
                and (not numbers or core.customer_number in numbers)
            ]
            # The unsorted order is by id; sorting by name breaks ties by id (stable sort).
            matching.sort(key=lambda core: core.id)
            if list_filter.sort_by == "name":
                matching.sort(key=lambda core: core.name, reverse=list_filter.sort_order == "desc")
            elif list_filter.sort_order == "desc":
                matching.reverse()
            ids = [core.id for core in matching]
            self._orderings[list_filter] = ids
            if len(self._orderings) > _ORDERING_CACHE_SIZE:
                self._orderings.popitem(last=False)
            return ids

    def prerender(self) -> None:
        """Render every customer now (~30 us each) so first reads are as fast as later ones."""
        for customer_id in list(self.cores):
            with self.lock:
                if customer_id in self.cores:
                    self.customer_json(customer_id)

    def page(self, list_filter: ListFilter, offset: int, limit: int) -> tuple[list[bytes], int]:
        """One page of rendered customers and the total number of matches."""
        with self.lock:
            ids = self.ordering(list_filter)
            return [self.customer_json(i) for i in ids[offset : offset + limit]], len(ids)

    def create(self, body: dict[str, Any], created_us: int) -> int:
        """Store a validated CustomerCreateModel; returns the new id."""
        with self.lock:
            customer_id = self.next_id
            self.next_id += 1
            country_code = (body.get("companyAddress") or {}).get("countryCode")
            country_index = next(
                (i for i, c in enumerate(data.COUNTRIES) if c.code == country_code), 0
            )
            core = CustomerCore(
                id=customer_id,
                name=body["name"],
                customer_number=body.get("customerNumber"),
                active=body.get("active", True),
                country_index=country_index,
                created_us=created_us,
            )
            self.cores[customer_id] = core
            details = details_from_create(customer_id, body)
            self._details[customer_id] = details
            self._metadata[customer_id] = {}
            self._changed(customer_id)
            return customer_id

    def update(self, customer_id: int, changes: dict[str, Any]) -> None:
        """Apply already validated field changes (API field names) to a live customer."""
        with self.lock:
            core = self._live_core(customer_id)
            details = self.details(customer_id)
            for field, value in changes.items():
                if field == "accountManager" and value is None:
                    details.pop("accountManager", None)
                elif field == "language" and value is None:
                    details.pop("language", None)
                else:
                    details[field] = value
            core.name = details["name"]
            core.customer_number = details.get("customerNumber")
            core.active = details.get("active", core.active)
            self._changed(customer_id)

    def delete(self, ids: list[int]) -> list[int]:
        """Delete live customers; returns the ids actually deleted."""
        with self.lock:
            done = [i for i in ids if i in self.cores and i not in self.deleted]
            self.deleted.update(done)
            for customer_id in done:
                self._changed(customer_id)
            return done

    def require_live(self, customer_id: int) -> None:
        """Raise 404 / 403 unless the customer exists and is not deleted."""
        with self.lock:
            self._live_core(customer_id)

    # ----- metadata --------------------------------------------------------------------
    def _metadata_of(self, customer_id: int) -> dict[str, dict[str, Any]]:
        self._live_core(customer_id)
        items = self._metadata.get(customer_id)
        if items is None:
            generated = data.customer_metadata(self.seed, customer_id)
            items = {item["key"]: item for item in generated}
            self._metadata[customer_id] = items
        return items

    def list_metadata(self, customer_id: int) -> list[dict[str, Any]]:
        """All metadata items of a live customer."""
        with self.lock:
            items = self._metadata_of(customer_id)
            return [self.renderer.metadata_item(customer_id, item) for item in items.values()]

    def get_metadata(self, customer_id: int, key: str) -> dict[str, Any]:
        """One metadata item; 404 if the key is missing."""
        with self.lock:
            item = self._metadata_of(customer_id).get(key)
            if item is None:
                raise not_found(f"Metadata key '{key}' was not found on customer {customer_id}.")
            return self.renderer.metadata_item(customer_id, item)

    def put_metadata(self, customer_id: int, key: str, value: str | None) -> dict[str, Any]:
        """Create or update by key (scope ``Supplier``: the API key belongs to the supplier)."""
        with self.lock:
            items = self._metadata_of(customer_id)
            scope = items[key]["scope"] if key in items else "Supplier"
            items[key] = {"key": key, "value": value, "scope": scope}
            return self.renderer.metadata_item(customer_id, items[key])

    def delete_metadata(self, customer_id: int, key: str) -> None:
        """Delete by key; 404 if the key is missing."""
        with self.lock:
            items = self._metadata_of(customer_id)
            if key not in items:
                raise not_found(f"Metadata key '{key}' was not found on customer {customer_id}.")
            del items[key]

    # ----- hooks -----------------------------------------------------------------------
    def set_extra_fields(self, extra: ExtraFields) -> None:
        """Add fields beyond the spec to every document rendered from now on."""
        with self.lock:
            self.renderer.extra = extra
            self._json.clear()

    def snapshot(self) -> dict[str, Any]:
        """Everything the API holds, for tests: see ARCHITECTURE.md ``/_sandbox/snapshot``."""
        with self.lock:
            live = [i for i in sorted(self.cores) if i not in self.deleted]
            return {
                "customers": [self.render(i) for i in live],
                "metadata": {str(i): self.list_metadata(i) for i in live},
                "created_at": {
                    str(i): data.from_micros(self.cores[i].created_us).isoformat() for i in live
                },
                "deleted": sorted(self.deleted),
            }
