"""The tap's HTTP progress line: requests so far, the request rate now, 429s, the limiter's pace.

Logged at most every `interval` seconds, from whichever request thread finishes a request
after the interval is over (no thread of its own).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from tap_equipme.http.rate_limiter import RateLimiter
from tap_equipme.http.request_stats import RequestStats

logger = logging.getLogger("tap-equipme")

PROGRESS_INTERVAL_S = 10.0


class ProgressLog:
    """Writes one progress line per interval while requests keep coming."""

    def __init__(
        self,
        stats: RequestStats,
        limiter: RateLimiter,
        *,
        interval: float = PROGRESS_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Initialize the log.

        Args:
            stats: The run's request counters.
            limiter: The run's rate limiter.
            interval: Seconds between lines at most.
            clock: Monotonic seconds.
        """
        self._stats, self._limiter, self._interval, self._clock = stats, limiter, interval, clock
        self._lock = threading.Lock()
        self._last_at = clock()
        self._last_requests = 0

    def tick(self) -> None:
        """Log the progress line if the interval is over (called after each request)."""
        now = self._clock()
        with self._lock:
            if now - self._last_at < self._interval:
                return
            figures = self._stats.as_dict()
            requests = sum(figures["requests"].values())
            rate = (requests - self._last_requests) / (now - self._last_at)
            self._last_at, self._last_requests = now, requests
        limiter = figures.get("rate_limiter", {})
        pace = limiter.get("rate_per_s")
        logger.info(
            "HTTP progress: %d requests, %.1f requests/s over the last %.0f s, %d answered 429, "
            "pace %s, %.1f s paused for Retry-After; %s",
            requests,
            rate,
            self._interval,
            figures["responses"].get("429", 0),
            f"{pace:.1f} requests/s" if pace is not None else "unlimited",
            limiter.get("paused_s", 0.0),
            limiter_belief(limiter),
        )


def limiter_belief(limiter: dict[str, Any]) -> str:
    """Say what the limiter believes the run's 429s are.

    Args:
        limiter: `RateLimiter.as_dict()`.

    Returns:
        `rate limit found: 19.6/s`, `429s not tied to rate: 14% of requests`, both, or
        `no rate limit met`.
    """
    beliefs = []
    if limiter.get("settled_per_s") is not None:
        beliefs.append(f"rate limit found: {limiter['settled_per_s']:.1f}/s")
    if limiter.get("background_share"):
        beliefs.append(f"429s not tied to rate: {limiter['background_share']:.0%} of requests")
    return ", ".join(beliefs) or "no rate limit met"
