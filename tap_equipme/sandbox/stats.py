"""Request counters the tests read through ``GET /_sandbox/stats``."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Counts API requests (never ``/_sandbox`` hooks), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Forget everything counted so far, including requests still in flight.

        Requests started before the clear are never counted afterwards (not even in
        ``max_concurrent``), so a slow request left over from one test cannot leak into the
        next test's numbers.
        """
        with self._lock:
            self.epoch = getattr(self, "epoch", 0) + 1
            self.requests = 0
            self.by_status: Counter[str] = Counter()
            self.by_route: Counter[str] = Counter()
            self.queries: list[str] = []
            self.faults_injected: Counter[str] = Counter()
            self.max_concurrent = 0
            self.in_flight = 0

    def started(self) -> int:
        """An API request is now in flight; returns the token to pass to ``finished``."""
        with self._lock:
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)
            return self.epoch

    def finished(self, epoch: int, route: str, status: int | None, kinds: list[str]) -> None:
        """An API request ended (``status`` None: the connection was dropped)."""
        with self._lock:
            if epoch != self.epoch:
                return  # started before the last clear
            self.in_flight -= 1
            self.requests += 1
            self.by_status[str(status) if status is not None else "dropped"] += 1
            self.by_route[route] += 1
            for kind in kinds:
                self.faults_injected[kind] += 1

    def list_query(self, epoch: int, query_string: str) -> None:
        """Remember a list request's query string (in arrival order)."""
        with self._lock:
            if epoch == self.epoch:
                self.queries.append(query_string)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form served by the stats hook."""
        with self._lock:
            return {
                "requests": self.requests,
                "by_status": dict(self.by_status),
                "by_route": dict(self.by_route),
                "queries": list(self.queries),
                "faults_injected": dict(self.faults_injected),
                "max_concurrent": self.max_concurrent,
                "in_flight": self.in_flight,
            }
