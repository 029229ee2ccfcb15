"""The sending half of `RateLimiter`: slow start, the shared pause and the paced send times.

Pure logic (no HTTP): `RateLimiter` learns from the answers and sets the pace curve here
(`_w_max`, `_cut_at`, `_k`) and the pause; this class only decides when the next request of
any worker may go (see docs/ARCHITECTURE.md, "Request rate").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tap_equipme.http.pace_curve import MIN_PROBE_S, MIN_RATE, probe_factor

# Slow start: requests more in flight per answer (0.5: x1.5 a round trip; 1 would double
# it, and a first 429 would find twice as many requests in flight, all refused too).
SLOW_START_GROWTH = 0.5
# How often a request held back by slow start looks again, seconds.
SLOW_START_POLL_S = 0.002
# Lateness a paced sender may make up at once: one interval, at most this many seconds (sleep
# overshoot would otherwise cost a few percent of the rate at hundreds of requests per second).
MAX_CATCH_UP_S = 0.05


@dataclass(frozen=True)
class Permit:
    """One granted request: when it was sent (pass it back to `RateLimiter.on_answer`)."""

    sent_at: float
    pace: float | None = None  # the pace it was sent at (None: unpaced)


class PacedSender:
    """When the next request may go: slow start, a pause shared by every worker, the pace."""

    def __init__(
        self,
        *,
        max_concurrency: int,
        max_rate: float | None,
        adaptive: bool,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Initialize unpaced, slow start at one request in flight (see `RateLimiter`)."""
        self.max_concurrency = max(1, max_concurrency)
        self.max_rate = max_rate
        self.adaptive = adaptive
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._window = 1.0 if adaptive else float(self.max_concurrency)
        self._in_flight = 0
        self._rate: float | None = max_rate
        self._next_send = 0.0
        self._pause_until = 0.0
        self._started: float | None = None
        self._cut_at: float | None = None  # the pace curve: None = unpaced
        self._w_max = 0.0
        self._k = MIN_PROBE_S
        self.waited_s = 0.0
        self.paused_s = 0.0

    # ----- sending -------------------------------------------------------------------------
    def acquire(self) -> Permit:
        """Wait until a request may be sent, and count it as in flight.

        Returns:
            The permit to pass to `on_answer` once the request is answered or failed.
        """
        while True:
            granted = self.try_acquire()
            if isinstance(granted, Permit):
                return granted
            with self._lock:
                self.waited_s += granted
            self._sleep(granted)

    def try_acquire(self) -> Permit | float:
        """Grant a request now if it may be sent, else say how long to wait before asking again.

        Returns:
            The permit (the request counts as in flight), or the seconds to wait.
        """
        with self._lock:
            now = self._clock()
            wait = self._wait_locked(now)
            if wait > 0:
                return wait
            self._in_flight += 1
            if self._started is None:
                self._started = now
            return Permit(now, self._rate if self._cut_at is not None else None)

    def _wait_locked(self, now: float) -> float:
        if now < self._pause_until:
            return self._pause_until - now
        if self._in_flight >= int(self._window) < self.max_concurrency:
            # Slow start (afterwards the fan-out's threads bound concurrency): look again once
            # an answer may have come.
            return SLOW_START_POLL_S
        rate = self._current_rate(now)
        if rate is None:
            return 0.0
        interval = 1.0 / rate
        if now < self._next_send:
            return self._next_send - now
        self._next_send = max(self._next_send, now - min(interval, MAX_CATCH_UP_S)) + interval
        return 0.0

    def _pause_all(self, now: float, pause_s: float) -> None:
        until = now + pause_s
        self.paused_s += max(0.0, until - max(self._pause_until, now))
        self._pause_until = max(self._pause_until, until)
        self._window = float(self.max_concurrency)

    def _current_rate(self, now: float) -> float | None:
        if self._cut_at is not None:
            self._rate = max(self._w_max * probe_factor(now - self._cut_at, self._k), MIN_RATE)
        if self.max_rate is not None:
            return min(self._rate or self.max_rate, self.max_rate)
        return self._rate
