"""The run's start time by the server's clock, kept within reach of the local clock.

The bookmark (`createdAfter` of the next run) is the server's `Date` of the run's first
response minus `lookback`, so that it is in the server's own time. A server clock that is
wrong must not poison it:

- a `Date` later than the local clock plus `MAX_CLOCK_SKEW` is not believed: the local clock
  plus `MAX_CLOCK_SKEW` is used (an earlier bookmark only re-reads a few customers; a
  bookmark in the future would hide every customer created until then), with a warning that
  names both clocks;
- a `Date` earlier than the local clock minus `MAX_CLOCK_SKEW` is used as it is (a bookmark
  too early re-reads, never misses), with the same warning; the bookmark still never moves
  back before the stored one (see `EquipmeListStream.next_bookmark`);
- no `Date`, or one that does not parse: the local clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

logger = logging.getLogger("tap-equipme")

MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far the server's `Date` may be ahead of the local clock and still be used as it is."""


def parse_http_date(header: str | None) -> datetime | None:
    """Parse an HTTP `Date` header (aware, UTC if the header has no zone), or None."""
    if not header:
        return None
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def bounded_server_time(
    server: datetime | None, local: datetime, skew: timedelta = MAX_CLOCK_SKEW
) -> tuple[datetime, str | None]:
    """The start time to use, and a warning if the clocks disagree by more than `skew`.

    Args:
        server: The server's `Date` (None: absent or unreadable).
        local: The local clock (aware).
        skew: The disagreement tolerated silently.

    Returns:
        The time (never later than `local + skew`) and the warning, if any.
    """
    if server is None:
        return local, None
    if server > local + skew:
        used = local + skew
        direction = "ahead of"
    elif server < local - skew:
        used = server
        direction = "behind"
    else:
        return server, None
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    warning = (
        f"The API server's clock ({server.astimezone(timezone.utc).strftime(stamp)}, its Date "
        f"header) is more than {int(skew.total_seconds() // 60)} minutes {direction} the local "
        f"clock ({local.astimezone(timezone.utc).strftime(stamp)}); the bookmark uses "
        f"{used.astimezone(timezone.utc).strftime(stamp)}. Check the clocks of both machines."
    )
    return used, warning


class ServerClock:
    """Remembers the first response's bounded `Date` (thread-safe; warns once)."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        """Initialize.

        Args:
            now: The local clock (tests pass a fixed one).
        """
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self.started: datetime | None = None
        """The run's start time (None until the first response)."""

    def note(self, header: str | None) -> None:
        """Take the `Date` header of a response (only the first one counts)."""
        if self.started is not None:
            return
        with self._lock:
            if self.started is not None:
                return
            used, warning = bounded_server_time(parse_http_date(header), self._now())
            self.started = used
        if warning:
            logger.warning("%s", warning)


def future_bookmark(stored: datetime, stream: str, log: logging.Logger) -> bool:
    """Whether a stored bookmark lies beyond the local clock plus `MAX_CLOCK_SKEW`.

    Such a bookmark (written by a version that trusted a server clock in the future) would
    hide every customer created until then; the caller falls back to `start_date` (re-reads,
    never misses) and this warns, naming both times.

    Args:
        stored: The stored bookmark.
        stream: The stream's name (for the warning).
        log: Where to warn.

    Returns:
        True if the bookmark must not be used.
    """
    local = datetime.now(timezone.utc)
    if stored <= local + MAX_CLOCK_SKEW:
        return False
    log.warning(
        "The stored %s bookmark (%s) lies in the future of the local clock (%s): ignored, "
        "this run reads from `start_date` (or everything) instead.",
        stream,
        stored.strftime("%Y-%m-%dT%H:%M:%SZ"),
        local.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return True
