"""The adaptive limiter end to end: the real tap against the sandbox's rate limit."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from typing import Any

import pytest

from tap_equipme.tap import TapEquipme


def _sync(config: dict[str, Any]) -> tuple[TapEquipme, list[tuple[float, float, int]]]:
    """Run the tap in-process; returns it and every request as (sent, answered, status)."""
    tap = TapEquipme(config=config, parse_env_config=False)
    session = tap.api_client.session
    original = session.get
    log: list[tuple[float, float, int]] = []
    lock = threading.Lock()

    def timed_get(*args: Any, **kwargs: Any) -> Any:
        sent = time.monotonic()
        response = original(*args, **kwargs)
        with lock:
            log.append((sent, time.monotonic(), response.status_code))
        return response

    session.get = timed_get  # type: ignore[method-assign]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            tap.sync_all()
    finally:
        tap.api_client.close()
    return tap, log


def test_goodput_rides_just_under_the_limit_with_few_429s(sandbox, config):
    sandbox.control.reset(customers=200, seed=1)
    sandbox.control.set_faults(latency_ms=10, rate_limit_per_s=40)
    started = time.monotonic()
    settings = {"metadata_concurrency": 8, "backoff_factor": 1.0, "sync_mode": "incremental"}
    tap, log = _sync({**config, **settings})
    seconds = time.monotonic() - started
    ok = sum(1 for *_, status in log if status == 200)
    limited = sum(1 for *_, status in log if status == 429)
    assert ok >= 201  # the list page(s) and 200 metadata requests
    assert limited / len(log) <= 0.08, f"{limited} of {len(log)} requests answered 429"
    # 201 requests at 40/s take 5 s at best (the bucket's first 40 come free): near it.
    assert ok / seconds >= 0.7 * 40
    figures = tap.api_client.stats.as_dict()
    assert figures["responses"]["429"] == limited
    assert figures["rate_limiter"]["settled_per_s"] is not None
    assert 20 <= figures["rate_limiter"]["settled_per_s"] <= 80


def test_a_retry_after_pauses_every_worker_not_only_the_one_refused(sandbox, config):
    sandbox.control.reset(customers=60, seed=1)
    sandbox.control.set_faults(rate_limit_per_s=20, retry_after_seconds=1)
    _, log = _sync({**config, "metadata_concurrency": 8, "backoff_factor": 1.0})
    first_429 = min(answered for _, answered, status in log if status == 429)
    during_pause = [sent for sent, _, _ in log if first_429 < sent < first_429 + 0.95]
    assert during_pause == [], "a request was sent while the server asked for a pause"
    assert all(status == 200 for *_, status in log[-10:]), "the run ended normally"


def test_no_limit_means_no_pacing_and_no_pause(sandbox, config):
    sandbox.control.reset(customers=100, seed=1)
    sandbox.control.set_faults(latency_ms=20)
    tap, _ = _sync({**config, "metadata_concurrency": 8})
    figures = tap.api_client.stats.as_dict()["rate_limiter"]
    assert figures["throttled"] == 0
    assert figures["rate_per_s"] is None
    assert figures["paused_s"] == 0.0
    # Slow start opened concurrency within the first few answers.
    assert sandbox.control.stats()["max_concurrent"] >= 6


def test_max_requests_per_second_caps_the_rate_from_the_first_request(sandbox, config):
    sandbox.control.reset(customers=250, seed=1)
    started = time.monotonic()
    # One list page (incremental; change capture certifies with a second): 31 requests.
    _, log = _sync({**config, "max_requests_per_second": 20, "sync_mode": "incremental"})
    seconds = time.monotonic() - started
    assert len(log) >= 251
    sends = sorted(sent for sent, _, _ in log)
    assert (len(sends) - 1) / (sends[-1] - sends[0]) <= 20 * 1.1
    assert seconds >= 1.4


def test_429s_not_tied_to_rate_do_not_starve_the_sync(sandbox, config):
    """One request in seven refused at random (the sandbox's `throttle_rate`), no rate limit.

    Before issue 19 every such 429 paused every worker and cut the pace to 0.9 x a goodput the
    pauses themselves lowered, so this sync crawled. Now it must take at most twice the time
    of the same sync with the limiter off plus 12 s (what the first cut's trial may cost:
    judged at the pace that cut set), measured side by side.
    """
    settings = {"metadata_concurrency": 8, "backoff_factor": 0.05, "sync_mode": "incremental"}
    seconds = {}
    for adaptive in (False, True):
        sandbox.control.reset(customers=250, seed=1)
        sandbox.control.set_faults(latency_ms=5, throttle_rate=1 / 7, seed=3)
        started = time.monotonic()
        tap, log = _sync({**config, **settings, "adaptive_rate_limit": adaptive})
        seconds[adaptive] = time.monotonic() - started
        assert sum(1 for *_, status in log if status == 200) >= 251
        assert any(status == 429 for *_, status in log)
    assert seconds[True] <= 2 * seconds[False] + 12.0, seconds
    figures = tap.api_client.stats.as_dict()["rate_limiter"]
    assert figures["throttled"] > 0
    # What the progress line and the summary report: 429s not tied to rate, about 1 in 7.
    assert 0.05 <= (figures["background_share"] or 0.0) <= 0.35, figures


@pytest.mark.slow  # two syncs that wait out 20 429s of 1 s each: about 25 s
def test_a_429_on_the_third_request_sets_no_lasting_pace(sandbox, config):
    """Benchmark 6's 15% case: the sandbox (seed 19) refuses the run's third request at random.

    Two answers, then a 429: a 2/s bucket and a chance 429 look the same. The cut it makes is a
    guess; a 429 to a request sent under the guessed rate is one no limit at that rate sends,
    so the guess is undone. Before, the cut's trial ended undecided on a handful of answers and
    the 2/s pace stood for the whole run (`settled_per_s: 2.0`; 33.5 s against 9.3 s for the
    fixed run when this test was written).
    """
    # Retry-After honoured as sent (1 s), as in the benchmark.
    settings = {"metadata_concurrency": 8, "backoff_factor": 1.0, "sync_mode": "incremental"}
    seconds = {}
    for adaptive in (False, True):
        sandbox.control.reset(customers=100, seed=1)
        sandbox.control.set_faults(
            latency_ms=20, throttle_rate=0.15, retry_after_seconds=1, seed=19
        )
        started = time.monotonic()
        tap, log = _sync({**config, **settings, "adaptive_rate_limit": adaptive})
        seconds[adaptive] = time.monotonic() - started
    # The server's third request was refused: with slow start at most two were in flight by
    # then, so it was sent third or fourth (the fixed run sends eight at once: any order).
    assert 429 in [status for *_, status in sorted(log)[:4]]
    figures = tap.api_client.stats.as_dict()["rate_limiter"]
    assert figures["cuts_undone"] >= 1, figures  # the guess was undone ...
    settled = figures["settled_per_s"]
    assert settled is None or settled >= 5.0, figures  # ... and no 2/s limit believed
    # Both runs wait out the same 429s; a standing 2/s pace took 3x the fixed run's time.
    assert seconds[True] <= 1.5 * seconds[False] + 5.0, seconds
