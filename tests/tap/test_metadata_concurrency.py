"""Metadata requests run concurrently, bounded by `metadata_concurrency`, on pooled sockets."""

from __future__ import annotations

import threading
import time

import pytest

from tap_equipme.http.fanout import map_bounded


def _timed_run(run_tap, config, concurrency: int):
    started = time.perf_counter()
    run = run_tap({**config, "metadata_concurrency": concurrency})
    return run, time.perf_counter() - started


def test_metadata_wall_time_falls_as_concurrency_rises_and_never_exceeds_it(
    sandbox, config, run_tap
):
    sandbox.control.reset(customers=60, seed=2)
    sandbox.control.set_faults(latency_ms=30, only_paths="/metadata$")

    sandbox.control.clear_stats()
    sequential, sequential_seconds = _timed_run(run_tap, config, 1)
    assert sandbox.control.stats()["max_concurrent"] == 1

    sandbox.control.clear_stats()
    parallel, parallel_seconds = _timed_run(run_tap, config, 8)
    max_concurrent = sandbox.control.stats()["max_concurrent"]

    assert 1 < max_concurrent <= 8
    # 60 requests of >= 30 ms: >= 1.8 s one by one; 8 at a time is several times faster (the
    # bound is loose: CI machines are busy, and both runs include the same listing).
    assert parallel_seconds < sequential_seconds / 2, (sequential_seconds, parallel_seconds)
    # Same records either way, in the same order (results are emitted in key order).
    assert parallel.records("customer_metadata") == sequential.records("customer_metadata")


def test_concurrency_of_three_keeps_three_in_flight_at_most(sandbox, config, run_tap):
    sandbox.control.reset(customers=40, seed=2)
    sandbox.control.set_faults(latency_ms=10, only_paths="/metadata$")
    sandbox.control.clear_stats()

    run_tap({**config, "metadata_concurrency": 3})

    assert sandbox.control.stats()["max_concurrent"] == 3


def test_map_bounded_keeps_order_and_bounds_work_in_flight():
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def slow_square(value: int) -> int:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.002)
        with lock:
            in_flight -= 1
        return value * value

    consumed = []

    def keys():
        for value in range(200):
            consumed.append(value)
            yield value

    results = []
    for key, square in map_bounded(slow_square, keys(), 4):
        # Keys are pulled lazily: never more than the window ahead of the consumer.
        assert len(consumed) - len(results) <= 8
        results.append((key, square))

    assert results == [(value, value * value) for value in range(200)]
    assert peak <= 4


def test_map_bounded_raises_the_first_error_and_stops_the_workers():
    def explode(value: int) -> int:
        if value == 5:
            raise ValueError("boom")
        return value

    seen = []

    def consume():
        for key, _ in map_bounded(explode, range(1000), 4):
            seen.append(key)

    with pytest.raises(ValueError, match="boom"):
        consume()
    assert seen == [0, 1, 2, 3, 4]
    assert not [t for t in threading.enumerate() if t.name.startswith("equipme-fetch")]
