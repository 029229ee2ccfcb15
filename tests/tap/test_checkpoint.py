"""The checkpoint logic: the progress object in the state, the clock, the resume line."""

from __future__ import annotations

from tap_equipme.listing.checkpoint import (
    CheckpointClock,
    Progress,
    progress_of,
    progress_only,
    resume_line,
)
from tap_equipme.listing.listing_check import ListingCheck

PROGRESS = Progress("36a63fa4", "full_refresh", "2026-12-07T10:00:00+00:00", 17, 4711, 2200, 3000)


def _state(progress: Progress | None) -> dict:
    customers = {"replication_key_value": "2026-12-06T00:00:00Z"}
    if progress is not None:
        customers["run_progress"] = progress.to_state()
    return {"bookmarks": {"customers": customers}}


def test_progress_round_trips_through_the_state_and_stays_small() -> None:
    state = _state(PROGRESS)
    assert progress_of(state) == PROGRESS
    assert len(str(state["bookmarks"]["customers"]["run_progress"])) < 200


def test_progress_carries_the_runs_listing_check_and_still_stays_small() -> None:
    listing = ListingCheck.record(range(1, 100_001), [], "2026-12-07T10:00:00Z", "").to_state()
    progress = Progress(**{**PROGRESS.to_state(), "listing": listing})
    state = _state(progress)
    read = progress_of(state)
    assert read is not None
    assert read.listing == listing
    assert ListingCheck.from_state(read.listing) is not None
    assert len(str(state["bookmarks"]["customers"]["run_progress"])) < 400
    # A progress written before the field existed reads as "no listing check".
    old = {k: v for k, v in PROGRESS.to_state().items() if k != "listing"}
    assert progress_of({"bookmarks": {"customers": {"run_progress": old}}}) == PROGRESS
    broken = {**PROGRESS.to_state(), "listing": "garbage"}
    assert progress_of({"bookmarks": {"customers": {"run_progress": broken}}}) == PROGRESS


def test_a_malformed_or_missing_progress_is_no_progress() -> None:
    assert progress_of(None) is None
    assert progress_of(_state(None)) is None
    assert progress_of({"bookmarks": {"customers": {"run_progress": {"run": "x"}}}}) is None
    assert progress_of({"bookmarks": {"customers": {"run_progress": "garbage"}}}) is None


def test_resume_line_names_the_run_and_how_far_it_got() -> None:
    state = _state(PROGRESS)
    assert resume_line(state, "full_refresh", restart=False) == (
        "resuming run 36a63fa4: 2,200 of 3,000 customers done"
    )
    assert resume_line(state, "full_refresh", restart=True).startswith("restarting")
    assert "not resuming" in resume_line(state, "change_capture", restart=False)
    assert resume_line(_state(None), "full_refresh", restart=False) is None


def test_a_full_refresh_gets_only_the_progress_of_the_stored_state() -> None:
    assert progress_only(_state(PROGRESS)) == {
        "bookmarks": {"customers": {"run_progress": PROGRESS.to_state()}}
    }
    assert progress_only(_state(None)) is None


def test_clock_is_due_every_n_customers_or_after_the_interval() -> None:
    now = [0.0]
    clock = CheckpointClock(every=3, seconds=10, clock=lambda: now[0])
    assert [clock.tick() for _ in range(6)] == [False, False, True, False, False, True]
    now[0] = 11.0
    assert clock.tick() is True  # the time bound, after one customer
    assert clock.tick() is False
