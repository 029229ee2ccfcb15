"""The `customers` stream: the listing, its bookmark and a first load's progress.

Its children, the metadata streams, are in `metadata_streams.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, cast

from typing_extensions import override

from tap_equipme import schemas
from tap_equipme.client import RUN_STATS_KEY
from tap_equipme.config_checks import parse_start_date
from tap_equipme.list_stream import EquipmeListStream
from tap_equipme.listing.checkpoint import STATE_KEY as PROGRESS_KEY
from tap_equipme.listing.checkpoint import (
    Progress,
)
from tap_equipme.listing.listing_check import ListingCheck
from tap_equipme.listing.metadata_window import plan_slice

if TYPE_CHECKING:
    pass


class CustomersStream(EquipmeListStream):
    """Customers (`GET /v1/sales/customers`), the spec's `Customer`."""

    name = "customers"
    path = "v1/sales/customers"
    primary_keys: ClassVar[list[str]] = ["id"]
    replication_key = None
    schema = schemas.customer_schema()
    filter_params: ClassVar[dict[str, str]] = {
        "active": "active",
        "customer_numbers": "customerNumbers",
        "names": "names",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Initialize the stream (see `singer_sdk.Stream`)."""
        super().__init__(*args, **kwargs)
        self._metadata_cursor: int | None = None
        self.metadata_plan: dict[str, int] = {}
        """How many customers' metadata this run reads: new ones and re-read ones."""
        self.progress: Progress | None = None
        """How far this run's metadata phase got (written to the state at each checkpoint)."""
        self._resumable: tuple[Progress | None] | None = None

    def resumable(self) -> Progress | None:
        """The unfinished run of the same mode that this run continues, if any.

        Returns:
            The progress recorded in the state, or None (none, another mode, or `restart`).
        """
        if self._resumable is None:
            self._resumable = (self._find_resumable(),)
        return self._resumable[0]

    def _find_resumable(self) -> Progress | None:
        progress = Progress.from_state(self.stream_state.get(PROGRESS_KEY))
        if progress is None:
            return None
        if self.config.get("restart"):
            self.logger.info("Restarting: unfinished %s dropped (restart)", progress.describe())
            return None
        if progress.mode != self.sync_mode:
            self.logger.warning(
                "Not resuming unfinished %s %s: this run is %s and starts over",
                progress.mode.replace("_", " "),
                progress.describe(),
                self.sync_mode.replace("_", " "),
            )
            return None
        return progress

    def child_version(self) -> int:
        """The table version of the child streams (a resumed full refresh: the one it resumes).

        The customers listing itself is read whole by every run and takes a new version.

        Returns:
            A version in milliseconds.
        """
        resumed = self.resumable()
        if resumed is not None and resumed.version is not None:
            return resumed.version
        return self.run_version()

    def run_started(self) -> datetime:
        """When this run started (server time); a resumed run: when the one it continues did.

        Returns:
            An aware datetime.
        """
        resumed = self.resumable()
        if resumed is not None:
            try:
                return parse_start_date(resumed.started_at)
            except ValueError:
                pass
        return self.api.first_response_date or datetime.now(timezone.utc)

    def _start_progress(self, ids: list[int]) -> list[int]:
        """Record this run's metadata plan; a resumed run drops the customers already done."""
        total = len(ids)
        resumed = self.resumable()
        if resumed is not None and resumed.after_id is not None:
            after = resumed.after_id
            remaining = [i for i in ids if i > after]
            self.progress = resumed.advanced(after, total - len(remaining))
            self.progress = Progress(
                **{**self.progress.to_state(), "total": total, "listing": self._listing_state()}
            )
            self.logger.info("Resuming %s", self.progress.describe())
            return remaining
        self.progress = Progress(
            run=resumed.run if resumed else uuid.uuid4().hex[:8],
            mode=self.sync_mode,
            started_at=self.run_started().astimezone(timezone.utc).isoformat(),
            version=self.child_version(),
            after_id=None,
            done=0,
            total=total,
            listing=self._listing_state(),
        )
        return ids

    def _listing_state(self) -> dict[str, Any] | None:
        """This run's certified listing, for a run that resumes it to list once."""
        return self._listing_check.to_state() if self._listing_check is not None else None

    @override
    def resume_listing_check(self) -> ListingCheck | None:
        resumed = self.resumable()
        return ListingCheck.from_state(resumed.listing) if resumed is not None else None

    def checkpoint(self, after_id: int, done: int) -> None:
        """Emit a STATE saying that every planned customer up to `after_id` is done.

        Called by the metadata stream once the metadata and reads rows of those customers
        are out; the bookmark itself stays where it was until the run completes.

        Args:
            after_id: The last customer id whose metadata (and reads row) was emitted.
            done: Customers of this run's plan done so far.
        """
        if self.progress is None:
            return
        self.progress = self.progress.advanced(after_id, done)
        self.stream_state[PROGRESS_KEY] = self.progress.to_state()
        cast("dict[str, Any]", self.tap_state)[RUN_STATS_KEY] = self.api.stats.as_state()
        self._tap.state_writer.write_state(self.tap_state)

    @override
    def advance_bookmark(self) -> None:
        super().advance_bookmark()
        self.stream_state.pop(PROGRESS_KEY, None)
        if self.sync_mode == "full_refresh":
            # As before resumable runs: a full refresh leaves no rolling-window position.
            self.stream_state.pop("metadata_refresh", None)

    def _previous_start(self) -> datetime | None:
        window = self.stream_state.get("metadata_refresh")
        text = window.get("previous_run_started_at") if isinstance(window, dict) else None
        if not text:
            # A state from an incremental run: its bookmark is that run's start - lookback.
            text = self.stream_state.get("replication_key_value")
            lookback = timedelta(minutes=float(self.config.get("lookback", 5)))
        else:
            lookback = timedelta(0)
        try:
            return parse_start_date(str(text)) + lookback if text else None
        except ValueError:
            return None

    def metadata_ids(self) -> Iterable[int]:
        """The customers whose metadata this run reads.

        Incremental and full refresh: every customer listed. Change capture: the customers
        created since the bookmark, plus the rolling slice of existing ones
        (`metadata_refresh_days`, see `metadata_window`).

        Returns:
            Customer ids.
        """
        if self.sync_mode != "change_capture" or self.new_ids is None:
            # Ascending ids: a checkpoint is one id, "every customer up to here is done".
            ids = sorted(set(self.emitted_ids))
            self.metadata_plan = {"new": len(ids), "refreshed": 0}
            return self._start_progress(ids)
        window = self.stream_state.get("metadata_refresh")
        cursor = window.get("cursor") if isinstance(window, dict) else None
        started = self.run_started()
        days = float(self.config.get("metadata_refresh_days", 7))
        planned = plan_slice(
            self.emitted_ids,
            cursor if isinstance(cursor, int) else None,
            self._previous_start(),
            started,
            timedelta(days=days),
        )
        self._metadata_cursor = planned.cursor
        refreshed = [i for i in planned.ids if i not in self.new_ids]
        self.metadata_plan = {"new": len(self.new_ids), "refreshed": len(refreshed)}
        self.logger.info(
            "Metadata this run: %d new customers, %d re-read (rolling %g-day window, after "
            "customer id %s)",
            len(self.new_ids),
            len(refreshed),
            days,
            cursor,
        )
        return self._start_progress(sorted({*self.new_ids, *refreshed}))

    @override
    def extra_state(self, started: datetime) -> dict[str, Any]:
        if self.sync_mode != "change_capture":
            return {}
        started = self.run_started()  # a resumed run continues the window of the one it resumes
        previous = self.stream_state.get("metadata_refresh")
        cursor = self._metadata_cursor
        if cursor is None and isinstance(previous, dict):
            cursor = previous.get("cursor")
        return {
            "metadata_refresh": {
                "cursor": cursor,
                "previous_run_started_at": started.astimezone(timezone.utc).isoformat(),
            }
        }
