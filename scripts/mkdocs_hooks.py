"""mkdocs hooks: the generated parts of the docs site, made at build time (offline).

- `<!-- about:PLUGIN -->` becomes the plugin's settings table, from `PLUGIN --about
  --format=json` run from the same venv as mkdocs (scripts/plugin_about.py);
- `<!-- benchmark-charts -->` becomes SVG charts of docs/benchmarks.json
  (scripts/benchmark_charts.py).

So the settings page and the performance charts can never drift from the code and the
measured results: nothing in them is typed by hand.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchmark_charts
import plugin_about

ABOUT = re.compile(r"<!-- about:(?P<plugin>[\w-]+) -->")
CHARTS = "<!-- benchmark-charts -->"


@functools.cache
def _settings(plugin: str) -> str:
    return plugin_about.settings_markdown(plugin, plugin_about.about(plugin))


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any, **_: Any) -> str:
    """Replace the markers with generated Markdown."""
    markdown = ABOUT.sub(lambda match: _settings(match.group("plugin")), markdown)
    if CHARTS in markdown:
        markdown = markdown.replace(CHARTS, benchmark_charts.charts(benchmark_charts.load()))
    return markdown
