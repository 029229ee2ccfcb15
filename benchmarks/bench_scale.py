"""Benchmark 9, scale: a first load of N customers, and the same load killed and resumed.

1. For each size (default 10,000 and 100,000; ``--million``: 100,000 and 1,000,000): the sandbox
   regenerated with N customers (no latency), ``equipme-sync`` into a fresh DuckDB file with
   default settings: wall time, API requests, peak RSS of the tap and of the loader, size of
   the warehouse file.
2. At one size (the largest unless told): the same first load SIGKILLed (process group, as
   ``kill -9`` of a worker) once 30%, 60% and 90% of the customers' metadata requests were
   answered, each time rerun with the same command, then run to the end: total requests /
   the uninterrupted run's, and the rows landed must equal the uninterrupted run's.
Goals (ratios of this run): time and size per customer at the largest size within 1.2x of
the smallest; peak RSS (tap, loader) at the largest <= 1.5x at the smallest; killed and
resumed <= 1.02x the requests of the uninterrupted run.

Run alone: ``.venv/bin/python benchmarks/bench_scale.py`` (10,000 and 100,000, killed and
resumed at 100,000), ``--million`` for the issue's 100,000 vs 1,000,000 (killed and resumed at
1,000,000), or ``--customers N [N ...] [--kill-at N] [--no-resume] [--json out.json]``; in the
suite: ``run_all.py --only scale``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from harness import (
    PROJECT_ROOT,
    Sandbox,
    bin_path,
    machine_description,
    run_measured,
    sandbox_process,
    write_json,
)
from messages import tap_config
from results import Goal, Report, Row

BENCH = "9 scale"
KILL_FRACTIONS = (0.3, 0.6, 0.9)
METADATA_ROUTE = "GET /v1/sales/customers/{customerId}/metadata"
RESULTS_JSON = PROJECT_ROOT / "docs" / "benchmarks-scale.json"


@dataclass
class SizeResult:
    """One uninterrupted first load."""

    customers: int
    seconds: float
    requests: int
    metadata_requests: int
    tap_rss_mib: float
    loader_rss_mib: float
    warehouse_mib: float
    rows: dict[str, int]
    load: tuple[float, float] = (0.0, 0.0)
    """The machine's 1-minute load average before and after the run (others' work shows)."""
    tap_cpu_s: float = 0.0
    loader_cpu_s: float = 0.0
    """CPU seconds of the tap and the loader: per customer, the measure of the work that a
    shared machine's load barely moves (wall time there says more about the neighbours)."""


@dataclass
class ResumeResult:
    """The same first load killed at fractions of its metadata, resumed each time."""

    customers: int
    kills: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)


def _command(workdir: Path, database: Path, base_url: str) -> list[str]:
    config = write_json(workdir / "scale-tap.json", tap_config(base_url))
    return [bin_path("equipme-sync"), "--path", str(database), "--config", str(config)]


def _rows(database: Path) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as con:
        return {
            table: int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
            for table in ("customers", "customer_metadata", "customer_metadata_reads")
        }


def _size_mib(database: Path) -> float:
    files = [database, database.with_name(database.name + ".wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 2**20


def measure_size(workdir: Path, sandbox: Sandbox, customers: int) -> SizeResult:
    """One uninterrupted first load of `customers` customers."""
    sandbox.reset(customers)
    sandbox.clear_stats()
    database = workdir / f"scale-{customers}.duckdb"
    load_before = os.getloadavg()[0]
    measured = run_measured(_command(workdir, database, sandbox.base_url))
    stats = sandbox.stats()
    peaks = measured.peaks_by_program
    cpu = measured.cpu_by_program or {}
    result = SizeResult(
        customers=customers,
        seconds=measured.seconds,
        requests=int(stats["requests"]),
        metadata_requests=int(stats["by_route"].get(METADATA_ROUTE, 0)),
        tap_rss_mib=peaks.get("tap-equipme", 0) / 2**20,
        loader_rss_mib=peaks.get("target-duckdb-lake", 0) / 2**20,
        warehouse_mib=_size_mib(database),
        rows=_rows(database),
        load=(load_before, os.getloadavg()[0]),
        tap_cpu_s=cpu.get("tap-equipme", 0.0),
        loader_cpu_s=cpu.get("target-duckdb-lake", 0.0),
    )
    database.unlink(missing_ok=True)
    database.with_name(database.name + ".wal").unlink(missing_ok=True)
    return result


def measure_resume(workdir: Path, sandbox: Sandbox, customers: int) -> ResumeResult:
    """Kill the first load at each fraction of its metadata, rerun it, run it to the end."""
    sandbox.reset(customers)
    sandbox.clear_stats()
    database = workdir / f"scale-resume-{customers}.duckdb"
    command = _command(workdir, database, sandbox.base_url)
    result = ResumeResult(customers)
    started = time.perf_counter()
    for fraction in KILL_FRACTIONS:
        target = int(customers * fraction)
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        while process.poll() is None:
            done = int(sandbox.stats()["by_route"].get(METADATA_ROUTE, 0))
            if done >= target:
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        _, err = process.communicate()
        _wait_group(process.pid)
        resumed = [line for line in err.splitlines() if "resuming run" in line]
        result.kills.append(
            {
                "fraction": fraction,
                "metadata_requests_at_kill": int(
                    sandbox.stats()["by_route"].get(METADATA_ROUTE, 0)
                ),
                "resume_line": resumed[0] if resumed else None,
            }
        )
    final = run_measured(command)
    result.seconds = time.perf_counter() - started
    stats = sandbox.stats()
    result.requests = int(stats["requests"])
    resumed = [line for line in final.stderr.splitlines() if "resuming run" in line]
    result.kills.append({"fraction": 1.0, "resume_line": resumed[0] if resumed else None})
    result.rows = _rows(database)
    database.unlink(missing_ok=True)
    return result


def _wait_group(pgid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def report_results(report: Report, sizes: list[SizeResult], resume: ResumeResult | None) -> None:
    """Rows and goals of benchmark 9."""
    for size in sizes:
        report.rows.append(
            Row(
                BENCH,
                f"first load, {size.customers:,} customers",
                size.customers,
                size.seconds,
                max(size.tap_rss_mib, size.loader_rss_mib),
                f"{size.requests:,} requests; tap {size.tap_rss_mib:.0f} MiB, loader "
                f"{size.loader_rss_mib:.0f} MiB; warehouse {size.warehouse_mib:.0f} MiB; "
                f"CPU s per 1,000 customers: tap {1000 * size.tap_cpu_s / size.customers:.2f}, "
                f"loader {1000 * size.loader_cpu_s / size.customers:.2f}; "
                f"load average {size.load[0]:.1f} -> {size.load[1]:.1f}",
            )
        )
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        scale = f"{large.customers:,} vs {small.customers:,}"
        per = [
            ("time per customer", large.seconds / large.customers, small.seconds / small.customers),
            (
                "warehouse size per customer",
                large.warehouse_mib / large.customers,
                small.warehouse_mib / small.customers,
            ),
        ]
        for name, big, little in per:
            report.goals.append(Goal(BENCH, f"{name}, {scale}", big / little, 1.2, False))
        if small.loader_cpu_s and small.tap_cpu_s:
            # Not goals of the issue: what time per customer is made of, without the load.
            for name, big, little in (
                ("tap", large.tap_cpu_s, small.tap_cpu_s),
                ("loader", large.loader_cpu_s, small.loader_cpu_s),
            ):
                ratio = (big / large.customers) / (little / small.customers)
                report.notes.append(
                    f"benchmark 9: {name} CPU time per customer, {scale}: {ratio:.2f}x"
                )
        for name, big, little in (
            ("tap peak RSS", large.tap_rss_mib, small.tap_rss_mib),
            ("loader peak RSS", large.loader_rss_mib, small.loader_rss_mib),
        ):
            report.goals.append(Goal(BENCH, f"{name}, {scale}", big / little, 1.5, False))
    if resume is not None:
        plain = next((s for s in sizes if s.customers == resume.customers), None)
        report.rows.append(
            Row(
                BENCH,
                f"first load killed at 30/60/90% and resumed, {resume.customers:,} customers",
                resume.customers,
                resume.seconds,
                None,
                f"{resume.requests:,} requests in 4 runs; rows {resume.rows}",
            )
        )
        if plain is not None:
            if resume.rows != plain.rows:
                report.notes.append(
                    f"benchmark 9: the resumed load's rows {resume.rows} differ from the "
                    f"uninterrupted load's {plain.rows}"
                )
            report.goals.append(
                Goal(
                    BENCH,
                    "requests, killed 3x and resumed / uninterrupted",
                    resume.requests / plain.requests,
                    1.02,
                    False,
                    note=f"{resume.requests:,} vs {plain.requests:,}",
                )
            )


def run(
    report: Report,
    workdir: Path,
    sandbox: Sandbox,
    customers: list[int],
    kill_at: int | None = None,
    json_out: Path | None = RESULTS_JSON,
) -> None:
    """Benchmark 9 (see the module docstring); writes the measurements to `json_out`."""
    sizes: list[SizeResult] = []
    for n in sorted(customers):
        sizes.append(measure_size(workdir, sandbox, n))
        _write(json_out, report.machine, sizes, None, [])  # what was measured, as it comes
    resume = measure_resume(workdir, sandbox, kill_at) if kill_at else None
    report_results(report, sizes, resume)
    _write(json_out, report.machine, sizes, resume, report.goals)


def _write(
    json_out: Path | None,
    machine: str,
    sizes: list[SizeResult],
    resume: ResumeResult | None,
    goals: list[Goal],
) -> None:
    if json_out is None:
        return
    document = {
        "machine": machine,
        "sizes": [asdict(s) for s in sizes],
        "resume": asdict(resume) if resume else None,
        "goals": [asdict(g) | {"met": g.met} for g in goals if g.benchmark == BENCH],
    }
    json_out.write_text(json.dumps(document, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--kill-at", type=int, help="size of the kill-and-resume run")
    parser.add_argument(
        "--million",
        action="store_true",
        help="the issue's full benchmark: 100,000 and 1,000,000 customers, killed and resumed "
        "at 1,000,000 (hours on a shared machine)",
    )
    parser.add_argument("--no-resume", action="store_true", help="skip the kill-and-resume run")
    parser.add_argument("--json", type=Path, default=RESULTS_JSON)
    args = parser.parse_args(argv)
    if args.million:
        args.customers = [100_000, 1_000_000]
    report = Report(machine=machine_description(), size="scale")
    kill_at = None if args.no_resume else (args.kill_at or max(args.customers))
    with (
        tempfile.TemporaryDirectory(prefix="equipme-scale-") as workdir,
        sandbox_process(customers=0) as sandbox,
    ):
        run(report, Path(workdir), sandbox, args.customers, kill_at, args.json)
    print(report.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
