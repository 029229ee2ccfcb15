"""When the loader commits at a STATE: at a bounded interval of time and rows (pure logic).

The loader may commit a state only together with the data it covers, so it commits at STATE
boundaries. singer-sdk alone would wait for a full batch or five minutes; a tap that emits
frequent checkpoint STATEs during a long first load needs each to land soon, or a killed
run loses far more than one checkpoint of work. The policy: commit at a STATE once
`state_commit_rows` records arrived or `state_commit_seconds` passed since the last state
commit (whichever first). A run killed at any point loses at most that much work plus the
tap's own checkpoint interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable

DEFAULT_STATE_COMMIT_ROWS = 500
"""Records after which a STATE is committed at once: about every checkpoint of the tap's
(250 customers with their metadata and reads rows), a few tens of ms of DuckDB work each."""
DEFAULT_STATE_COMMIT_SECONDS = 30.0
"""Seconds after which a STATE is committed at once, however few records came."""


class CommitPolicy:
    """Decides whether a STATE message should be committed now."""

    def __init__(
        self,
        rows: int = DEFAULT_STATE_COMMIT_ROWS,
        seconds: float = DEFAULT_STATE_COMMIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start the interval now.

        Args:
            rows: Records since the last state commit that make a STATE commit at once.
            seconds: Seconds since the last state commit that make a STATE commit at once.
            clock: Monotonic clock (injectable for tests).
        """
        self.rows = max(1, int(rows))
        self.seconds = float(seconds)
        self._clock = clock
        self._last = clock()
        self._records = 0

    def record(self, count: int = 1) -> None:
        """Count records received."""
        self._records += count

    def due(self) -> bool:
        """Whether a STATE arriving now should be committed at once."""
        return self._records >= self.rows or self._clock() - self._last >= self.seconds

    def committed(self) -> None:
        """A state was committed: start a new interval."""
        self._records = 0
        self._last = self._clock()
