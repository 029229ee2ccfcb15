"""The docs site builds with `mkdocs build --strict`, and its settings page carries every
setting both plugins declare in `--about` (generated at build time, never copied by hand)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLUGINS = ("tap-equipme", "target-duckdb-lake")


def about_settings(plugin: str) -> dict[str, dict]:
    proc = subprocess.run(
        [str(BIN / plugin), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(proc.stdout)["settings"]["properties"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built strictly into a temp dir (about 5-10 s: material theme, two --about runs)."""
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_setting_in_about_is_on_the_settings_page(site, plugin):
    page = (site / "settings" / "index.html").read_text(encoding="utf-8")
    settings = about_settings(plugin)
    assert settings, "no settings in --about"
    missing = [name for name in settings if f'id="{plugin}-{name}"' not in page]
    assert missing == []
    # The description shown is the plugin's own, not a copy that could drift.
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())
    for name, spec in settings.items():
        description = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", str(spec.get("description") or ""))
        words = " ".join(description.replace("`", "").split())[:40]
        assert words in text, (plugin, name)


def test_the_performance_page_has_a_chart_per_benchmark_from_the_json(site):
    results = json.loads((PROJECT_ROOT / "docs" / "benchmarks.json").read_text())
    benchmarks = {row["benchmark"] for run in results["runs"] for row in run["rows"]}
    page = (site / "performance" / "index.html").read_text(encoding="utf-8")
    titles = set(re.findall(r"<title>([^<]+): records per second</title>", page))
    assert {html.unescape(t) for t in titles} == benchmarks


def test_the_readme_stays_a_front_door():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    # Every docs page the README links to exists.
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (PROJECT_ROOT / target).is_file(), target
