"""Benchmark 8's results: the curves, the five goals per destination, the JSON document.

`bench_growth.py` measures; this module turns the curves into rows and goals (the same
`Report` every benchmark fills) and into the JSON the charts are drawn from, and reads a
saved document back (`bench_growth.py --from-json`), so an interrupted run can still be
judged on the runs it finished.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from results import Goal, Report, Row

BENCH = "8 growth"
SLACK_BYTES = 64 * 1024


@dataclass
class Point:
    """One run of one destination."""

    run: int
    seconds: float
    bytes_written: int
    files_written: int
    data_files: int
    warehouse_bytes: int
    catalog_bytes: int
    changed_rows: int
    changed_parquet_bytes: int
    view_seconds: float
    live_files: int | None = None
    maintenance: str | None = None
    load_average: float = 0.0
    simulation_files: int = 0
    """Files the benchmark's own state edit added before the sync (DuckLake: an UPDATE)."""
    simulation_bytes: int = 0
    io_bytes_written: int = 0
    """Bytes the sync's processes wrote to storage (kernel block count); `bytes_written` is
    what it added to storage (DuckDB: the file's growth; DuckLake: Parquet files added)."""


@dataclass
class Curve:
    """Every run of one destination, and the history's size at run 1 and at the last run."""

    destination: str
    points: list[Point] = field(default_factory=list)
    history_bytes_first: int = 0
    history_bytes_last: int = 0
    maintenance: list[dict[str, Any]] = field(default_factory=list)


def report_results(
    report: Report,
    curves: list[Curve],
    customers: int,
    maintain_every: int,
    maintenance_available: bool = False,
) -> None:
    """Rows and the five goals per destination."""
    for curve in curves:
        points = curve.points
        if len(points) < 2:
            report.notes.append(f"benchmark 8 ({curve.destination}): fewer than 2 runs")
            continue
        first, second, last = points[0], points[1], points[-1]
        hourly = points[1:]
        name = curve.destination
        # Judged on what the sync wrote (kernel count); runs saved before it existed: added.
        written = [p.io_bytes_written or p.bytes_written for p in hourly]
        added = [p.bytes_written for p in hourly]
        changed = statistics.mean(p.changed_parquet_bytes for p in hourly)
        allowed = 3 * changed + SLACK_BYTES
        report.rows.append(
            Row(
                BENCH,
                f"{name}: first run, {customers:,} customers",
                customers,
                first.seconds,
                None,
                f"wrote {_kib(first.bytes_written)}; {first.data_files} files; warehouse "
                f"{_mib(first.warehouse_bytes)}",
            )
        )
        report.rows.append(
            Row(
                BENCH,
                f"{name}: hourly runs 2-{last.run}, {hourly[0].changed_rows:,} renamed per run",
                customers,
                statistics.mean(p.seconds for p in hourly),
                None,
                f"mean s per run; wrote mean {_kib(statistics.mean(written))}, max "
                f"{_kib(max(written))} per run (added to storage: mean "
                f"{_kib(statistics.mean(added))}); after run {last.run}: {last.data_files} "
                f"files, warehouse {_mib(last.warehouse_bytes)}",
            )
        )
        growth = curve.history_bytes_last - curve.history_bytes_first
        goals = [
            (
                "mean bytes written per hourly run / (3x changed rows' Parquet + 64 KB)",
                statistics.mean(written) / allowed,
                1.0,
                f"mean {_kib(statistics.mean(written))}, max {_kib(max(written))} written "
                f"(added to storage: mean {_kib(statistics.mean(added))}); changed rows "
                f"{_kib(changed)}, allowed {_kib(allowed)}",
            ),
            (
                f"data files after run {last.run} / after run 1",
                last.data_files / max(1, first.data_files),
                2.0,
                f"{last.data_files} vs {first.data_files} on storage"
                + (
                    f" (the current snapshot reads {last.live_files} of them)"
                    if last.live_files is not None
                    else ""
                )
                + f"; the benchmark's own state edits added "
                f"{sum(p.simulation_files for p in points)} files",
            ),
            (
                f"(warehouse size after run {last.run} - history growth) / after run 1",
                (last.warehouse_bytes - growth) / max(1, first.warehouse_bytes),
                1.5,
                f"{_mib(last.warehouse_bytes)} - {_mib(growth)} history vs "
                f"{_mib(first.warehouse_bytes)}",
            ),
            (
                f"run {last.run} wall time / run 2's",
                last.seconds / second.seconds,
                1.1,
                f"{last.seconds:.1f} s vs {second.seconds:.1f} s; median of the last 5 / of "
                f"runs 2-6: {_median_ratio([p.seconds for p in hourly]):.2f}",
            ),
            (
                f"report view query time at run {last.run} / at run 2",
                last.view_seconds / second.view_seconds,
                1.2,
                f"{last.view_seconds * 1000:.0f} ms vs {second.view_seconds * 1000:.0f} ms; "
                f"median of the last 5 / of runs 2-6: "
                f"{_median_ratio([p.view_seconds for p in hourly]):.2f}",
            ),
        ]
        for description, ratio, limit, note in goals:
            report.goals.append(
                Goal(BENCH, f"{name}: {description}", ratio, limit, False, note=note)
            )
    if maintain_every and curves and curves[0].points:
        runs = curves[0].points[-1].run
        if not maintenance_available:
            report.notes.append(
                "benchmark 8: maintenance: not available (no equipme-sync maintain)"
            )
        elif runs < maintain_every:
            report.notes.append(
                f"benchmark 8: maintenance every {maintain_every} runs: none in {runs} runs"
            )


def _median_ratio(values: list[float]) -> float:
    head, tail = values[:5], values[-5:]
    return statistics.median(tail) / statistics.median(head) if head else 0.0


def _kib(value: float) -> str:
    return f"{value / 1024:,.0f} KiB"


def _mib(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB"


def write_results(
    json_out: Path | None,
    machine: str,
    settings: dict[str, Any],
    curves: list[Curve],
    goals: list[Goal],
) -> None:
    """The curves and goals as JSON (the charts are drawn from it)."""
    if json_out is None:
        return
    document = {
        "machine": machine,
        "settings": settings,
        "curves": [asdict(c) for c in curves],
        "goals": [asdict(g) | {"met": g.met} for g in goals if g.benchmark == BENCH],
    }
    json_out.write_text(json.dumps(document, indent=1) + "\n")


def load_document(path: Path) -> tuple[dict[str, Any], list[Curve]]:
    """A saved results document and its curves.

    Args:
        path: The JSON `write_results` wrote.

    Returns:
        The document and its curves.
    """
    document = json.loads(path.read_text())
    names = {f.name for f in fields(Point)}
    curves = []
    for saved in document.get("curves") or []:
        curve = Curve(
            saved["destination"],
            history_bytes_first=int(saved.get("history_bytes_first", 0)),
            history_bytes_last=int(saved.get("history_bytes_last", 0)),
            maintenance=list(saved.get("maintenance") or []),
        )
        curve.points = [
            Point(**{k: v for k, v in p.items() if k in names}) for p in saved["points"]
        ]
        curves.append(curve)
    return document, curves


def report_from_document(document: dict[str, Any], curves: list[Curve]) -> Report:
    """Rows and goals of a saved document (see `load_document`)."""
    settings = document.get("settings") or {}
    report = Report(machine=str(document.get("machine", "")), size="growth")
    try:
        report.started = datetime.strptime(str(settings.get("started")), "%Y-%m-%d %H:%M UTC")
        report.started = report.started.replace(tzinfo=timezone.utc)
    except ValueError:
        pass
    done = curves[0].points[-1].run if curves and curves[0].points else 0
    if done < int(settings.get("runs", done)):
        report.notes.append(
            f"benchmark 8: the curves end at run {done} of {settings.get('runs')} (stopped early)"
        )
    report_results(
        report,
        curves,
        int(settings.get("customers", 0)),
        int(settings.get("maintain_every", 0)),
        bool(settings.get("maintenance_available")),
    )
    return report
