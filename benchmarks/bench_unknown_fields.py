"""Benchmark 1b, extraction when the API grew: the tap on a strict API vs one with new fields.

Every customer carries three fields the spec lacks (top level, a new object, one inside
``companyAddress``): the tap widens its schema once, then every record takes the per-record
check again. Strict and grown runs alternate against the same sandbox; best of ``repeats``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from harness import Sandbox, bin_path, run_measured, write_json
from messages import select_streams, tap_config
from results import Goal, Report, Row

GROWN = {
    "segment": "enterprise",
    "billingAddress": {"city": "Bern", "countryCode": "CH"},
    "companyAddress.latitude": 46.95,
}


def _extra_fields(sandbox: Sandbox, customer: dict[str, Any]) -> None:
    response = requests.post(
        f"{sandbox.base_url}/_sandbox/extra_fields", json={"customer": customer}, timeout=30
    )
    response.raise_for_status()


def run(
    report: Report,
    workdir: Path,
    sandbox: Sandbox,
    catalog: dict[str, Any],
    customers: int,
    repeats: int = 2,
) -> None:
    bench = "1b extraction, API grew"
    config = write_json(workdir / "grown-config.json", tap_config(sandbox.base_url))
    selected = write_json(workdir / "grown-catalog.json", select_streams(catalog, {"customers"}))
    command = [bin_path("tap-equipme"), "--config", str(config), "--catalog", str(selected)]
    strict_runs, grown_runs = [], []
    try:
        for _ in range(repeats):
            _extra_fields(sandbox, {})
            strict_runs.append(run_measured(command))
            _extra_fields(sandbox, GROWN)
            grown_runs.append(run_measured(command))
    finally:
        _extra_fields(sandbox, {})
    strict = min(strict_runs, key=lambda measured: measured.seconds)
    grown = min(grown_runs, key=lambda measured: measured.seconds)
    best_of = f"best of {repeats}"
    report.rows.append(
        Row(bench, "tap-equipme, strict API", customers, strict.seconds, None, best_of)
    )
    report.rows.append(
        Row(bench, "tap-equipme, 3 new fields", customers, grown.seconds, None, best_of)
    )
    report.goals.append(
        Goal(
            bench,
            "tap-equipme with new fields vs strict API, records/s",
            strict.seconds / grown.seconds,
            0.8,
            True,
        )
    )
