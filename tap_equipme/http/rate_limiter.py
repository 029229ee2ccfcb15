"""One request-rate controller per tap run: finds an unpublished rate limit from 429 answers.

Pure logic: no HTTP, no threads of its own; time comes from an injectable clock and waiting
from an injectable sleep, so tests drive it with a fake clock. Shared by every request of a
run (list pages and metadata), thread-safe. The pace arithmetic (goodput estimate, CUBIC's
curve) is `pace_curve.py`; what the 429s say (trials, background share) `throttle_evidence.py`.

How it behaves (see docs/ARCHITECTURE.md, "Request rate"):

- Until the first 429 nothing is paced; concurrency opens like TCP slow start (x1.5 a round
  trip, up to `max_concurrency`), so the first 429 finds few requests in flight.
- A 429 read as congestion pauses every worker for its Retry-After and cuts the pace to
  `BETA` x the goodput since the last cut; 429s to requests sent before the cut belong to the
  same episode and only extend the pause. The pace then climbs back along CUBIC's curve.
- Every cut is a trial (`throttle_evidence.CutTrial`): if it did not lower the share of 429s
  it is undone (the pace goes back to what it was) and the share is learnt as background; an
  unpaced first cut is undone at once when the requests in flight at it come back fine. A
  cut is not repeated before it is judged unless the limit plainly fell further.
- With a background known, a 429 cuts and pauses everyone only when the recent share is
  clearly above it; any other 429 is waited out by its own request. Retests (cuts without a
  pause) are kept only on strong evidence; their interval doubles (10 to 160 s) while undone.
- The run's first 429, before two answers, sets no pace (nothing to estimate from): everyone
  pauses and the trial's next 429s decide.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tap_equipme.http.pace_curve import (
    BETA,
    ESTIMATE_WINDOW_S,
    MAX_PROBE_S,
    MIN_BURST_ANSWERS,
    MIN_ESTIMATE_SPAN_S,
    MIN_PROBE_S,
    MIN_RATE,
    goodput_lately,
    goodput_since,
    probe_factor,
    probe_seconds,
)
from tap_equipme.http.throttle_evidence import (
    NOT_LOWERED,
    CutTrial,
    ThrottleEvidence,
)

# Answers a first cut needs to set a pace (with fewer the 429 came too soon to tell a rate).
MIN_FIRST_ANSWERS = 2
# Seconds between cuts that test whether background 429s are tied to rate after all.
RETEST_S = 10.0
# While retests keep being undone the interval doubles up to this (each costs a trial's seconds
# at a lowered pace); a retest that stands brings it back to RETEST_S.
MAX_RETEST_S = 160.0
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


class RateLimiter:
    """The adaptive send-rate and concurrency controller shared by every request of a run."""

    def __init__(
        self,
        *,
        max_concurrency: int,
        max_rate: float | None = None,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Initialize the limiter.

        Args:
            max_concurrency: Requests in flight at most once slow start is over.
            max_rate: A fixed cap on the send rate (requests per second), or None.
            adaptive: False keeps only `max_rate` (no slow start, no shared pause, no
                discovery): the tap's behaviour before the limiter existed.
            clock: Monotonic seconds.
            sleep: How to wait (tests pass one that advances their fake clock).
        """
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
        self._cut_at: float | None = None
        self._episode_at: float | None = None
        self._retest_at = 0.0
        self._retest_s = RETEST_S
        self._k_cap = MAX_PROBE_S
        self._settled: float | None = None  # the estimate of the last cut still standing
        self._w_max = 0.0
        self._k = MIN_PROBE_S
        self._span = MIN_ESTIMATE_SPAN_S
        self._answers: deque[float] = deque()
        self._recent_answers: deque[float] = deque()
        self._evidence = ThrottleEvidence()
        self._trial: CutTrial | None = None
        self.throttled = 0
        self.undone = 0
        self.cuts = 0
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
            return Permit(now)

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

    # ----- answers -------------------------------------------------------------------------
    def on_answer(self, permit: Permit, *, throttled: bool, pause_s: float = 0.0) -> None:
        """Learn from one answer (or transport failure) to a granted request.

        Args:
            permit: What `acquire` returned for the request.
            throttled: The answer was a 429.
            pause_s: With a 429: how long the server asked everyone to wait (Retry-After
                honoured, or the retry policy's backoff when it sent none).
        """
        with self._lock:
            now = self._clock()
            self._in_flight = max(0, self._in_flight - 1)
            self._evidence.record(throttled)
            if self._judge_trial(permit, throttled, now):
                return
            trial = self._trial
            if not throttled:
                self._answers.append(now)
                self._recent_answers.append(now)
                if self._window < self.max_concurrency:
                    self._window += SLOW_START_GROWTH
                if self._cut_at is not None and permit.sent_at < self._cut_at < now:
                    # Answered after the cut but admitted before it: part of the estimate.
                    self._w_max += 1.0 / self._span
                    self._k = min(probe_seconds(self._w_max), self._k_cap)
                return
            self.throttled += 1
            if not self.adaptive:
                return
            if self._episode_at is not None and permit.sent_at < self._episode_at:
                self._pause_all(now, pause_s)  # sent before the last cut: the same episode
                return
            if (
                trial is not None
                and permit.sent_at < trial.until
                and (self._evidence.background or not trial.limit_fell_further())
            ):
                # Refused while the pace is still under the estimate it was cut from, the test
                # undecided: a cut is not repeated before it is judged, unless nothing known
                # says background and half the answers since it were refused (a limit that
                # fell further, or a storm).
                self._evidence.background_429()
                return
            if not self._evidence.over_background():
                self._evidence.background_429()  # background: the request waits alone
                if trial is None and now >= self._retest_at:
                    # Now and then a cut without a pause asks again whether these 429s are
                    # tied to rate (a rate limit hidden in a background share goes unseen).
                    self._cut(now, 0.0)
                return
            self._pause_all(now, pause_s)
            self._cut(now, pause_s, permit.sent_at)

    def _judge_trial(self, permit: Permit, throttled: bool, now: float) -> bool:
        """Feed one answer to the cut under test; undo or confirm it once decided.

        Returns:
            True when the answer was a 429 taken as background by an undo (nothing more to do).
        """
        trial = self._trial
        if trial is None:
            return False
        verdict = None
        if permit.sent_at < trial.opened_at:
            verdict = trial.observe_before(throttled, permit.sent_at)
        elif trial.cut_at <= permit.sent_at < trial.until:
            verdict = trial.observe(throttled)
        elif now >= trial.until:
            verdict = trial.verdict_at_end()  # the pace is back at the estimate
        if verdict is None:
            return False
        self._trial = None
        if verdict == NOT_LOWERED:
            if trial.strict:
                self._retest_s = min(2 * self._retest_s, MAX_RETEST_S)
            self._undo(trial)  # the cut did not lower the share of 429s
            if throttled:
                self.throttled += 1
                self._evidence.background_429()
            return throttled
        self._evidence.confirm(trial.refused, trial.answers)  # what is left is background
        self._retest_s = RETEST_S
        self._retest_at = now + self._retest_s
        return False

    def _pause_all(self, now: float, pause_s: float) -> None:
        until = now + pause_s
        self.paused_s += max(0.0, until - max(self._pause_until, now))
        self._pause_until = max(self._pause_until, until)
        self._window = float(self.max_concurrency)

    def _undo(self, trial: CutTrial) -> None:
        """Go back to the pace before a cut that did not lower the 429 share; learn the share."""
        self._evidence.learn(trial.blended_share)
        self._cut_at, self._w_max, self._k, self._span, self._rate = trial.pace_before
        self._settled = trial.settled_before  # an undone cut found no rate limit
        self._trial = None
        self.undone += 1
        # The goodput under the undone cut says nothing of what the server allows: estimates
        # start afresh from here, and the next test of the background waits RETEST_S.
        now = self._clock()
        self._answers.clear()
        self._recent_answers.clear()
        self._started = now
        self._retest_at = now + self._retest_s
        # The pause the cut imposed is over for everyone but the request refused now.
        self._pause_until = min(self._pause_until, now)

    def _cut(self, now: float, pause_s: float, refused_sent_at: float = 0.0) -> None:
        pace_before = (self._cut_at, self._w_max, self._k, self._span, self._rate)
        rate_before = self._current_rate(now)
        since = self._cut_at if self._cut_at is not None else self._started
        since = max(now if since is None else since, now - ESTIMATE_WINDOW_S)
        estimate, self._span = goodput_since(
            self._answers, now, since, first=self._cut_at is None, pause_s=pause_s
        )
        if self._rate is not None:
            estimate = min(estimate, self._current_rate(now) or estimate)
        provisional = self._episode_at is None and self._evidence.served < MIN_FIRST_ANSWERS
        self._episode_at = now
        # The run's first cut from an unpaced start (not a retest): the requests in flight at
        # it may decide it at once.
        first_unpaced = pace_before[4] is None and not self._evidence.background and self.cuts == 0
        if provisional:
            # The run's first 429 came at once: no rate to estimate yet (a limit met at once,
            # or a 429 not tied to rate). Everyone pauses; the trial's next 429s tell which,
            # and only then is a pace set.
            self._trial = CutTrial(
                cut_at=now,
                until=now + max(MIN_PROBE_S, pause_s),
                opened_at=now,
                before_refused=self._evidence.counts()[0],
                before_answers=self._evidence.counts()[1],
                pace_before=pace_before,
                in_flight=self._in_flight,
                refused_sent_at=refused_sent_at,
            )
            return
        started = self._started if self._started is not None else now
        lately = goodput_lately(self._recent_answers, now, started)
        if self._evidence.background or (self._trial is None and pace_before[0] is not None):
            # A later cut never goes below the goodput of the last seconds (a short span after
            # a pause is no measure of what the server allows), unless it follows an undecided
            # cut whose 429s said the limit fell further.
            estimate = max(estimate, lately)
        if not self._answers:
            # Nothing got through since the last cut: no estimate. Then one request per pause
            # the server asked for (it said a request is welcome again by then).
            estimate = 1.0 / max(pause_s, 1e-3)
        self._w_max = max(estimate, MIN_RATE)
        settled_before, self._settled = self._settled, self._w_max
        # A first cut from a handful of answers (a 429 in the first round trips) is a guess:
        # it comes back to its estimate, and probes past it, soonest.
        few = first_unpaced and self._evidence.served < MIN_BURST_ANSWERS
        self._k_cap = MIN_PROBE_S if few else MAX_PROBE_S
        self._k = min(probe_seconds(self._w_max), self._k_cap)
        self._cut_at = now
        self.cuts += 1
        self._rate = max(BETA * self._w_max, MIN_RATE)
        self._next_send = max(self._next_send, self._pause_until)
        if rate_before is not None and pace_before[0] is not None:
            # Undoing gives the pace then (flat at it, probing on from there), not the old curve,
            # which may have run on into its doubling.
            k = probe_seconds(rate_before)
            pace_before = (now - k, rate_before, k, self._span, rate_before)
        self._trial = CutTrial(
            # A cut without a pause (a retest) lets the server's bucket refill for a second
            # before the answers count: the requests before the cut may have emptied it.
            cut_at=now + (0.0 if pause_s else MIN_ESTIMATE_SPAN_S),
            until=now + max(self._k, pause_s),
            opened_at=now,
            before_refused=self._evidence.counts()[0],
            before_answers=self._evidence.counts()[1],
            pace_before=pace_before,
            settled_before=settled_before,
            strict=not pause_s,
            in_flight=self._in_flight if first_unpaced else 0,
            refused_sent_at=refused_sent_at,
        )

    def _current_rate(self, now: float) -> float | None:
        if self._cut_at is not None:
            self._rate = max(self._w_max * probe_factor(now - self._cut_at, self._k), MIN_RATE)
        if self.max_rate is not None:
            return min(self._rate or self.max_rate, self.max_rate)
        return self._rate

    # ----- reporting -----------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        """What the limiter did so far, for the run's request statistics.

        Returns:
            `adaptive`, `max_rate`, `rate_per_s` (the pace now; None = unpaced),
            `settled_per_s` (the goodput estimate of the last cut still standing: the rate
            limit found; None = none, or every cut undone),
            `throttled` (429 answers), `cuts` (rate cuts), `waited_s` (seconds requests were
            held back, summed over workers), `paused_s` (wall seconds every worker was paused
            for a server's Retry-After), `background_share` (the learnt share of answers
            refused with 429s not tied to our rate; None = none seen), `background_429s`
            (429s waited out alone, as not tied to rate), `cuts_undone` (cuts that did not
            lower the 429 share, undone).
        """
        with self._lock:
            rate = self._current_rate(self._clock())
            return {
                "adaptive": self.adaptive,
                "max_rate": self.max_rate,
                "rate_per_s": round(rate, 3) if rate is not None else None,
                "settled_per_s": round(self._settled, 3) if self._settled is not None else None,
                "throttled": self.throttled,
                "cuts": self.cuts,
                "waited_s": round(self.waited_s, 3),
                "paused_s": round(self.paused_s, 3),
                "background_share": round(self._evidence.background, 3) or None,
                "background_429s": self._evidence.background_429s,
                "cuts_undone": self.undone,
            }
