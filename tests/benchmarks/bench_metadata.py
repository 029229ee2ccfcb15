"""Benchmark 2, metadata N+1: the metadata stream's wall time vs concurrency and the bound.

The sandbox adds ``latency_ms`` to every API request. The metadata stream's wall time is the
tap's wall time with both streams selected minus its wall time with ``customers`` alone (same
start-up, same list pages), so it is the time the N metadata requests add. The bound is
N x latency / concurrency: what perfectly overlapped requests would take.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench_extraction import count_records
from harness import Sandbox, bin_path, run_measured, write_json
from messages import select_streams, tap_config
from results import Goal, Report, Row

DEFAULT_CONCURRENCY = 8


def tap_seconds(
    workdir: Path, name: str, config: dict[str, Any], catalog: dict[str, Any]
) -> tuple[float, Path]:
    config_path = write_json(workdir / f"{name}-config.json", config)
    catalog_path = write_json(workdir / f"{name}-catalog.json", catalog)
    out = workdir / f"{name}-out.jsonl"
    with out.open("wb") as sink:
        measured = run_measured(
            [bin_path("tap-equipme"), "--config", str(config_path), "--catalog", str(catalog_path)],
            stdout=sink,
        )
    return measured.seconds, out


def run(
    report: Report,
    workdir: Path,
    sandbox: Sandbox,
    catalog: dict[str, Any],
    customers: int,
    latency_ms: float,
) -> None:
    bench = "2 metadata N+1"
    both = select_streams(catalog, {"customers", "customer_metadata"})
    only_customers = select_streams(catalog, {"customers"})
    base, _ = tap_seconds(workdir, "meta-base", tap_config(sandbox.base_url), only_customers)
    report.rows.append(
        Row(
            bench,
            "tap, customers only (baseline)",
            customers,
            base,
            None,
            f"{latency_ms:g} ms/request",
        )
    )
    latency = latency_ms / 1000
    for concurrency in (1, DEFAULT_CONCURRENCY):
        settings: dict[str, Any] = {}
        if concurrency != DEFAULT_CONCURRENCY:
            settings["metadata_concurrency"] = concurrency
        sandbox.clear_stats()
        total, out = tap_seconds(
            workdir, f"meta-c{concurrency}", tap_config(sandbox.base_url, **settings), both
        )
        stats = sandbox.stats()
        if count_records(out, "customers") != customers:
            raise RuntimeError(f"metadata run at concurrency {concurrency} lost customers")
        metadata_seconds = total - base
        bound = customers * latency / concurrency
        label = "default" if concurrency == DEFAULT_CONCURRENCY else "setting"
        report.rows.append(
            Row(
                bench,
                f"metadata stream, metadata_concurrency={concurrency} ({label})",
                customers,
                metadata_seconds,
                None,
                f"{metadata_seconds / bound:.2f}x the bound {bound:.2f} s; "
                f"{stats['requests']} requests, max {stats['max_concurrent']} concurrent",
            )
        )
        if concurrency == DEFAULT_CONCURRENCY:
            report.goals.append(
                Goal(
                    bench,
                    "metadata wall time / bound, default concurrency",
                    metadata_seconds / bound,
                    1.3,
                    False,
                )
            )
