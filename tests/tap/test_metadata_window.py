"""The rolling metadata slice: every customer re-read within the window, whatever the schedule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tap_equipme.listing.metadata_window import plan_slice, slice_size

WEEK = timedelta(days=7)
T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)


def test_an_hourly_run_at_100_000_customers_re_reads_about_600():
    assert slice_size(100_000, timedelta(hours=1), WEEK) == 596


def test_a_run_after_the_whole_window_re_reads_everyone():
    assert slice_size(500, timedelta(days=8), WEEK) == 500
    assert slice_size(500, timedelta(0), WEEK) == 0


@pytest.mark.parametrize("every", [timedelta(minutes=15), timedelta(hours=1), timedelta(days=1)])
def test_every_customer_is_re_read_within_the_window_on_any_schedule(every):
    ids = list(range(3, 3000, 7))
    cursor, previous, now = None, T0, T0
    last_read = dict.fromkeys(ids, T0)
    while now < T0 + 3 * WEEK:
        now += every
        planned = plan_slice(ids, cursor, previous, now, WEEK)
        for customer_id in planned.ids:
            last_read[customer_id] = now
        cursor, previous = planned.cursor, now
        assert all(now - read <= WEEK + every for read in last_read.values())


def test_the_slice_walks_ids_in_order_from_the_cursor_and_wraps_around():
    planned = plan_slice([5, 1, 9, 3, 7], 7, T0, T0 + WEEK * 3 / 5, WEEK)
    assert planned.ids == [9, 1, 3]
    assert planned.cursor == 3


def test_a_first_run_has_nothing_to_refresh():
    assert plan_slice([1, 2, 3], None, None, T0, WEEK).ids == []
