"""Draw benchmark 8's curves (SVG line charts, no plotting library) from its JSON results.

Usage: ``.venv/bin/python benchmarks/chart_growth.py [docs/benchmarks-growth.json]
[docs/img]``. One chart per curve, x = the simulated hourly run, one line per destination:
warehouse size, files on storage, bytes written by the run, sync wall time, and the report
view's query time. A dashed vertical line marks each run after which maintenance ran.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 300, 70, 120, 44, 40
COLOURS = {"duckdb": "#3f51b5", "ducklake": "#c62828"}

Getter = Callable[[dict[str, Any]], float]
CHARTS: dict[str, tuple[str, str, Getter]] = {
    "size": ("Warehouse size after each run", "MiB", lambda p: p["warehouse_bytes"] / 2**20),
    "files": ("Files on storage after each run", "files", lambda p: float(p["data_files"])),
    "written": (
        "Bytes each hourly sync wrote (kernel count; older runs: what it added)",
        "KiB",
        lambda p: (p.get("io_bytes_written") or p["bytes_written"]) / 1024,
    ),
    "time": ("Sync wall time of each hourly run", "s", lambda p: float(p["seconds"])),
    "view": (
        "customers_report: whole-view read after each run, best of 3",
        "ms",
        lambda p: p["view_seconds"] * 1000,
    ),
}
HOURLY_ONLY = {"written", "time"}
"""Curves drawn from run 2 on: the first run (a whole first load) would flatten them."""


def _ticks(top: float) -> list[float]:
    """About five round tick values from 0 to `top`."""
    if top <= 0:
        return [0.0]
    raw = top / 5
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    while raw < magnitude and magnitude > 1e-6:
        magnitude /= 10
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(int(top / step) + 2)]


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.1f}"


def line_chart(document: dict[str, Any], key: str) -> str:
    """The SVG text of one curve of a benchmark-8 results document.

    Args:
        document: The JSON `bench_growth.py` writes.
        key: One of `CHARTS`.

    Returns:
        The SVG markup.
    """
    title, unit, value = CHARTS[key]
    first_run = 2 if key in HOURLY_ONLY else 1
    curves = [
        {**c, "points": [p for p in c["points"] if p["run"] >= first_run]}
        for c in document.get("curves") or []
    ]
    curves = [c for c in curves if c["points"]]
    last_run = max([first_run + 1, *(c["points"][-1]["run"] for c in curves)])
    top = max([1e-9, *(value(p) for c in curves for p in c["points"])])
    ticks = _ticks(top)
    y_max = ticks[-1] if ticks[-1] > 0 else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(run: float) -> float:
        return LEFT + plot_w * (run - first_run) / (last_run - first_run)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    settings = document.get("settings") or {}
    subtitle = (
        f"{settings.get('customers', 0):,} customers, 1% renamed per run, "
        f"{last_run} runs; {str(document.get('machine', '')).split(', Linux')[0]}; mean load "
        f"average {settings.get('load_average_mean', '?')}"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" style="max-width:100%;height:auto" '
        'font-family="sans-serif" font-size="12">',
        f"<title>Benchmark 8: {escape(title)}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="18" font-size="14" font-weight="bold">Benchmark 8: {escape(title)}'
        "</text>",
        f'<text x="10" y="34" fill="#555" font-size="10">{escape(subtitle[:130])}</text>',
    ]
    for tick in ticks:
        label = f"{tick:,.0f}" if y_max >= 10 else f"{tick:,.2g}"
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#e0e0e0"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{label}</text>'
        )
    parts.append(
        f'<text x="14" y="{TOP + plot_h / 2:.0f}" transform="rotate(-90 14 {TOP + plot_h / 2:.0f})"'
        f' text-anchor="middle">{escape(unit)}</text>'
    )
    for run in _ticks(float(last_run)):
        if first_run <= run <= last_run and run == int(run):
            parts.append(
                f'<text x="{x(run):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                f"{run:.0f}</text>"
            )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle">'
        "simulated hourly run</text>"
    )
    for index, curve in enumerate(curves):
        colour = COLOURS.get(curve["destination"], "#2e7d32")
        points = " ".join(f"{x(p['run']):.1f},{y(value(p)):.1f}" for p in curve["points"])
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.8"/>'
        )
        for done in curve.get("maintenance") or []:
            run = done["after_run"]
            parts.append(
                f'<line x1="{x(run):.1f}" x2="{x(run):.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
                f'stroke="{colour}" stroke-dasharray="4 3"/>'
            )
        last = curve["points"][-1]
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 10}" y="{TOP + index * 34}" width="12" height="12" '
            f'fill="{colour}"/>'
            f'<text x="{WIDTH - RIGHT + 26}" y="{TOP + 10 + index * 34}">'
            f"{escape(curve['destination'])}</text>"
            f'<text x="{WIDTH - RIGHT + 26}" y="{TOP + 24 + index * 34}" fill="#555">'
            f"last {_number(value(last))} {escape(unit)}</text>"
        )
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#9e9e9e"/></svg>'
    )
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else PROJECT_ROOT / "docs" / "benchmarks-growth.json"
    target = Path(argv[1]) if len(argv) > 1 else PROJECT_ROOT / "docs" / "img"
    target.mkdir(parents=True, exist_ok=True)
    document = json.loads(source.read_text())
    for key in CHARTS:
        out = target / f"bench-growth-{key}.svg"
        out.write_text(line_chart(document, key))
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
