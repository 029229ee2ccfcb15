"""What one tap run asked of the API: requests by kind, answers by status, time spent waiting.

Thread-safe counters shared by every request of a run (list pages come from a pager thread,
metadata from the fetch pool). Pure bookkeeping: no I/O, no clock.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Protocol

#: The kinds of request the tap makes; anything else counts as "other".
KINDS = ("list", "metadata", "other")


class Reporter(Protocol):
    """Anything that reports its own figures (the rate limiter)."""

    def as_dict(self) -> dict[str, Any]:
        """The figures, JSON-serialisable."""
        ...


class RequestStats:
    """Counters for one run: requests by kind, responses by status, transport errors, waits."""

    def __init__(self, rate_limiter: Reporter | None = None) -> None:
        """Initialize the counters.

        Args:
            rate_limiter: The run's rate limiter; its figures join `as_dict()`.
        """
        self._rate_limiter = rate_limiter
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._responses: Counter[str] = Counter()
        self._transport_errors = 0
        self._wait_seconds = 0.0

    def record(self, kind: str, status: int | None) -> None:
        """Count one attempt (a retry is a request too).

        Args:
            kind: "list", "metadata" or "other".
            status: The HTTP status, or None when no complete response arrived.
        """
        kind = kind if kind in KINDS else "other"
        with self._lock:
            self._requests[kind] += 1
            if status is None:
                self._transport_errors += 1
            else:
                self._responses[str(status)] += 1

    def add_wait(self, seconds: float) -> None:
        """Add time spent waiting before a retry (after a 429, a 5xx, a dropped connection).

        Args:
            seconds: The wait.
        """
        with self._lock:
            self._wait_seconds += seconds

    @property
    def total_requests(self) -> int:
        """Every request sent so far, of any kind."""
        with self._lock:
            return sum(self._requests.values())

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the counters.

        Returns:
            `{"requests": {kind: n}, "responses": {status: n}, "transport_errors": n,
            "wait_seconds": x}`, plus `"rate_limiter": {...}` (see
            `RateLimiter.as_dict`) when the client has one.
        """
        with self._lock:
            figures: dict[str, Any] = {
                "requests": {kind: self._requests.get(kind, 0) for kind in KINDS},
                "responses": dict(sorted(self._responses.items())),
                "transport_errors": self._transport_errors,
                "wait_seconds": round(self._wait_seconds, 3),
            }
        if self._rate_limiter is not None:
            figures["rate_limiter"] = self._rate_limiter.as_dict()
        return figures

    def as_state(self) -> dict[str, Any]:
        """The figures a STATE message may carry: integers only.

        Targets on older singer-sdk versions read a STATE's floats as `Decimal` and then fail
        to write the state back out ("Decimal is not JSON serializable"), so times go as
        whole milliseconds and the limiter's rates stay out (they are in the run's log line).

        Returns:
            `{"requests": {kind: n}, "responses": {status: n}, "transport_errors": n,
            "wait_ms": n}`.
        """
        figures = self.as_dict()
        return {
            "requests": figures["requests"],
            "responses": figures["responses"],
            "transport_errors": figures["transport_errors"],
            "wait_ms": round(float(figures["wait_seconds"]) * 1000),
        }
