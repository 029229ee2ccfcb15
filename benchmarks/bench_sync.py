"""Benchmarks 4 and 5: ``equipme-sync`` (tap -> target -> DuckDB) as a user runs it.

4, memory: peak RSS of the whole ``equipme-sync`` process tree (the pipeline, the tap and the
target), sampled with psutil, at a small and a 10x larger data set; streaming with bounded
batches keeps the ratio near 1.
5, end to end: one full sync with metadata; wall time, API requests and records/s.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from harness import Measured, Sandbox, bin_path, run_measured, write_json
from messages import tap_config
from results import Goal, Report, Row


def sync(workdir: Path, sandbox: Sandbox, name: str, customers: int) -> tuple[Measured, int, int]:
    """One fresh ``equipme-sync`` into a new DuckDB file; (cost, customers loaded, requests)."""
    sandbox.reset(customers)
    config = write_json(workdir / f"{name}-tap.json", tap_config(sandbox.base_url))
    database = workdir / f"{name}.duckdb"
    measured = run_measured(
        [
            bin_path("equipme-sync"),
            "--destination",
            "duckdb",
            "--path",
            str(database),
            "--config",
            str(config),
        ]
    )
    requests_served = int(sandbox.stats()["requests"])
    with duckdb.connect(str(database), read_only=True) as connection:
        row = connection.execute("SELECT count(*) FROM customers").fetchone()
        meta = connection.execute("SELECT count(*) FROM customer_metadata").fetchone()
    assert row is not None
    assert meta is not None
    if int(row[0]) != customers:
        raise RuntimeError(f"equipme-sync loaded {row[0]} customers, expected {customers}")
    return measured, int(row[0]) + int(meta[0]), requests_served


def run_memory(report: Report, workdir: Path, sandbox: Sandbox, small: int, large: int) -> None:
    bench = "4 memory"
    peaks = []
    for customers in (small, large):
        measured, records, requests_served = sync(
            workdir, sandbox, f"memory-{customers}", customers
        )
        peaks.append(measured.peak_rss)
        report.rows.append(
            Row(
                bench,
                f"equipme-sync, {customers:,} customers",
                records,
                measured.seconds,
                measured.peak_rss / 2**20,
                f"peak RSS of the process tree ({describe_peaks(measured)}); "
                f"{requests_served:,} requests",
            )
        )
    report.goals.append(
        Goal(
            bench,
            f"peak RSS at {large:,} / at {small:,} customers",
            peaks[1] / peaks[0],
            1.3,
            False,
            if_unmet=(
                "target-duckdb-lake dominates the tree; its RSS climbs over the first ~100,000 "
                "customers and then stays flat (allocator and DuckDB caches warming up, not "
                "a leak: DuckDB itself reports 20-60 MB in use), so the small run has not "
                "reached the plateau yet; equipme-sync passes batch_size_rows and "
                "commit_every_rows 10,000"
            ),
        )
    )


def run_end_to_end(report: Report, workdir: Path, sandbox: Sandbox, customers: int) -> None:
    measured, records, requests_served = sync(workdir, sandbox, "e2e", customers)
    report.rows.append(
        Row(
            "5 end to end",
            f"equipme-sync, {customers:,} customers with metadata",
            records,
            measured.seconds,
            measured.peak_rss / 2**20,
            f"{requests_served:,} API requests ({requests_served / measured.seconds:,.0f}/s); "
            "records = customers + metadata rows",
        )
    )


def describe_peaks(measured: Measured) -> str:
    """Each program's own peak RSS, e.g. ``tap-equipme 80 MiB, target-duckdb-lake 300 MiB``."""
    return ", ".join(
        f"{name} {rss / 2**20:.0f} MiB"
        for name, rss in sorted(measured.peaks_by_program.items(), key=lambda item: -item[1])
    )
