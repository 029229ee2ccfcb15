"""Fault injection: which API requests misbehave, and how; deterministic under a seed."""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tap_equipme.sandbox.limits import SHAPES, Limit, make_limit, retry_after_seconds

RETRY_AFTER_STYLES = ("seconds", "http-date", "none")


@dataclass
class Faults:
    """The fault configuration (see docs/ARCHITECTURE.md). All off by default."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_limit_per_s: float | None = None
    rate_limit_shape: str = "token_bucket"
    rate_limit_window_s: float = 1.0
    retry_after: str = "seconds"
    retry_after_seconds: int = 1
    error_rate: float = 0.0
    # Share of requests answered 429 at random whatever the request rate (another app spending
    # the tenant's shared quota, a gateway shedding load), with the configured Retry-After.
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 30.0
    outage_after: int | None = None
    only_paths: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("error_rate", "throttle_rate", "drop_rate", "truncate_rate", "slow_rate"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"Fault setting '{name}' must lie between 0 and 1, not {share}.")
        for name in ("latency_ms", "jitter_ms", "slow_seconds", "retry_after_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"Fault setting '{name}' must not be negative.")
        if self.retry_after not in RETRY_AFTER_STYLES:
            raise ValueError(
                f"Fault setting 'retry_after' must be one of {RETRY_AFTER_STYLES}, "
                f"not {self.retry_after!r}."
            )
        if self.rate_limit_per_s is not None and self.rate_limit_per_s <= 0:
            raise ValueError("Fault setting 'rate_limit_per_s' must be positive (or null).")
        if self.rate_limit_shape not in SHAPES:
            raise ValueError(
                f"Fault setting 'rate_limit_shape' must be one of {SHAPES}, "
                f"not {self.rate_limit_shape!r}."
            )
        if not self.rate_limit_window_s > 0:
            raise ValueError("Fault setting 'rate_limit_window_s' must be positive.")
        if self.only_paths is not None:
            try:
                re.compile(self.only_paths)
            except re.error as exc:
                raise ValueError(f"Fault setting 'only_paths' is not a valid regex: {exc}") from exc

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Faults:
        """Build from a JSON body; unknown fields are a ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"Unknown fault setting(s) {unknown}; known: {sorted(known)}.")
        try:
            return cls(**raw)
        except TypeError as exc:
            raise ValueError(f"Invalid fault settings: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (same field names)."""
        return asdict(self)


@dataclass
class Decision:
    """What to do with one API request."""

    delay_s: float = 0.0
    status: int | None = None  # answer this error status instead of the real response
    retry_after: str | None = None  # Retry-After header value with a 429
    drop: bool = False
    truncate: bool = False
    slow_s: float = 0.0
    kinds: list[str] = field(default_factory=list)


class FaultInjector:
    """Decides, request by request, which fault (if any) applies.

    One seeded RNG draws a fixed number of numbers per request, so a sequential client sees
    the same fault sequence for the same seed.
    """

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(faults or Faults())

    def configure(self, faults: Faults) -> None:
        """Replace the configuration; restarts the RNG, the request count and the bucket."""
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)  # noqa: S311 (seeded test data, not crypto)
            self._pattern = re.compile(faults.only_paths) if faults.only_paths else None
            self._requests = 0
            self._limit = self._new_limit(faults)

    @staticmethod
    def _new_limit(faults: Faults) -> Limit | None:
        if faults.rate_limit_per_s is None:
            return None
        return make_limit(
            faults.rate_limit_shape,
            faults.rate_limit_per_s,
            faults.rate_limit_window_s,
            time.monotonic(),
        )

    def set_rate_limit(
        self,
        rate_limit_per_s: float | None,
        shape: str | None = None,
        window_s: float | None = None,
    ) -> Faults:
        """Change only the rate limit, while clients run.

        The other faults, the RNG and the request count stay; a bucket keeps its tokens and a
        window its count (unless the shape changes), so the change brings no free burst.

        Args:
            rate_limit_per_s: The new rate (None: no limit).
            shape: The new shape (None: unchanged).
            window_s: The new fixed-window length (None: unchanged).

        Returns:
            The new fault configuration.
        """
        with self._lock:
            old = self.faults
            new = Faults.from_dict(
                {
                    **old.to_dict(),
                    "rate_limit_per_s": rate_limit_per_s,
                    "rate_limit_shape": shape or old.rate_limit_shape,
                    "rate_limit_window_s": window_s or old.rate_limit_window_s,
                }
            )
            self.faults = new
            if (
                new.rate_limit_per_s is None
                or self._limit is None
                or new.rate_limit_shape != old.rate_limit_shape
            ):
                self._limit = self._new_limit(new)
            else:
                self._limit.retune(new.rate_limit_per_s, new.rate_limit_window_s, time.monotonic())
            return new

    def _take_token(self) -> float | None:
        if self._limit is None:
            return None
        return self._limit.admit(time.monotonic())

    def _retry_after_value(self, wait: float) -> str | None:
        style = self.faults.retry_after
        seconds = retry_after_seconds(
            self.faults.rate_limit_shape, wait, self.faults.retry_after_seconds
        )
        if style == "none":
            return None
        if style == "http-date":
            from email.utils import formatdate

            return formatdate(time.time() + seconds, usegmt=True)
        return str(seconds)

    def decide(self, path: str) -> Decision:
        """The fault decision for one API request to ``path``."""
        with self._lock:
            faults = self.faults
            decision = Decision()
            if self._pattern is not None and not self._pattern.search(path):
                return decision
            self._requests += 1
            rng = self._rng
            # Always draw the same count of numbers, so sequences do not depend on outcomes.
            jitter, roll, status_roll = rng.random(), rng.random(), rng.random()
            decision.delay_s = (faults.latency_ms + jitter * faults.jitter_ms) / 1000.0
            if decision.delay_s:
                decision.kinds.append("latency")
            if faults.outage_after is not None and self._requests > faults.outage_after:
                decision.status = 503
                decision.kinds.append("outage")
                return decision
            if roll < faults.throttle_rate:
                decision.status = 429
                decision.retry_after = self._retry_after_value(float(faults.retry_after_seconds))
                decision.kinds.append("throttle")
                return decision
            refused = self._take_token()
            if refused is not None:
                decision.status = 429
                decision.retry_after = self._retry_after_value(refused)
                decision.kinds.append("rate_limit")
                return decision
            threshold = faults.throttle_rate + faults.error_rate
            if roll < threshold:
                decision.status = (500, 502, 503)[int(status_roll * 3)]
                decision.kinds.append("error")
                return decision
            threshold += faults.drop_rate
            if roll < threshold:
                decision.drop = True
                decision.kinds.append("drop")
                return decision
            threshold += faults.truncate_rate
            if roll < threshold:
                decision.truncate = True
                decision.kinds.append("truncate")
                return decision
            threshold += faults.slow_rate
            if roll < threshold:
                decision.slow_s = faults.slow_seconds
                decision.kinds.append("slow")
            return decision
