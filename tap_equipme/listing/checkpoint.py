"""Checkpoints of a long metadata phase, and resuming a run that was cut short (pure logic).

A run reads customers' metadata in ascending id order. Every `checkpoint_every_customers`
customers or `checkpoint_interval_seconds` (whichever first) the tap emits the metadata and
the `customer_metadata_reads` rows of the customers done so far, then a STATE whose customers
bookmark holds one small `run_progress` object (O(1): no per-customer list, the warehouse
already holds what landed):

    {"run": "36a63fa4", "mode": "full_refresh", "started_at": ISO, "version": 1733...,
     "after_id": 48211, "done": 2200, "total": 3000, "listing": {...}}

The loader commits that STATE with the data it covers, so after a SIGTERM or SIGKILL the
stored state says how far the run got. The next run in the same mode continues after
`after_id` (same run id, same table version, same start time for the rolling metadata
window), and the final STATE of a run that completes removes `run_progress`.

`listing` is the `ListingCheck` (count and digest, O(1)) of the interrupted run's certified
listing: the resumed run certifies its own listing with it in one pass instead of two (see
`listing_check`), so a kill costs one listing pass, not two.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

STATE_KEY = "run_progress"
"""Key of the progress object in `state["bookmarks"]["customers"]`."""
DEFAULT_EVERY_CUSTOMERS = 250
DEFAULT_INTERVAL_SECONDS = 30.0


@dataclass(frozen=True)
class Progress:
    """How far an unfinished run got through its metadata phase."""

    run: str
    mode: str
    started_at: str
    version: int | None
    after_id: int | None
    done: int
    total: int
    listing: dict[str, Any] | None = None
    """The run's certified listing as a `ListingCheck` state (a resumed run lists once)."""

    @classmethod
    def from_state(cls, value: Any) -> Progress | None:
        """Read the progress object of a stream's state (None if absent or malformed)."""
        if not isinstance(value, Mapping):
            return None
        try:
            version = value.get("version")
            after_id = value.get("after_id")
            return cls(
                run=str(value["run"]),
                mode=str(value["mode"]),
                started_at=str(value["started_at"]),
                version=int(version) if version is not None else None,
                after_id=int(after_id) if after_id is not None else None,
                done=int(value.get("done", 0)),
                total=int(value.get("total", 0)),
                listing=listing if isinstance(listing := value.get("listing"), dict) else None,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def to_state(self) -> dict[str, Any]:
        """The JSON object stored in the state."""
        return asdict(self)

    def advanced(self, after_id: int, done: int) -> Progress:
        """The same run, `done` customers through, the last of them `after_id`."""
        return replace(self, after_id=after_id, done=done)

    def describe(self) -> str:
        """One line for logs: `run 36a63fa4: 2,200 of 3,000 customers done`."""
        return f"run {self.run}: {self.done:,} of {self.total:,} customers done"


def progress_of(state: Mapping[str, Any] | None, stream: str = "customers") -> Progress | None:
    """The unfinished run recorded in a whole Singer state, if any.

    Args:
        state: A Singer state (as stored in the warehouse).
        stream: The stream whose bookmark carries the progress.

    Returns:
        The progress, or None.
    """
    try:
        value = (state or {})["bookmarks"][stream].get(STATE_KEY)
    except (KeyError, TypeError, AttributeError):
        return None
    return Progress.from_state(value)


def progress_only(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A state holding only the unfinished run (what a full refresh may resume), or None."""
    progress = progress_of(state)
    if progress is None:
        return None
    return {"bookmarks": {"customers": {STATE_KEY: progress.to_state()}}}


def resume_line(state: Mapping[str, Any] | None, mode: str, *, restart: bool) -> str | None:
    """What the pipeline prints before a run that resumes (or drops) an unfinished one.

    Args:
        state: The stored state.
        mode: This run's sync mode.
        restart: Whether the user asked for a clean start.

    Returns:
        The line, or None when there is no unfinished run.
    """
    progress = progress_of(state)
    if progress is None:
        return None
    if restart:
        return f"restarting: unfinished {progress.describe()} dropped (--restart)"
    if progress.mode != mode:
        return (
            f"not resuming unfinished {progress.mode.replace('_', ' ')} {progress.describe()}: "
            f"this run is {mode.replace('_', ' ')} and starts over"
        )
    return f"resuming {progress.describe()}"


class CheckpointClock:
    """Says when a checkpoint is due: every `every` customers or `seconds`, whichever first."""

    def __init__(
        self,
        every: int = DEFAULT_EVERY_CUSTOMERS,
        seconds: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start counting now.

        Args:
            every: Customers between checkpoints (at least 1).
            seconds: Seconds between checkpoints (> 0).
            clock: Monotonic clock (injectable for tests).
        """
        self.every = max(1, int(every))
        self.seconds = float(seconds)
        self._clock = clock
        self._since = 0
        self._last = clock()

    def tick(self) -> bool:
        """Count one customer done; True when a checkpoint is due (then start over)."""
        self._since += 1
        now = self._clock()
        if self._since >= self.every or now - self._last >= self.seconds:
            self._since = 0
            self._last = now
            return True
        return False
