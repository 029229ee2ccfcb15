"""Draw benchmark 9's chart (an SVG, no plotting library) from its JSON results.

Usage: ``.venv/bin/python benchmarks/chart_scale.py [docs/benchmarks-scale.json]
[docs/img/bench-scale.svg]``. One horizontal bar per goal: the measured ratio, a line at the
goal's limit, green when met, red when not.
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WIDTH, BAR_H, GAP, LEFT, TOP = 760, 22, 14, 330, 56


def render(document: dict[str, Any]) -> str:
    """The SVG text for a benchmark-9 results document."""
    goals = document.get("goals") or []
    scale_max = max([2.0, *(g["ratio"] * 1.1 for g in goals), *(g["limit"] * 1.1 for g in goals)])
    plot_w = WIDTH - LEFT - 80
    height = TOP + len(goals) * (BAR_H + GAP) + 40

    def x(value: float) -> float:
        return LEFT + plot_w * value / scale_max

    sizes = ", ".join(f"{s['customers']:,}" for s in document.get("sizes") or [])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="20" font-size="15" font-weight="bold">Benchmark 9, scale: ratios '
        f"measured in one run (customers: {escape(sizes)})</text>",
        '<text x="10" y="38" fill="#555">bar = measured ratio; black line = goal (lower is '
        "better); green = met, red = not met</text>",
    ]
    for tick in range(int(scale_max) + 1):
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{TOP - 6}" x2="{x(tick):.1f}" y2="{height - 30}" '
            'stroke="#ddd"/>'
            f'<text x="{x(tick):.1f}" y="{height - 14}" text-anchor="middle">{tick}x</text>'
        )
    for index, goal in enumerate(goals):
        y = TOP + index * (BAR_H + GAP)
        colour = "#3a3" if goal["met"] else "#c33"
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + BAR_H * 0.7:.1f}" text-anchor="end">'
            f"{escape(goal['description'][:52])}</text>"
            f'<rect x="{LEFT}" y="{y}" width="{x(goal["ratio"]) - LEFT:.1f}" height="{BAR_H}" '
            f'fill="{colour}"/>'
            f'<line x1="{x(goal["limit"]):.1f}" y1="{y - 3}" x2="{x(goal["limit"]):.1f}" '
            f'y2="{y + BAR_H + 3}" stroke="black" stroke-width="2"/>'
            f'<text x="{x(max(goal["ratio"], goal["limit"])) + 6:.1f}" '
            f'y="{y + BAR_H * 0.7:.1f}">{goal["ratio"]:.2f} (goal {goal["limit"]:g})</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else PROJECT_ROOT / "docs" / "benchmarks-scale.json"
    target = Path(argv[1]) if len(argv) > 1 else PROJECT_ROOT / "docs" / "img" / "bench-scale.svg"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(json.loads(source.read_text())))
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
