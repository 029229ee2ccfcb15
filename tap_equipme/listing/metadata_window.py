"""The rolling metadata refresh: which existing customers' metadata a run re-reads.

Pure logic, no I/O. The state is O(1): the last customer id whose metadata was re-read (the
cursor) and the start time of the previous run. A run re-reads the next
`ceil(customers * elapsed / window)` ids after the cursor (in id order, wrapping around), so
that the slices of any schedule (every 15 minutes, hourly, daily) add up to every customer
at least once per `metadata_refresh_days`: the slice grows with the time since the last run,
also after runs that failed or were skipped.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Slice:
    """The customers whose metadata this run re-reads, and the cursor after them."""

    ids: list[int]
    cursor: int | None


def slice_size(customers: int, elapsed: timedelta, window: timedelta) -> int:
    """Return how many customers' metadata a run re-reads.

    Args:
        customers: Customers listed in this run.
        elapsed: Time since the previous run started.
        window: `metadata_refresh_days` as a duration.

    Returns:
        `ceil(customers * elapsed / window)`, between 0 and `customers`.
    """
    if customers <= 0 or elapsed <= timedelta(0):
        return 0
    if elapsed >= window:
        return customers
    return min(customers, math.ceil(customers * (elapsed / window)))


def plan_slice(
    ids: Iterable[int],
    cursor: int | None,
    previous_start: datetime | None,
    start: datetime,
    window: timedelta,
) -> Slice:
    """Pick the slice of existing customers whose metadata this run re-reads.

    Args:
        ids: The ids listed in this run (any order).
        cursor: The last id re-read by the previous slice (None: start from the lowest id).
        previous_start: When the previous run started (None: nothing to refresh yet, the
            first run reads every customer's metadata anyway).
        start: When this run started.
        window: The refresh window (`metadata_refresh_days`).

    Returns:
        The slice, in id order from the cursor (wrapping around), and the new cursor.
    """
    ordered = sorted(set(ids))
    if previous_start is None or not ordered:
        return Slice([], cursor)
    size = slice_size(len(ordered), start - previous_start, window)
    if size == 0:
        return Slice([], cursor)
    begin = 0 if cursor is None else bisect_right(ordered, cursor)
    picked = (ordered[begin:] + ordered[:begin])[:size]
    return Slice(picked, picked[-1])
