"""The tap's request figures reach `equipme-sync`'s summary (one structured log line)."""

from __future__ import annotations

import io
import json

from tap_equipme.pipeline.pipes import StderrTail
from tap_equipme.pipeline.summary import SyncSummary, requests_line
from tap_equipme.pipeline.sync import run_sync

FIGURES = {
    "requests": {"list": 2, "metadata": 40, "other": 0},
    "responses": {"200": 40, "429": 2},
    "transport_errors": 0,
    "wait_seconds": 2.0,
    "rate_limiter": {"settled_per_s": 19.5, "paused_s": 1.0, "throttled": 2},
}


def test_the_stderr_drain_keeps_the_taps_requests_line_and_the_summary_prints_it():
    text = (
        "2026-12-01 | INFO | tap-equipme | Reading customers (all)\n"
        f"2026-12-01 | INFO | tap-equipme.customers | Requests this run: {json.dumps(FIGURES)}\n"
        "2026-12-01 | INFO | tap-equipme | done\n"
    )
    tail = StderrTail("tap", io.BytesIO(text.encode()))
    tail.join(5)
    assert tail.request_stats == FIGURES
    summary = SyncSummary("r", "duckdb", "wh.duckdb", False, requests=tail.request_stats)
    line = summary.render().splitlines()[-1]
    assert "API requests: 42 (list 2, metadata 40, other 0)" in line
    assert "2 answered 429" in line
    assert "rate limit found: 19.5/s" in line


def test_a_rate_limited_sync_reports_its_429s_waits_and_settled_rate(tap_config, sandbox, tmp_path):
    sandbox.control.reset(customers=60, seed=1)
    sandbox.control.set_faults(rate_limit_per_s=30, retry_after_seconds=1)
    summary = run_sync(tap_config, "duckdb", tmp_path / "wh.duckdb", progress_out=None)
    limited = sandbox.control.stats()["by_status"].get("429", 0)
    assert limited > 0, "the fault did not trigger"
    assert summary.requests["responses"]["429"] == limited
    assert summary.requests["rate_limiter"]["settled_per_s"] > 0
    assert summary.as_dict()["requests"] == summary.requests
    assert "answered 429" in summary.render()


def test_the_requests_line_says_when_429s_are_not_tied_to_rate():
    line = requests_line(
        {
            "requests": {"list": 1, "metadata": 99},
            "responses": {"200": 86, "429": 14},
            "rate_limiter": {"settled_per_s": None, "background_share": 0.14, "paused_s": 0.0},
        }
    )
    assert "429s not tied to rate: 14% of requests" in line
    assert "rate limit found" not in line
