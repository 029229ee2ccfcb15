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

# Answers the recent 429 share is measured over (enough that a share of 5% shows as 2 in 40,
# few enough that a rate limit reached is seen within a second or two).
RECENT_ANSWERS = 40
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


class ThrottleEvidence:
    """The recent share of 429s and the learnt background share of 429s not tied to rate."""

    def __init__(self) -> None:
        """Start with no answers and no background."""
        self._recent: deque[bool] = deque(maxlen=RECENT_ANSWERS)
        self.background = 0.0
        self.background_429s = 0

    def record(self, throttled: bool) -> None:
        """Count one answer (a transport failure counts as an answer that was not a 429).

        Args:
            throttled: The answer was a 429.
        """
        self._recent.append(throttled)
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

    def share_before_cut(self) -> float:
        """The recent 429 share as a cut's baseline: over at least `MIN_SHARE_SAMPLE` answers.

        A first 429 on the first answer is not a share of 100%: with so few answers the
        baseline counts the missing ones as answered.
        """
        return sum(self._recent) / max(len(self._recent), MIN_SHARE_SAMPLE)

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

    def learn(self, share: float) -> None:
        """A cut did not lower the 429 share: `share` of the answers are refused whatever we send.

        Args:
            share: The 429 share measured since the cut.
        """
        self.background = max(self.background, share, 0.01)

    def confirm(self, share: float) -> None:
        """A cut lowered the 429 share to `share`: the background is at most that.

        Args:
            share: The 429 share measured since the cut, while the pace was under the estimate.
        """
        if self.background and share < self.background:
            self.background = share if share >= MIN_BACKGROUND else 0.0

    def background_429(self) -> None:
        """Count a 429 judged not tied to rate (it moves a learnt background share up)."""
        self.background_429s += 1
        if self.background:
            self.background += BACKGROUND_WEIGHT * (1.0 - self.background)
