"""Benchmark 2, metadata N+1: the metadata stream's wall time vs concurrency and the bound.

The sandbox adds ``latency_ms`` to every API request. The metadata stream's wall time is the
``sync_duration`` metric singer-sdk logs for ``customer_metadata`` (the child stream's own
sync: its N requests, one per customer). The bound is N x latency / concurrency: what
perfectly overlapped requests would take. Beside it, the floor: the same N requests from a
plain ``requests`` thread pool of the same concurrency (``metadata_loop.py``), measured in the
same run against the same server, which is what the tap's own overhead is judged by.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench_extraction import count_records
from harness import BENCH_API_KEY, Measured, Sandbox, bin_path, run_measured, write_json
from messages import select_streams, tap_config
from results import Goal, Report, Row

DEFAULT_CONCURRENCY = 8
STREAM = "customer_metadata"


def stream_sync_seconds(measured: Measured, stream: str) -> float:
    """The ``sync_duration`` singer-sdk logged (``METRIC: {...}``) for ``stream``."""
    for line in measured.stderr.splitlines():
        _, marker, payload = line.partition("METRIC: ")
        if not marker:
            continue
        metric = json.loads(payload)
        if metric.get("metric") == "sync_duration" and metric["tags"].get("stream") == stream:
            return float(metric["value"])
    raise RuntimeError(f"tap-equipme logged no sync_duration metric for {stream!r}")


METADATA_LOOP = Path(__file__).with_name("metadata_loop.py")


def floor_seconds(base_url: str, customers: int, concurrency: int) -> float:
    """Seconds a plain `requests` pool takes for the same metadata requests."""
    done = subprocess.run(
        [sys.executable, str(METADATA_LOOP), base_url, str(concurrency)],
        input=" ".join(str(i) for i in range(1, customers + 1)),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "EQUIPME_API_KEY": BENCH_API_KEY},
    )
    return float(done.stdout.strip())


def run(
    report: Report,
    workdir: Path,
    sandbox: Sandbox,
    catalog: dict[str, Any],
    customers: int,
    latency_ms: float,
) -> None:
    bench = "2 metadata N+1"
    catalog_path = write_json(
        workdir / "meta-catalog.json", select_streams(catalog, {"customers", STREAM})
    )
    latency = latency_ms / 1000
    for concurrency in (1, DEFAULT_CONCURRENCY):
        settings: dict[str, Any] = {}
        if concurrency != DEFAULT_CONCURRENCY:
            settings["metadata_concurrency"] = concurrency
        config = write_json(
            workdir / f"meta-c{concurrency}.json", tap_config(sandbox.base_url, **settings)
        )
        out = workdir / f"meta-c{concurrency}-out.jsonl"
        sandbox.clear_stats()
        with out.open("wb") as sink:
            measured = run_measured(
                [bin_path("tap-equipme"), "--config", str(config), "--catalog", str(catalog_path)],
                stdout=sink,
            )
        stats = sandbox.stats()
        if count_records(out, "customers") != customers:
            raise RuntimeError(f"metadata run at concurrency {concurrency} lost customers")
        if count_records(out, STREAM) == 0:
            raise RuntimeError(f"metadata run at concurrency {concurrency} emitted no metadata")
        metadata_seconds = stream_sync_seconds(measured, STREAM)
        floor = floor_seconds(sandbox.base_url, customers, concurrency)
        bound = customers * latency / concurrency
        label = "default" if concurrency == DEFAULT_CONCURRENCY else "setting"
        report.rows.append(
            Row(
                bench,
                f"metadata stream, metadata_concurrency={concurrency} ({label})",
                customers,
                metadata_seconds,
                None,
                f"{latency_ms:g} ms/request; {metadata_seconds / bound:.2f}x the bound "
                f"{bound:.2f} s; whole tap {measured.seconds:.2f} s; {stats['requests']} "
                f"requests, max {stats['max_concurrent']} concurrent",
            )
        )
        report.rows.append(
            Row(
                bench,
                f"plain requests pool, {concurrency} thread(s) (the floor)",
                customers,
                floor,
                None,
                f"{floor / bound:.2f}x the bound: what the server and HTTP cost any client",
            )
        )
        report.goals.append(
            Goal(
                bench,
                f"metadata wall time / plain requests floor, concurrency {concurrency}",
                metadata_seconds / floor,
                1.1,
                False,
            )
        )
        if concurrency == DEFAULT_CONCURRENCY:
            report.goals.append(
                Goal(
                    bench,
                    "metadata wall time / bound, default concurrency",
                    metadata_seconds / bound,
                    1.3,
                    False,
                )
            )
