"""One request-rate controller per tap run: finds an unpublished rate limit from 429 answers.

Pure logic: no HTTP, no threads of its own; time comes from an injectable clock and waiting
from an injectable sleep, so tests drive it with a fake clock. Shared by every request of a
run (list pages and metadata), thread-safe. When a request may go (slow start, the shared
pause, the pace) is `paced_sender.py`; the pace arithmetic (goodput estimate, CUBIC's curve)
`pace_curve.py`; what the 429s say (trials, background share) `throttle_evidence.py`.

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
  pauses and the trial's next 429s decide. A cut from fewer than ten answers is a guess: one
  429 to a request sent under it undoes it.
- A cut that stood says the server allows its estimate: a 429 to a request sent at or under it
  (up to CUBIC's plateau) is not about our rate and is waited out alone, unless the limit
  plainly fell; a cut made after the pace probed past it never goes below it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
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
    later_estimate,
    probe_seconds,
)
from tap_equipme.http.paced_sender import SLOW_START_GROWTH, PacedSender, Permit
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
# A request sent at up to this multiple of a standing estimate is "under" it: CUBIC's plateau,
# (2 - BETA) x the estimate at most, which a limit found at the estimate refuses next to none of
# (a bucket's second of capacity outlasts the plateau's small excess).
UNDER_ESTIMATE = 2.0 - BETA


class RateLimiter(PacedSender):
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
        super().__init__(
            max_concurrency=max_concurrency,
            max_rate=max_rate,
            adaptive=adaptive,
            clock=clock,
            sleep=sleep,
        )
        self._episode_at: float | None = None
        self._retest_at = 0.0
        self._retest_s = RETEST_S
        self._k_cap = MAX_PROBE_S
        self._settled: float | None = None  # the estimate of the last cut still standing
        self._guess = False  # the last cut was set from a handful of answers
        self._span = MIN_ESTIMATE_SPAN_S
        self._answers: deque[float] = deque()
        self._recent_answers: deque[float] = deque()
        self._evidence = ThrottleEvidence()
        self._trial: CutTrial | None = None
        self.throttled = 0
        self.undone = 0
        self.cuts = 0

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
            if self._under_standing_estimate(permit):
                return
            if not self._evidence.over_background():
                self._evidence.background_429()  # background: the request waits alone
                if trial is None and now >= self._retest_at:
                    # Now and then a cut without a pause asks again whether these 429s are
                    # tied to rate (a rate limit hidden in a background share goes unseen).
                    self._cut(now, 0.0)
                return
            self._pause_all(now, pause_s)
            self._cut(now, pause_s, permit.sent_at, permit.pace)

    def _under_standing_estimate(self, permit: Permit) -> bool:
        """A 429 to a request sent at or under the estimate of a cut that stood: not our rate.

        A limit found at that estimate refuses nothing sent under it; the 429 is background
        (waited out alone), unless the limit plainly fell (half the recent answers refused).
        A guess (a cut from a handful of answers) refused under its own estimate was wrong:
        it is undone.

        Returns:
            True when the 429 was taken as not tied to rate.
        """
        if (
            self._trial is not None
            or self._settled is None
            or permit.pace is None
            or permit.pace > UNDER_ESTIMATE * self._w_max
            or self._evidence.limit_fell()
        ):
            return False
        self._evidence.background_429()
        if self._guess:
            self._undo_standing()
        return True

    def _undo_standing(self) -> None:
        """Undo a standing guess: back to unpaced, the recent share learnt as background."""
        self._evidence.learn(self._evidence.recent_share)
        self._cut_at, self._rate, self._settled, self._guess = None, self.max_rate, None, False
        self._start_afresh()

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

    def _undo(self, trial: CutTrial) -> None:
        """Go back to the pace before a cut that did not lower the 429 share; learn the share."""
        self._evidence.learn(trial.blended_share)
        self._cut_at, self._w_max, self._k, self._span, self._rate = trial.pace_before
        self._settled = trial.settled_before  # an undone cut found no rate limit
        self._trial = None
        # The pause the cut imposed is over for everyone but the request refused now.
        self._pause_until = min(self._pause_until, self._start_afresh())

    def _start_afresh(self) -> float:
        """After an undo, estimates start afresh and the next test of the background waits.

        The goodput under the undone cut says nothing of what the server allows.

        Returns:
            Now.
        """
        self.undone += 1
        now = self._clock()
        self._answers.clear()
        self._recent_answers.clear()
        self._started = now
        self._retest_at = now + self._retest_s
        return now

    def _cut(
        self,
        now: float,
        pause_s: float,
        refused_sent_at: float = 0.0,
        refused_pace: float | None = None,
    ) -> None:
        pace_before = (self._cut_at, self._w_max, self._k, self._span, self._rate)
        rate_before = self._current_rate(now)
        since = self._cut_at if self._cut_at is not None else self._started
        since = max(now if since is None else since, now - ESTIMATE_WINDOW_S)
        estimate, self._span = goodput_since(
            self._answers, now, since, first=self._cut_at is None, pause_s=pause_s
        )
        counted = len(self._answers)
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
        probed = (
            self._trial is None
            and self._settled is not None
            and refused_pace is not None
            and refused_pace > UNDER_ESTIMATE * self._w_max
        )
        estimate = later_estimate(
            estimate,
            goodput_lately(self._recent_answers, now, started),
            # A later cut never goes below the goodput of the last seconds, unless it follows
            # an undecided cut whose 429s said the limit fell further.
            floor_lately=bool(self._evidence.background)
            or (self._trial is None and pace_before[0] is not None),
            standing=self._w_max if probed else None,
            counted=counted,
            pause_s=pause_s,
        )
        self._w_max = max(estimate, MIN_RATE)
        settled_before, self._settled = self._settled, self._w_max
        # A first cut from a handful of answers (a 429 in the first round trips) is a guess:
        # it comes back to its estimate, and probes past it, soonest.
        few = 0 < counted < MIN_BURST_ANSWERS
        self._guess = few
        self._k_cap = MIN_PROBE_S if few else MAX_PROBE_S
        self._k = min(probe_seconds(self._w_max), self._k_cap)
        self._cut_at = now
        self.cuts += 1
        self._rate = max(BETA * self._w_max, MIN_RATE)
        self._next_send = max(self._next_send, self._pause_until)
        if rate_before is not None and pace_before[0] is not None:
            # Undoing gives the pace then (flat at it, probing on from there), not the old curve,
            # which may have run on into its doubling.
            k = MIN_PROBE_S
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
            guess=few,
        )

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
