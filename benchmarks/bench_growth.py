"""Benchmark 8, growth: many simulated hourly runs; the warehouse grows with the changes only.

1. The sandbox regenerated with N customers; a first ``equipme-sync`` into each destination
   (DuckDB file; DuckLake with a local catalog file and a local data path).
2. Then, per simulated hourly run: 1% of the customers renamed through the API (PATCH, a
   different 1% each run), the stored previous-run start moved one hour back (as benchmark 7
   does), one default ``equipme-sync`` per destination, alternating, so both see the same
   machine. Every ``--maintain-every`` runs (default 168, weekly): ``equipme-sync maintain
   --destination D --path P [lake options] --apply --json``, or, while that command does not
   exist (``COMMANDS`` of ``tap_equipme/pipeline/cli.py`` lacks ``maintain``), the note
   "maintenance: not available".
   Maintenance runs on the simulated clock (`SimulatedClock`): ``--retention`` and
   ``--grace`` are the real seconds since the run that started ``--retention-hours`` (default
   168, the product's 7d) and one simulated hour ago.
3. Measured per run: bytes the sync's processes wrote (the kernel's count, judged) and what
   it added to storage (DuckLake: Parquet data and delete files under the data path; DuckDB:
   the file's and WAL's growth), files on storage, warehouse size (DuckLake: data files +
   catalog file and WAL), sync wall time, the best-of-3 time to read the whole
   ``customers_report`` view, and the renamed rows' own size as Parquet.
Goals (ratios of this run, per destination): bytes written per hourly run <= 3x the changed
rows' Parquet size + 64 KB; data files after run N <= 2x after run 1; warehouse size after
run N, less the history's real growth, <= 1.5x after run 1; run N's wall time <= 1.1x run
2's; the report view's query time at run N <= 1.2x at run 2.

Run alone: ``.venv/bin/python benchmarks/bench_growth.py --customers 20000 --runs 200``
(``--destinations``, ``--maintain-every``, ``--retention-hours``, ``--json``, ``--keep``); in
the suite:
``run_all.py --only growth``. ``benchmarks/chart_growth.py`` draws the curves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from growth_report import (
    BENCH,
    Curve,
    Point,
    load_document,
    report_from_document,
    report_results,
    write_results,
)
from growth_warehouse import GrowthWarehouse
from harness import (
    BENCH_API_KEY,
    PROJECT_ROOT,
    Sandbox,
    machine_description,
    sandbox_process,
    write_json,
)
from messages import tap_config
from results import Report

RESULTS_JSON = PROJECT_ROOT / "docs" / "benchmarks-growth.json"
DESTINATIONS = ("duckdb", "ducklake")
WEEK = 168


def maintenance_available() -> bool:
    """Whether `equipme-sync maintain` exists in this checkout."""
    from tap_equipme.pipeline.cli import COMMANDS

    return "maintain" in COMMANDS


def rename(base_url: str, ids: list[int], run: int) -> None:
    """Rename customers through the API, as a user editing them would."""
    with requests.Session() as session:
        session.headers["X-API-KEY"] = BENCH_API_KEY
        for customer_id in ids:
            session.patch(
                f"{base_url}/v1/sales/customers/{customer_id}",
                json=[{"op": "replace", "path": "/name", "value": f"Renamed {customer_id}/{run}"}],
                headers={"Content-Type": "application/json-patch+json"},
                timeout=30,
            ).raise_for_status()


def renamed_ids(customers: int, run: int) -> list[int]:
    """A different 1% of the customers each run (every customer once in 100 runs)."""
    changed = max(1, customers // 100)
    step = customers // changed
    first = 1 + (run - 2) % step
    return [first + i * step for i in range(changed) if first + i * step <= customers]


def measure_run(
    warehouse: GrowthWarehouse, config: Path, run: int, ids: list[int], workdir: Path
) -> Point:
    """One sync of one warehouse and what it left behind."""
    edited = warehouse.storage()
    if run > 1:
        warehouse.last_run_an_hour_ago()
    before = warehouse.storage()
    simulated = {p: size for p, size in before.files.items() if p not in edited.files}
    seconds, io_bytes = warehouse.sync(config)
    after = warehouse.storage()
    added = {path: size for path, size in after.files.items() if path not in before.files}
    if warehouse.data_path is None:  # one file: its size change is what the run added
        written, files_written = max(0, after.data_bytes - before.data_bytes), 0
    else:
        written, files_written = sum(added.values()), len(added)
    scratch = workdir / f"growth-scratch-{warehouse.destination}.parquet"
    return Point(
        run=run,
        seconds=seconds,
        bytes_written=written,
        files_written=files_written,
        data_files=len(after.files),
        warehouse_bytes=after.total_bytes,
        catalog_bytes=after.catalog_bytes,
        changed_rows=len(ids),
        changed_parquet_bytes=warehouse.changed_rows_bytes(ids, scratch) if ids else 0,
        view_seconds=warehouse.report_view_seconds(),
        live_files=warehouse.live_files(),
        load_average=os.getloadavg()[0],
        simulation_files=len(simulated),
        simulation_bytes=sum(simulated.values()),
        io_bytes_written=io_bytes,
    )


def run_growth(
    workdir: Path,
    sandbox: Sandbox,
    customers: int,
    runs: int,
    destinations: list[str],
    maintain_every: int = WEEK,
    on_progress: Any = None,
    max_seconds: float | None = None,
    retention_hours: int = WEEK,
) -> list[Curve]:
    """The simulated hours (see the module docstring); `on_progress(curves)` after each run.

    With `max_seconds`, no run starts once that much time has passed (the curves then end
    early; the report says so).
    """
    started = time.perf_counter()
    sandbox.reset(customers)
    config = write_json(workdir / "growth-tap.json", tap_config(sandbox.base_url))
    warehouses = [GrowthWarehouse(d, workdir) for d in destinations]
    curves = [Curve(d) for d in destinations]
    can_maintain = maintenance_available()
    scratch = workdir / "growth-history.parquet"
    clock = SimulatedClock(retention_hours)
    for run in range(1, runs + 1):
        clock.run_starts(run)
        ids = renamed_ids(customers, run) if run > 1 else []
        if ids:
            rename(sandbox.base_url, ids, run)
        for warehouse, curve in zip(warehouses, curves, strict=True):
            point = measure_run(warehouse, config, run, ids, workdir)
            if run == 1:
                curve.history_bytes_first = warehouse.history_bytes(scratch)
            if maintain_every and run % maintain_every == 0:
                point.maintenance = _maintain(warehouse, curve, run, can_maintain, clock)
            curve.points.append(point)
        print(
            f"[growth] run {run}/{runs}: "
            + "; ".join(
                f"{c.destination} {c.points[-1].seconds:.1f} s, "
                f"+{c.points[-1].bytes_written / 1024:.0f} KiB, {c.points[-1].data_files} files"
                for c in curves
            ),
            file=sys.stderr,
            flush=True,
        )
        out_of_time = max_seconds is not None and time.perf_counter() - started > max_seconds
        if run == runs or out_of_time:
            for warehouse, curve in zip(warehouses, curves, strict=True):
                curve.history_bytes_last = warehouse.history_bytes(scratch)
        if on_progress is not None:
            on_progress(curves)
        if out_of_time:
            break
    return curves


class SimulatedClock:
    """The benchmark's hours on the wall clock: run R starts simulated hour R - 1.

    Maintenance takes durations (`--retention`, `--grace`) and compares them with the
    snapshots' and scheduled files' real timestamps. A week of hourly runs here passes in
    minutes, so a literal `7d` would expire nothing and a literal `1h` grace would keep every
    file a merge freed. The durations passed are instead the real seconds since the run that
    started that many simulated hours ago: what a user's `--retention 7d --grace 1h` does in
    real time, applied to the compressed hours.
    """

    def __init__(self, retention_hours: int, grace_hours: int = 1) -> None:
        self.retention_hours = retention_hours
        self.grace_hours = grace_hours
        self.starts: dict[int, float] = {}

    def run_starts(self, run: int) -> None:
        self.starts[run] = time.time()

    def since_hours_ago(self, run: int, hours: int, fallback: str) -> str:
        """The real duration since simulated hour (run - hours) began; `fallback` if earlier."""
        then = self.starts.get(run - hours)
        return fallback if then is None else f"{max(0, int(time.time() - then))}s"

    def retention(self, run: int) -> str:
        return self.since_hours_ago(run, self.retention_hours, f"{self.retention_hours}h")

    def grace(self, run: int) -> str:
        return self.since_hours_ago(run, self.grace_hours, f"{self.grace_hours}h")


def _maintain(
    warehouse: GrowthWarehouse, curve: Curve, run: int, available: bool, clock: SimulatedClock
) -> str:
    if not available:
        return "not available"
    retention, grace = clock.retention(run), clock.grace(run)
    seconds, summary = warehouse.maintain(retention, grace)
    storage = warehouse.storage()
    curve.maintenance.append(
        {
            "after_run": run,
            "seconds": seconds,
            "retention": retention,
            "grace": grace,
            "data_files_after": len(storage.files),
            "warehouse_bytes_after": storage.total_bytes,
            "summary": summary,
        }
    )
    return f"applied in {seconds:.1f} s"


def run(
    report: Report,
    workdir: Path,
    sandbox: Sandbox,
    customers: int,
    runs: int,
    destinations: list[str] | tuple[str, ...] = DESTINATIONS,
    maintain_every: int = WEEK,
    json_out: Path | None = None,
    max_seconds: float | None = None,
    retention_hours: int = WEEK,
) -> list[Curve]:
    """Benchmark 8 (see the module docstring); writes the curves to `json_out` as they grow."""
    settings = {
        "customers": customers,
        "runs": runs,
        "destinations": list(destinations),
        "maintain_every": maintain_every,
        "retention_hours": retention_hours,
        "maintenance_available": maintenance_available(),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    curves = run_growth(
        workdir,
        sandbox,
        customers,
        runs,
        list(destinations),
        maintain_every,
        lambda now: write_results(json_out, report.machine, settings, now, []),
        max_seconds,
        retention_hours,
    )
    done = curves[0].points[-1].run if curves and curves[0].points else 0
    settings["runs_done"] = done
    if done < runs:
        report.notes.append(
            f"benchmark 8: stopped after run {done} of {runs}: the time budget of "
            f"{max_seconds:.0f} s ran out"
        )
    report_results(report, curves, customers, maintain_every, settings["maintenance_available"])
    settings["load_average_mean"] = round(
        statistics.mean(p.load_average for c in curves for p in c.points), 2
    )
    write_results(json_out, report.machine, settings, curves, report.goals)
    return curves


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=200, help="simulated hourly runs")
    parser.add_argument("--destinations", nargs="+", choices=DESTINATIONS, default=DESTINATIONS)
    parser.add_argument("--maintain-every", type=int, default=WEEK, help="runs; 0: never")
    parser.add_argument(
        "--retention-hours",
        type=int,
        default=WEEK,
        help="maintenance --retention in simulated hours (default 168: the product's 7d)",
    )
    parser.add_argument("--json", type=Path, default=RESULTS_JSON, help="the curves (charts)")
    parser.add_argument(
        "--max-seconds", type=float, help="start no run after this long (the curves end early)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="build the warehouses in DIR (a new directory) and keep them, to inspect",
    )
    parser.add_argument(
        "--history",
        type=Path,
        help="also append the report to this JSON history (docs/benchmarks.json, as run_all)",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="run nothing: judge the curves saved in FILE (e.g. of a run stopped early)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.from_json:
        document, curves = load_document(args.from_json)
        report = report_from_document(document, curves)
        document["goals"] = [g for g in report.as_dict()["goals"] if g["benchmark"] == BENCH]
        args.from_json.write_text(json.dumps(document, indent=1) + "\n")
    else:
        if args.runs < 2 or args.customers < 100:
            parser.error("benchmark 8 needs --runs >= 2 and --customers >= 100")
        report = Report(machine=machine_description(), size="growth")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=False)
        with (
            tempfile.TemporaryDirectory(prefix="equipme-growth-") as scratch,
            sandbox_process(customers=0) as sandbox,
        ):
            run(
                report,
                args.keep or Path(scratch),
                sandbox,
                args.customers,
                args.runs,
                args.destinations,
                args.maintain_every,
                args.json,
                args.max_seconds,
                args.retention_hours,
            )
        report.notes.append(f"whole run: {time.perf_counter() - started:.0f} s")
    print(report.markdown())
    for goal in report.goals:
        print(f"{'PASS' if goal.met else 'FAIL'} {goal.description}: {goal.ratio:.2f}x")
    if args.history:
        history = json.loads(args.history.read_text()) if args.history.exists() else {"runs": []}
        history["runs"].append(report.as_dict())
        args.history.write_text(json.dumps(history, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
