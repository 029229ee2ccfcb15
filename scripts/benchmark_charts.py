"""SVG charts of the benchmark results, drawn from docs/benchmarks.json (no plotting library).

`benchmarks/run_all.py` appends each run's report to docs/benchmarks.json; the docs build
(`scripts/mkdocs_hooks.py`) puts these charts into docs/performance.md, so no figure there is
typed by hand. For each benchmark the latest run that measured it is drawn.

    python scripts/benchmark_charts.py --from-markdown docs/benchmarks.md   # rebuild the JSON
                                                                             # from the tables
"""

from __future__ import annotations

import argparse
import json
import re
from html import escape
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "docs" / "benchmarks.json"

BAR_H, GAP, LABEL_W, BAR_W, VALUE_W = 18, 6, 430, 300, 190
MET, UNMET, PLAIN, GOAL_LINE = "#2e7d32", "#c62828", "#3f51b5", "#212121"


def load(path: Path = RESULTS) -> list[dict[str, Any]]:
    """Read the runs, oldest first.

    Args:
        path: The JSON history.

    Returns:
        The runs.
    """
    return list(json.loads(path.read_text(encoding="utf-8"))["runs"])


def latest_by_benchmark(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each benchmark, its rows and goals from the latest run that measured it.

    Args:
        runs: The runs, oldest first.

    Returns:
        benchmark name -> {"run": started, "machine", "rows", "goals"}.
    """
    latest: dict[str, dict[str, Any]] = {}
    for run in sorted(runs, key=lambda run: run["started"]):
        names = {r["benchmark"] for r in run["rows"]} | {g["benchmark"] for g in run["goals"]}
        for name in names:
            latest[name] = {
                "run": run["started"],
                "machine": run["machine"],
                "rows": [r for r in run["rows"] if r["benchmark"] == name],
                "goals": [g for g in run["goals"] if g["benchmark"] == name],
            }
    return dict(sorted(latest.items()))


def _svg(title: str, lines: list[str], height: int) -> str:
    width = LABEL_W + BAR_W + VALUE_W
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" style="max-width:100%;height:auto" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="12"><title>{escape(title)}</title>'
        f"{''.join(lines)}</svg>"
    )


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def bar_chart(title: str, items: list[tuple[str, float, str]], unit: str) -> str:
    """Horizontal bars, one per (label, value, colour), scaled to the largest value.

    Args:
        title: The chart's accessible title.
        items: (label, value, colour) per bar.
        unit: Appended to each value.

    Returns:
        The SVG markup.
    """
    top = max((value for _, value, _ in items), default=0.0) or 1.0
    lines = []
    for i, (text, value, colour) in enumerate(items):
        y = i * (BAR_H + GAP)
        length = max(1.0, BAR_W * value / top)
        lines.append(
            f'<text x="{LABEL_W - 6}" y="{y + 13}" text-anchor="end">{escape(text)}</text>'
            f'<rect x="{LABEL_W}" y="{y}" width="{length:.1f}" height="{BAR_H}" '
            f'fill="{colour}"/>'
            f'<text x="{LABEL_W + length + 4:.1f}" y="{y + 13}">{_number(value)} {unit}</text>'
        )
    return _svg(title, lines, len(items) * (BAR_H + GAP))


def goals_chart(title: str, goals: list[dict[str, Any]]) -> str:
    """Each goal's ratio as a bar against its goal (the black line), green if met.

    Bars are scaled per goal (ratio / goal), so goals of very different sizes share a chart.

    Args:
        title: The chart's accessible title.
        goals: The goals (ratio, limit, higher_is_better, met, description).

    Returns:
        The SVG markup.
    """
    scale = BAR_W / 2  # the goal sits in the middle: bars up to twice the goal fit
    lines = []
    for i, goal in enumerate(goals):
        y = i * (BAR_H + GAP)
        share = goal["ratio"] / goal["limit"] if goal["limit"] else 0.0
        length = max(1.0, min(2.0, share) * scale)
        colour = MET if goal["met"] else UNMET
        verdict = "met" if goal["met"] else "NOT met"
        text = goal["description"]
        if len(text) > 62:
            text = text[:60] + "..."
        lines.append(
            f'<text x="{LABEL_W - 6}" y="{y + 13}" text-anchor="end">{escape(text)}</text>'
            f'<rect x="{LABEL_W}" y="{y}" width="{length:.1f}" height="{BAR_H}" '
            f'fill="{colour}"/>'
            f'<text x="{LABEL_W + BAR_W + 4}" y="{y + 13}">{goal["ratio"]:.2f}x, goal '
            f"{escape(goal['goal'])}: {verdict}</text>"
        )
    height = len(goals) * (BAR_H + GAP)
    lines.append(
        f'<line x1="{LABEL_W + scale}" x2="{LABEL_W + scale}" y1="0" y2="{height}" '
        f'stroke="{GOAL_LINE}" stroke-width="2"/>'
    )
    return _svg(title, lines, height)


def charts(runs: list[dict[str, Any]]) -> str:
    """Markdown with one section per benchmark: its goals chart and its records/s chart.

    Args:
        runs: The runs, oldest first.

    Returns:
        Markdown with inline SVG.
    """
    parts = []
    for name, latest in latest_by_benchmark(runs).items():
        parts += [f"### {name}", "", f"Run {latest['run']}, {latest['machine']}.", ""]
        if latest["goals"]:
            parts += [goals_chart(f"{name}: goals", latest["goals"]), ""]
        rows = [r for r in latest["rows"] if r["seconds"] > 0]
        if rows:
            items = [(r["subject"], r["records_per_s"], PLAIN) for r in rows]
            parts += [bar_chart(f"{name}: records per second", items, "records/s"), ""]
    return "\n".join(parts)


_RUN = re.compile(r"^Run (\d{4}-\d\d-\d\d \d\d:\d\d) UTC, size `(\w+)`, on (.*)\.$")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def from_markdown(text: str) -> dict[str, Any]:
    """Rebuild the JSON history from the tables `Report.markdown()` wrote (older runs).

    Args:
        text: docs/benchmarks.md.

    Returns:
        {"runs": [...]} in file order.
    """
    runs: list[dict[str, Any]] = []
    for line in text.splitlines():
        if match := _RUN.match(line):
            started = match.group(1).replace(" ", "T") + ":00+00:00"
            runs.append(
                {"started": started, "size": match.group(2), "machine": match.group(3)}
                | {"goals": [], "rows": [], "notes": [], "source": "docs/benchmarks.md"}
            )
        elif runs and line.startswith("| ") and not line.startswith(("| goal", "| benchmark")):
            cells = _cells(line)
            if len(cells) == 4 and cells[1].endswith("x"):
                benchmark, _, description = cells[0].partition(": ")
                bound = cells[2].split()
                runs[-1]["goals"].append(
                    {
                        "benchmark": benchmark,
                        "description": description,
                        "ratio": float(cells[1].rstrip("x")),
                        "limit": float(bound[1]),
                        "higher_is_better": bound[0] == ">=",
                        "met": cells[3] == "yes",
                        "goal": cells[2],
                    }
                )
            elif len(cells) == 7:
                records, seconds = int(cells[2].replace(",", "")), float(cells[3])
                runs[-1]["rows"].append(
                    {
                        "benchmark": cells[0],
                        "subject": cells[1],
                        "records": records,
                        "seconds": seconds,
                        "peak_rss_mib": float(cells[5]) if cells[5] else None,
                        "extra": cells[6],
                        "records_per_s": records / seconds if seconds else 0.0,
                    }
                )
    return {"runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-markdown", type=Path, help="rebuild the JSON from this file")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.from_markdown:
        history = from_markdown(args.from_markdown.read_text(encoding="utf-8"))
        args.out.write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {len(history['runs'])} runs to {args.out}")
    else:
        print(charts(load(args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
