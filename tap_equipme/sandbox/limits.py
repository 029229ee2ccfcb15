"""The sandbox's rate limits: a token bucket (default) and a fixed window, retunable mid-run.

Each answers `admit(now)`: None lets the request through, a number refuses it and says how
many seconds remain until one would get through (the fixed window announces that in
Retry-After). `retune` changes the rate while a client runs without refilling the bucket or
restarting the window, so a mid-run change is the change alone, not a free burst.
"""

from __future__ import annotations

import math
from typing import Protocol

SHAPES = ("token_bucket", "fixed_window")


class Limit(Protocol):
    """One rate limit over API requests."""

    def admit(self, now: float) -> float | None:
        """None to admit one request at `now`, else seconds until one would be admitted."""
        ...

    def retune(self, rate: float, window_s: float, now: float) -> None:
        """Change the rate (requests per second) and window while keeping the state."""
        ...


class TokenBucket:
    """`rate` tokens a second, capacity one second's worth (at least one); starts full."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = self.capacity
        self.at = now

    @property
    def capacity(self) -> float:
        """Tokens the bucket holds at most."""
        return max(self.rate, 1.0)

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def admit(self, now: float) -> float | None:
        """None to admit one request at `now`, else seconds until a token is there."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.rate

    def retune(self, rate: float, window_s: float, now: float) -> None:
        """New rate; the tokens held stay (capped at the new capacity)."""
        self._refill(now)  # tokens earned so far at the old rate
        self.rate = rate
        self.tokens = min(self.tokens, self.capacity)


class FixedWindow:
    """`rate x window_s` requests per window of `window_s` seconds (windows from the start)."""

    def __init__(self, rate: float, window_s: float, now: float) -> None:
        self.rate, self.window_s = rate, window_s
        self.started = now
        self.used = 0

    @property
    def allowance(self) -> int:
        """Requests admitted per window."""
        return max(1, round(self.rate * self.window_s))

    def _roll(self, now: float) -> None:
        if now >= self.started + self.window_s:
            self.started += math.floor((now - self.started) / self.window_s) * self.window_s
            self.used = 0

    def admit(self, now: float) -> float | None:
        """None to admit one request at `now`, else seconds until the window ends."""
        self._roll(now)
        if self.used < self.allowance:
            self.used += 1
            return None
        return self.started + self.window_s - now

    def retune(self, rate: float, window_s: float, now: float) -> None:
        """New rate and window length; the current window and its count stay."""
        self._roll(now)
        self.rate, self.window_s = rate, window_s  # requests already counted stay counted


def make_limit(shape: str, rate: float, window_s: float, now: float) -> Limit:
    """A new limit of the given shape (one of SHAPES)."""
    if shape == "fixed_window":
        return FixedWindow(rate, window_s, now)
    return TokenBucket(rate, now)


def retry_after_seconds(shape: str, wait: float, configured: int) -> int:
    """The whole seconds announced in Retry-After for a refused request.

    The token bucket announces the configured value (as before); the fixed window the time
    left in the window, rounded up (a client that honours it gets through).
    """
    if shape == "fixed_window":
        return max(1, math.ceil(wait))
    return configured
