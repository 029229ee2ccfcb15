"""How long to wait before retrying a request (pure logic, no I/O).

Two budgets: server errors, dropped connections, timeouts and bad bodies share
`max_retries`; 429 answers have a budget of their own (a rate limit is the server asking for
patience, not a failure), large but finite, so a never-ending 429 storm still ends in a clear
failure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

# Longest wait the tap honours from a Retry-After header, in seconds; and the shortest (a
# "Retry-After: 0" or a date in the past must not turn into a burst of requests).
MAX_RETRY_AFTER_SECONDS = 60.0
MIN_RETRY_AFTER_SECONDS = 0.5
# Exponential backoff for failures: BASE * 2**attempt seconds, capped, with jitter.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
# 429 answers allowed per request, as a multiple of max_retries (at least this many).
RATE_LIMIT_RETRIES_PER_RETRY = 10
MIN_RATE_LIMIT_RETRIES = 20


@dataclass(frozen=True)
class RetryPolicy:
    """Retry budgets and wait scaling for one tap run."""

    max_retries: int = 5
    backoff_factor: float = 1.0

    @property
    def max_rate_limit_retries(self) -> int:
        """How many 429 answers one request may receive before the tap gives up."""
        return max(MIN_RATE_LIMIT_RETRIES, RATE_LIMIT_RETRIES_PER_RETRY * self.max_retries)

    def backoff_seconds(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """Wait before retry number `attempt` (0-based) after a failure.

        Args:
            attempt: How many retries of this request already happened.
            rng: Random source for the jitter (tests pass a seeded one).

        Returns:
            Seconds to wait (jitter: uniform between half and all of the exponential cap).
        """
        ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
        jitter = (rng or random).uniform(0.5, 1.0)
        return ceiling * jitter * self.backoff_factor

    def rate_limit_seconds(
        self,
        retry_after: str | None,
        attempt: int,
        *,
        now: datetime | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Wait after a 429 answer.

        Args:
            retry_after: The Retry-After header (seconds or an HTTP date), if any.
            attempt: How many 429 retries of this request already happened.
            now: The current time (for HTTP-date headers; tests pass a fixed one).
            rng: Random source for the jitter when there is no header.

        Returns:
            Seconds to wait: the header's value within MIN_/MAX_RETRY_AFTER_SECONDS, else
            exponential backoff with jitter.
        """
        announced = parse_retry_after(retry_after, now=now)
        if announced is None:
            return self.backoff_seconds(attempt, rng=rng)
        bounded = min(max(announced, MIN_RETRY_AFTER_SECONDS), MAX_RETRY_AFTER_SECONDS)
        return bounded * self.backoff_factor


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a Retry-After header (delta-seconds or HTTP-date, RFC 9110).

    Args:
        value: The header value.
        now: The current time (default: now, UTC).

    Returns:
        Seconds to wait (never negative), or None if the header is absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())
