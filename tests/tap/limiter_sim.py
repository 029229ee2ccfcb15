"""A discrete-event model of the tap's workers, the limiter and a misbehaving API, on a fake clock.

Several workers share one `RateLimiter` as the tap's fetch pool does: each asks for a permit,
sends, and on a 429 waits out the Retry-After itself (as `ApiClient.get_json` does) before
sending again. The server is a token bucket (the sandbox's: one second's capacity) and/or a
share of 429s at random whatever the rate (another app on the tenant's quota). No threads, no
sleeping: the run is deterministic for a seed and takes milliseconds.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from tap_equipme.http.rate_limiter import Permit, RateLimiter


class FakeClock:
    """Monotonic seconds set by the simulation."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Server:
    """A token bucket of `rate` a second (None: no limit) plus `background` 429s at random."""

    rate: float | None
    background: float
    seed: int = 0
    retry_after: float = 1.0
    tokens: float = 0.0
    at: float = 0.0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.tokens = max(self.rate or 0.0, 1.0)

    def refuses(self, now: float) -> bool:
        """Whether the request sent at `now` is answered 429."""
        if self.rng.random() < self.background:
            return True
        if self.rate is None:
            return False
        self.tokens = min(max(self.rate, 1.0), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return False
        return True


@dataclass
class Run:
    """What a simulated sync did: its duration, its answers, the limiter's pace over time."""

    seconds: float
    ok: int
    refused: int
    paces: list[tuple[float, float]]  # (time, pace; inf = unpaced), at every send

    @property
    def share_429(self) -> float:
        return self.refused / max(self.ok + self.refused, 1)

    def longest_below(self, floor: float) -> float:
        """The longest stretch of seconds the pace stayed below `floor`."""
        longest, since = 0.0, None
        for at, pace in [*self.paces, (self.seconds, float("inf"))]:
            if pace < floor:
                since = at if since is None else since
            elif since is not None:
                longest, since = max(longest, at - since), None
        return longest


def simulate(
    server: Server,
    *,
    requests: int,
    workers: int = 8,
    latency: float = 0.05,
    adaptive: bool = True,
) -> Run:
    """Run `requests` successful requests through `workers` workers; return what happened."""
    clock = FakeClock()
    limiter = RateLimiter(
        max_concurrency=workers, adaptive=adaptive, clock=clock, sleep=clock.sleep
    )
    events: list[tuple[float, int, int, Permit | None, bool]] = []
    seq = 0
    for worker in range(workers):
        heapq.heappush(events, (0.0, seq, worker, None, False))
        seq += 1
    ok = refused = 0
    paces: list[tuple[float, float]] = []
    while ok < requests and events:
        at, _, worker, permit, throttled = heapq.heappop(events)
        clock.now = max(clock.now, at)
        if permit is not None:  # an answer arrives
            limiter.on_answer(permit, throttled=throttled, pause_s=server.retry_after)
            if throttled:
                refused += 1
                heapq.heappush(events, (clock.now + server.retry_after, seq, worker, None, False))
            else:
                ok += 1
                heapq.heappush(events, (clock.now, seq, worker, None, False))
            seq += 1
            continue
        granted = limiter.try_acquire()
        if not isinstance(granted, Permit):
            heapq.heappush(events, (clock.now + granted, seq, worker, None, False))
            seq += 1
            continue
        pace = limiter.as_dict()["rate_per_s"]
        paces.append((clock.now, float("inf") if pace is None else pace))
        answer = server.refuses(clock.now)
        heapq.heappush(events, (clock.now + latency, seq, worker, granted, answer))
        seq += 1
    return Run(clock.now, ok, refused, paces)
