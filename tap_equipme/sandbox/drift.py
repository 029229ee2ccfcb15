"""Offset drift: insert and delete customers while a client is paging through a list."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

from tap_equipme.sandbox import data
from tap_equipme.sandbox.store import ListFilter, Store


@dataclass
class DriftPlan:
    """After ``after_requests`` more list requests, insert, delete and rename customers.

    ``rename`` customers not served yet are renamed so that they sort among those already
    served: the rename a paging client cannot see.
    """

    after_requests: int
    insert: int
    delete: int
    repeat: bool = False
    rename: int = 0


class Drift:
    """Applies a scheduled ``DriftPlan`` as list requests are served."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Cancel any scheduled drift."""
        with self._lock:
            self.plan: DriftPlan | None = None
            self._seen = 0
            self._rng = random.Random(4242)  # noqa: S311 (seeded test data, not crypto)
            self.applied = 0

    def schedule(self, plan: DriftPlan) -> None:
        """Arm ``plan``; list requests are counted from now on."""
        if plan.after_requests < 1 or min(plan.insert, plan.delete, plan.rename) < 0:
            raise ValueError(
                "Drift needs after_requests >= 1 and non-negative insert / delete / rename."
            )
        with self._lock:
            self.plan = plan
            self._seen = 0

    def list_served(self, list_filter: ListFilter, offset: int, limit: int) -> None:
        """Called after each list response; applies the plan when its time has come."""
        with self._lock:
            plan = self.plan
            if plan is None:
                return
            self._seen += 1
            if self._seen < plan.after_requests:
                return
            self._seen = 0
            if not plan.repeat:
                self.plan = None
            self._apply(plan, list_filter, offset + limit)
            self.applied += 1

    def _apply(self, plan: DriftPlan, list_filter: ListFilter, served_until: int) -> None:
        store = self.store
        with store.lock:
            ordering = store.ordering(list_filter)
            # Delete customers the client has already been served (they sort before the
            # last page), which shifts every later offset back.
            served = ordering[: min(served_until, len(ordering))]
            victims = self._rng.sample(served, min(plan.delete, len(served)))
            # Insert customers whose names sort among those already served (when sorted by
            # name), which shifts every later offset forward.
            anchors = served or ordering
            now = data.to_micros(datetime.now(timezone.utc))
            for _ in range(plan.insert):
                anchor = store.cores[self._rng.choice(anchors)] if anchors else None
                name = f"{anchor.name} Zweig" if anchor else "Drift Kunde GmbH"
                body = {"name": name[:100], "active": True}
                if list_filter.active is False:
                    body["active"] = False
                store.create(body, now)
            store.delete(victims)
            ordering = store.ordering(list_filter)
            ahead = ordering[min(served_until, len(ordering)) :]
            for moved in self._rng.sample(ahead, min(plan.rename, len(ahead))):
                anchor = store.cores[self._rng.choice(served)] if served else None
                name = f"{anchor.name} Umbenannt" if anchor else "0 Umbenannt"
                store.update(moved, {"name": name[:100]})
