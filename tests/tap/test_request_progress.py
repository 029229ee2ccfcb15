"""The tap's `HTTP progress:` line: the request rate now, 429s and the limiter's pace."""

from __future__ import annotations

import logging

import pytest

from tap_equipme.http.rate_limiter import RateLimiter
from tap_equipme.http.request_progress import ProgressLog, limiter_belief
from tap_equipme.http.request_stats import RequestStats


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_progress_line_shows_the_rate_over_the_last_interval_and_the_pace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    limiter = RateLimiter(max_concurrency=1, max_rate=25.0, clock=clock)
    stats = RequestStats(rate_limiter=limiter)
    progress = ProgressLog(stats, limiter, interval=10.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="tap-equipme"):
        for _ in range(200):
            stats.record("metadata", 200)
        stats.record("metadata", 429)
        clock.now = 5.0
        progress.tick()
        assert "HTTP progress" not in caplog.text, "not before the interval is over"
        clock.now = 10.0
        progress.tick()
    line = caplog.messages[-1]
    assert "201 requests, 20.1 requests/s over the last 10 s, 1 answered 429" in line
    assert "pace 25.0 requests/s" in line


def test_the_progress_line_says_what_the_limiter_believes():
    assert limiter_belief({"settled_per_s": 19.62}) == "rate limit found: 19.6/s"
    assert (
        limiter_belief({"settled_per_s": None, "background_share": 0.141})
        == "429s not tied to rate: 14% of requests"
    )
    assert limiter_belief({"settled_per_s": None}) == "no rate limit met"
