"""What the 429s of a run say: are they tied to our request rate, or background noise?

Pure bookkeeping for `RateLimiter` (no clock, no lock of its own: the limiter holds its lock).

A 429 can mean "you are too fast" (a rate limit: its share of answers rises steeply once the
send rate passes the limit and falls to nothing below it) or nothing about us at all (another
app spends the tenant's shared quota, a gateway sheds load at random: its share stays the same
whatever we send). The limiter learns the second kind, the *background share*, only from a cut
that did not lower the share of 429s (see `RateLimiter`); from then on a 429 counts as
congestion only when the share of recent answers refused is clearly above that background, a
one-sided binomial test. Until a background is learnt every 429 counts as congestion, which is
the safe reading for an API that rate-limits and nothing else.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

# Answers the recent 429 share is measured over (enough that a share of 5% shows as 2 in 40,
# few enough that a rate limit reached is seen within a second or two).
RECENT_ANSWERS = 40
# Answers the "limit fell" test looks at (the last ones only: a limit that fell shows at once).
SHORT_ANSWERS = 16
# Answers a cut's baseline share is measured over at least.
MIN_SHARE_SAMPLE = 10
# Standard deviations above the background share before 429s count as congestion (3: a false
# alarm about one 429 in a thousand at a 14% background; each costs a cut and a shared pause).
CONGESTION_Z = 3.0
# Weight of one answer in the background share's moving average (about 100 answers' memory):
# a background that fades out is forgotten within a few hundred answers.
BACKGROUND_WEIGHT = 0.01
# A background share below this is forgotten: every 429 counts as congestion again.
MIN_BACKGROUND = 0.005
# How far single 429s may move the background above what the last trial measured.
LEARNT_SLACK = 1.5


class ThrottleEvidence:
    """The recent share of 429s and the learnt background share of 429s not tied to rate."""

    def __init__(self) -> None:
        """Start with no answers and no background."""
        self._recent: deque[bool] = deque(maxlen=RECENT_ANSWERS)
        self._short: deque[bool] = deque(maxlen=SHORT_ANSWERS)
        self.background = 0.0
        self.background_429s = 0
        # The background share the last trial measured: single 429s move the average back up
        # to it, never above (a rate limit creeping in would otherwise be absorbed as noise).
        self._learnt = 0.0

    def record(self, throttled: bool) -> None:
        """Count one answer (a transport failure counts as an answer that was not a 429).

        Args:
            throttled: The answer was a 429.
        """
        self._recent.append(throttled)
        self._short.append(throttled)
        if not throttled and self.background:
            self.background -= BACKGROUND_WEIGHT * self.background
            if self.background < MIN_BACKGROUND:
                self.background = 0.0

    @property
    def recent_share(self) -> float:
        """The share of 429s among the recent answers (0 with none)."""
        return sum(self._recent) / len(self._recent) if self._recent else 0.0

    @property
    def served(self) -> int:
        """Recent answers that were not 429s."""
        return len(self._recent) - sum(self._recent)

    def counts(self) -> tuple[int, int]:
        """The recent 429s and answers, as a cut's baseline."""
        return sum(self._recent), len(self._recent)

    def over_background(self) -> bool:
        """Whether the recent 429s say we are over a rate limit.

        Returns:
            True with no background learnt (every 429 is congestion), else whether the recent
            429s are more than `CONGESTION_Z` standard deviations (and one 429) above what the
            background share alone would give.
        """
        if not self.background:
            return True
        n = len(self._recent)
        b = self.background
        expected = b * n + CONGESTION_Z * math.sqrt(n * b * (1.0 - b)) + 1.0
        return sum(self._recent) > expected

    def limit_fell(self) -> bool:
        """Whether half the last SHORT_ANSWERS answers were refused, well above any background."""
        n, b = SHORT_ANSWERS, self.background
        expected = b * n + CONGESTION_Z * math.sqrt(n * b * (1.0 - b)) + 1.0
        return sum(self._short) >= max(n / 2, expected)

    def learn(self, share: float) -> None:
        """A cut did not lower the 429 share: `share` of the answers are refused whatever we send.

        Args:
            share: The 429 share measured since the cut.
        """
        self.background = max(self.background, share, 0.01)
        self._learnt = self.background

    def confirm(self, refused: int, answers: int) -> None:
        """A cut lowered the 429 share: what remains of it is the background.

        The share since the cut is weighted with the background known so far as
        2 x MIN_SHARE_SAMPLE answers' worth: a test decided on 15 answers without a 429 does
        not prove that there is no background share left.

        Args:
            refused: 429s since the cut, while the pace was under the estimate.
            answers: Answers since the cut, while the pace was under the estimate.
        """
        if not self.background:
            return
        weight = 2 * MIN_SHARE_SAMPLE
        share = (refused + self.background * weight) / (answers + weight)
        if share < self.background:
            self.background = share if share >= MIN_BACKGROUND else 0.0
        self._learnt = self.background

    def background_429(self) -> None:
        """Count a 429 judged not tied to rate (it moves a learnt background share up)."""
        self.background_429s += 1
        if self.background:
            raised = self.background + BACKGROUND_WEIGHT * (1.0 - self.background)
            self.background = max(self.background, min(raised, LEARNT_SLACK * self._learnt))


# Wald's sequential probability ratio test for a cut: H0 "the cut did not lower the 429 share"
# (it stays at the share before the cut) against H1 "it cut it by half or more". Log
# thresholds for 20% error either way: decided within ~15-20 answers for the shares met here.
SPRT_ACCEPT_H0 = math.log(4.0)
SPRT_ACCEPT_H1 = -math.log(4.0)
# A retest (a cut without a pause, asked of 429s already learnt as background) is kept only on
# strong evidence: 5% error for "lowered", and undecided at the end means "not lowered".
STRICT_ACCEPT_H1 = -math.log(19.0)
LOWERED_TO = 0.5
# The share before a cut is taken between these bounds (a share of 0 or 1 gives no test).
MIN_TESTED_SHARE = 0.05
MAX_TESTED_SHARE = 0.5

# 429s since an undecided cut before it may be cut again: with half the answers refused
# (fewer and a 30% background does it by chance), or with every answer refused (a storm).
CHAINED_CUT_429S = 8
STORM_429S = 3
# Requests in flight at an unpaced first cut, sent after the refused one, that (all in-flight
# answers fine) undo it at once.
MIN_IN_FLIGHT = 1

NOT_LOWERED = "not lowered"
LOWERED = "lowered"


@dataclass
class CutTrial:
    """A cut under test: did it lower the share of 429s? Judged on the answers since the cut.

    `until` is when the pace is back at the estimate it was cut from; only requests sent
    before then are evidence (a rate limit refuses none of them, background 429s go on).
    """

    opened_at: float  # the cut: answers to requests sent before it count as "before"
    cut_at: float  # answers to requests sent from here count as "since"
    until: float
    before_refused: int
    before_answers: int
    pace_before: tuple[float | None, float, float, float, float | None]
    settled_before: float | None = None  # the rate limit found before this cut, if any
    strict: bool = False  # a retest: kept only on strong evidence
    # Requests in flight at the cut whose answers are still to come, when they may decide it
    # (the run's first cut, from an unpaced start; 0 = they do not).
    in_flight: int = 0
    in_flight_refused: int = 0
    refused_sent_at: float = 0.0  # when the request whose 429 made the cut was sent
    guess: bool = False  # the cut's estimate came from a handful of answers
    _sent_after: int = 0  # in-flight answers to requests sent after it
    answers: int = 0
    refused: int = 0
    llr: float = 0.0

    @property
    def share_before(self) -> float:
        """The 429 share before the cut: the recent answers, and those in flight at the cut.

        Requests in flight when a rate limit refuses one are mostly refused too (the bucket is
        dry for all of them); when a 429 is chance, they mostly are not. Over at least
        MIN_SHARE_SAMPLE answers (a first 429 on the first answer is not a share of 100%).
        """
        return self.before_refused / max(self.before_answers, MIN_SHARE_SAMPLE)

    def observe_before(self, throttled: bool, sent_at: float) -> str | None:
        """Count an answer to a request sent before the cut (in flight at it).

        Returns:
            NOT_LOWERED once every request in flight at an unpaced first cut came back, at
            least MIN_IN_FLIGHT of them and none refused: a rate limit met unpaced refuses
            those too (the bucket is dry for all of them), a chance 429 leaves them alone.
            Else None.
        """
        self.before_answers += 1
        self.before_refused += throttled
        if self.in_flight <= 0:
            return None
        self.in_flight -= 1
        self.in_flight_refused += throttled
        # Only a request sent after the refused one meets the bucket that refused it: one sent
        # before may have taken the last token.
        self._sent_after += sent_at >= self.refused_sent_at
        if self.in_flight == 0 and self._sent_after >= MIN_IN_FLIGHT:
            return None if self.in_flight_refused else NOT_LOWERED
        return None

    @property
    def share(self) -> float:
        """The 429 share of the answers since the cut (0 with none)."""
        return self.refused / self.answers if self.answers else 0.0

    @property
    def blended_share(self) -> float:
        """The share since the cut, weighted with the one before as MIN_SHARE_SAMPLE answers'.

        What an undone cut learns as background: one or two 429s in a handful of answers are
        no share yet.
        """
        return (self.refused + self.share_before * MIN_SHARE_SAMPLE) / (
            self.answers + MIN_SHARE_SAMPLE
        )

    def observe(self, throttled: bool) -> str | None:
        """Count one answer to a request sent in the trial; say if that decides it.

        Args:
            throttled: The answer was a 429.

        Returns:
            NOT_LOWERED, LOWERED, or None while undecided.
        """
        self.answers += 1
        self.refused += throttled
        if self.guess and throttled:
            # A guess's pace is at or under what the server let through before the 429: a
            # limit at that rate refuses none of these requests, a background share does.
            return NOT_LOWERED
        p0 = min(max(self.share_before, MIN_TESTED_SHARE), MAX_TESTED_SHARE)
        p1 = p0 * LOWERED_TO
        self.llr += math.log(p0 / p1) if throttled else math.log((1.0 - p0) / (1.0 - p1))
        if self.llr >= SPRT_ACCEPT_H0 and self.share < MAX_TESTED_SHARE:
            return NOT_LOWERED
        if self.llr <= (STRICT_ACCEPT_H1 if self.strict else SPRT_ACCEPT_H1):
            return LOWERED
        return None

    def limit_fell_further(self) -> bool:
        """Whether the 429s since this undecided cut say the limit fell further (or a storm)."""
        if self.refused >= STORM_429S and self.refused == self.answers:
            return True
        return self.refused >= CHAINED_CUT_429S and self.share >= 0.5

    def verdict_at_end(self) -> str:
        """The verdict once the pace is back at the estimate, undecided until then."""
        if self.strict:  # undecided: no strong evidence that the retest lowered the share
            return NOT_LOWERED if self.share < MAX_TESTED_SHARE else LOWERED
        # Undecided: the cut stands only if the share since it is at most what "lowered" means
        # (half the share before; a limit refuses next to none under its estimate). Keeping it
        # whenever the evidence merely leaned that way confirmed background cuts by chance.
        p0 = min(max(self.share_before, MIN_TESTED_SHARE), MAX_TESTED_SHARE)
        if self.share >= MAX_TESTED_SHARE or self.share <= p0 * LOWERED_TO:
            return LOWERED
        return NOT_LOWERED
