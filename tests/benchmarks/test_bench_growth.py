"""Benchmark 8 (growth) measures what it claims: tiny sizes, real syncs, real warehouses.

Timings are noisy, so the end-to-end test checks the harness (every run measured on both
destinations, the files it counts are the files on disk, maintenance found or reported
missing), not the goals; the goal arithmetic and the charts are checked on known numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

import bench_growth  # noqa: E402
import chart_growth  # noqa: E402
import growth_report  # noqa: E402
from results import Report  # noqa: E402


def test_each_run_renames_a_different_one_percent() -> None:
    runs = [bench_growth.renamed_ids(2_000, run) for run in range(2, 102)]
    assert all(len(ids) == 20 for ids in runs)
    assert all(1 <= i <= 2_000 for ids in runs for i in ids)
    # A hundred runs rename every customer exactly once, then it starts over.
    assert sorted(i for ids in runs for i in ids) == list(range(1, 2_001))
    assert bench_growth.renamed_ids(2_000, 102) == runs[0]


def _point(run: int, **fields: float) -> growth_report.Point:
    values: dict[str, float] = {
        "seconds": 10.0,
        "bytes_written": 100 * 1024,
        "files_written": 2,
        "data_files": 10,
        "warehouse_bytes": 4 * 2**20,
        "catalog_bytes": 0,
        "changed_rows": 20,
        "changed_parquet_bytes": 12 * 1024,
        "view_seconds": 0.05,
    }
    values.update(fields)
    return growth_report.Point(run=run, **values)  # type: ignore[arg-type]


def test_goals_are_the_issues_ratios_of_first_second_and_last_run() -> None:
    curve = growth_report.Curve("ducklake", history_bytes_first=1 * 2**20)
    curve.history_bytes_last = 3 * 2**20  # the history really grew by 2 MiB
    curve.points = [
        _point(1, bytes_written=4 * 2**20, data_files=8, warehouse_bytes=4 * 2**20),
        _point(2, seconds=10.0, view_seconds=0.050),
        _point(3, bytes_written=200 * 1024, seconds=12.0, view_seconds=0.055),
        _point(4, data_files=20, warehouse_bytes=10 * 2**20, seconds=11.5, view_seconds=0.070),
    ]
    report = Report(machine="test", size="growth")
    growth_report.report_results(report, [curve], 2_000, maintain_every=168)
    ratios = {goal.description.split(": ", 1)[1]: goal for goal in report.goals}
    assert len(ratios) == 5
    bytes_goal = next(g for d, g in ratios.items() if d.startswith("mean bytes written"))
    # Mean of runs 2-4 = (100 + 200 + 100) / 3 KiB against 3 x 12 KiB + 64 KiB = 100 KiB.
    assert bytes_goal.ratio == pytest.approx((400 / 3) / 100)
    assert not bytes_goal.met
    assert ratios["data files after run 4 / after run 1"].ratio == pytest.approx(20 / 8)
    size = ratios["(warehouse size after run 4 - history growth) / after run 1"]
    assert size.ratio == pytest.approx((10 - 2) / 4)
    assert not size.met
    assert ratios["run 4 wall time / run 2's"].ratio == pytest.approx(1.15)
    view = ratios["report view query time at run 4 / at run 2"]
    assert view.ratio == pytest.approx(1.4)
    assert not view.met
    assert [row.subject for row in report.rows] == [
        "ducklake: first run, 2,000 customers",
        "ducklake: hourly runs 2-4, 20 renamed per run",
    ]


def test_bytes_written_are_judged_on_what_the_sync_wrote_when_measured() -> None:
    curve = growth_report.Curve("duckdb")
    # The file did not grow (bytes_written 0), but the sync wrote 300 KiB (a checkpoint).
    curve.points = [
        _point(1),
        *(_point(r, bytes_written=0, io_bytes_written=300 * 1024) for r in (2, 3)),
    ]
    report = Report(machine="test", size="growth")
    growth_report.report_results(report, [curve], 2_000, maintain_every=168)
    bytes_goal = next(g for g in report.goals if "mean bytes written" in g.description)
    assert bytes_goal.ratio == pytest.approx(300 / 100)  # allowed: 3 x 12 + 64 KiB
    assert "added to storage: mean 0 KiB" in bytes_goal.note


def test_maintenance_durations_follow_the_simulated_hours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(bench_growth.time, "time", lambda: now[0])
    clock = bench_growth.SimulatedClock(retention_hours=3)
    for run in range(1, 6):  # a run every 10 real seconds
        clock.run_starts(run)
        now[0] += 10
    # After run 5: a 3-hour retention reaches back to run 2's start (40 s ago), a 1-hour
    # grace to run 4's (20 s ago).
    assert clock.retention(5) == "40s"
    assert clock.grace(5) == "20s"
    # Before 3 simulated hours have passed, the retention is the user's own duration.
    assert clock.retention(2) == "3h"


def test_charts_draw_one_line_per_destination_and_mark_maintenance() -> None:
    document = {
        "machine": "test",
        "settings": {"customers": 2_000},
        "curves": [
            {"destination": "duckdb", "points": [vars(_point(r)) for r in (1, 2, 3)]},
            {
                "destination": "ducklake",
                "points": [vars(_point(r, data_files=8 * r)) for r in (1, 2, 3)],
                "maintenance": [{"after_run": 2}],
            },
        ],
    }
    for key in chart_growth.CHARTS:
        svg = chart_growth.line_chart(document, key)
        assert svg.count("<polyline") == 2, key
        assert svg.count('stroke-dasharray="4 3"') == 1, key
    files = chart_growth.line_chart(document, "files")
    assert "last 24 files" in files  # the lake's last point, as drawn


@pytest.mark.slow
def test_tiny_growth_run_measures_both_destinations_run_by_run(tmp_path: Path) -> None:
    out = tmp_path / "growth.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "bench_growth.py"),
            "--customers",
            "200",
            "--runs",
            "2",
            "--maintain-every",
            "2",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        # 220 s on the shared 2 cores at a load average of 20-30 (two syncs per destination,
        # each a separate tap + loader); far less on a quiet machine.
        timeout=480,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    document = json.loads(out.read_text())
    assert [c["destination"] for c in document["curves"]] == ["duckdb", "ducklake"]
    for curve in document["curves"]:
        lake_curve = curve["destination"] == "ducklake"
        first, second = curve["points"]
        assert [first["run"], second["run"]] == [1, 2]
        assert first["bytes_written"] > 0  # the first load wrote the whole table
        assert second["changed_rows"] == 2
        assert second["changed_parquet_bytes"] > 0
        # The kernel's count of what the sync wrote: at least the data the lake added.
        assert second["io_bytes_written"] >= (second["bytes_written"] if lake_curve else 1)
        assert all(p["seconds"] > 0 and p["view_seconds"] > 0 for p in curve["points"])
        assert second["warehouse_bytes"] >= first["data_files"] > 0
        if document["settings"]["maintenance_available"]:
            assert second["maintenance"].startswith("applied"), second
        else:
            assert second["maintenance"] == "not available"
    lake = document["curves"][1]
    # The lake's files: what the catalog lists is what lies under the data path (nothing
    # was expired yet), and the run's new files are counted among them.
    first, second = lake["points"]
    assert first["live_files"] == first["data_files"]
    assert second["files_written"] > 0
    if not document["settings"]["maintenance_available"]:  # maintenance may remove files
        added = second["simulation_files"] + second["files_written"]
        assert second["data_files"] == first["data_files"] + added
    assert len(document["goals"]) == 10
    assert completed.stdout.count("PASS ") + completed.stdout.count("FAIL ") == 10
    if not document["settings"]["maintenance_available"]:
        assert "maintenance: not available" in completed.stdout


def test_saved_curves_are_judged_alike_when_read_back(tmp_path: Path) -> None:
    curve = growth_report.Curve("duckdb", history_bytes_first=0, history_bytes_last=0)
    curve.points = [_point(1, data_files=1), _point(2, data_files=1), _point(3, data_files=1)]
    settings = {
        "customers": 2_000,
        "runs": 5,
        "maintain_every": 168,
        "started": "2026-12-07 23:00 UTC",
    }
    out = tmp_path / "growth.json"
    growth_report.write_results(out, "test", settings, [curve], [])
    document, curves = growth_report.load_document(out)
    report = growth_report.report_from_document(document, curves)
    direct = Report(machine="test", size="growth")
    growth_report.report_results(direct, [curve], 2_000, 168)
    assert [(g.description, g.ratio) for g in report.goals] == [
        (g.description, g.ratio) for g in direct.goals
    ]
    # Three runs of five: the report says the curves stop early.
    assert any("end at run 3 of 5" in note for note in report.notes)
    assert report.started.hour == 23
