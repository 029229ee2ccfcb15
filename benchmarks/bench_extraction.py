"""Benchmark 1, extraction: ``tap-equipme`` (customers only) vs a minimal ``requests`` loop.

Both page the same sandbox process (no latency, ``page_size`` 1000) and write to /dev/null;
each runs as its own process. Best of ``repeats`` for each, alternating, after a warm-up pass
that makes the sandbox render every customer once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harness import BENCH_API_KEY, Sandbox, bin_path, run_measured, write_json
from messages import REQUESTS_LOOP, select_streams, tap_config
from results import Goal, Report, Row


def run(
    report: Report,
    workdir: Path,
    sandbox: Sandbox,
    catalog: dict[str, Any],
    customers: int,
    repeats: int = 2,
) -> None:
    bench = "1 extraction"
    loop_command = [sys.executable, str(REQUESTS_LOOP), sandbox.base_url, "1000"]
    loop_env = {"EQUIPME_API_KEY": BENCH_API_KEY}
    config = write_json(workdir / "extract-config.json", tap_config(sandbox.base_url))
    selected = write_json(workdir / "extract-catalog.json", select_streams(catalog, {"customers"}))
    tap_command = [bin_path("tap-equipme"), "--config", str(config), "--catalog", str(selected)]

    run_measured(loop_command, env=loop_env)  # warm-up: the sandbox renders each customer once
    check_emits(tap_command, workdir / "extract-check.jsonl", "customers", customers)
    loop_runs, tap_runs = [], []
    for _ in range(repeats):
        loop_runs.append(run_measured(loop_command, env=loop_env))
        tap_runs.append(run_measured(tap_command))
    loop = min(loop_runs, key=lambda measured: measured.seconds)
    tap = min(tap_runs, key=lambda measured: measured.seconds)
    best_of = f"best of {repeats}"
    report.rows.append(
        Row(bench, "requests loop (limit)", customers, loop.seconds, loop.peak_rss / 2**20, best_of)
    )
    report.rows.append(
        Row(bench, "tap-equipme, customers", customers, tap.seconds, tap.peak_rss / 2**20, best_of)
    )
    report.goals.append(
        Goal(
            bench, "tap-equipme vs requests loop, records/s", loop.seconds / tap.seconds, 0.5, True
        )
    )


def check_emits(command: list[str], out: Path, stream: str, expected: int) -> None:
    """Run the tap once into a file and insist it emitted ``expected`` records of ``stream``."""
    with out.open("wb") as sink:
        run_measured(command, stdout=sink)
    emitted = count_records(out, stream)
    if emitted != expected:
        raise RuntimeError(f"tap-equipme emitted {emitted} {stream} records, expected {expected}")


def count_records(messages: Path, stream: str) -> int:
    """RECORD messages of ``stream`` in a Singer message file."""
    count = 0
    with messages.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"RECORD"') or b'"type": "RECORD"' in line[:40]:
                message = json.loads(line)
                count += message.get("stream") == stream
    return count
