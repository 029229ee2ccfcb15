"""Benchmark 7, change capture: an hourly run next to a full refresh, same data set.

1. ``equipme-sync --full-refresh`` of N customers with metadata (requests, wall time).
2. 1% of the customers edited through the API (PATCH), the stored state's previous run start
   moved one hour back (as if the last run was an hour ago: the rolling metadata slice is
   sized from it).
3. ``equipme-sync`` (change capture, the default): requests by kind and wall time; the loads
   table must report exactly the edited customers as updated.
4. 0.01% of the customers deleted, the previous run moved an hour back again, one more
   change-capture run: the digest no longer matches, so it reads the listing twice.
Goals: the hourly run's requests <= 1% of the full refresh's; its list pages within 1.05x of
one pass over the listing (certified in one pass by the previous run's `listing_check`).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import requests
from harness import BENCH_API_KEY, Measured, Sandbox, bin_path, run_measured, write_json
from messages import tap_config
from results import Goal, Report, Row

BENCH = "7 change capture"


def _sync(workdir: Path, database: Path, name: str, base_url: str, *extra: str) -> Measured:
    config = write_json(workdir / f"{name}-tap.json", tap_config(base_url))
    command = [bin_path("equipme-sync"), "--path", str(database), "--config", str(config)]
    return run_measured([*command, *extra])


def _edit(base_url: str, ids: list[int]) -> None:
    session = requests.Session()
    session.headers["X-API-KEY"] = BENCH_API_KEY
    for customer_id in ids:
        session.patch(
            f"{base_url}/v1/sales/customers/{customer_id}",
            json=[{"op": "replace", "path": "/description", "value": "changed"}],
            headers={"Content-Type": "application/json-patch+json"},
            timeout=30,
        ).raise_for_status()
    session.close()


def _last_run_an_hour_ago(database: Path) -> None:
    with duckdb.connect(str(database)) as con:
        row = con.execute("SELECT state FROM _equipme_state WHERE id = 1").fetchone()
        assert row is not None
        state = json.loads(row[0])
        hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
        window = state["bookmarks"]["customers"].setdefault("metadata_refresh", {})
        window["previous_run_started_at"] = hour_ago.isoformat()
        con.execute("UPDATE _equipme_state SET state = ? WHERE id = 1", [json.dumps(state)])


def _delete(base_url: str, ids: list[int]) -> None:
    requests.post(f"{base_url}/_sandbox/delete", json={"ids": ids}, timeout=30).raise_for_status()


def _list_pages(sandbox: Sandbox) -> tuple[int, int]:
    stats = sandbox.stats()
    return int(stats["by_route"].get("GET /v1/sales/customers", 0)), int(stats["requests"])


def run(report: Report, workdir: Path, sandbox: Sandbox, customers: int) -> None:
    sandbox.reset(customers)
    database = workdir / "change-capture.duckdb"
    full = _sync(workdir, database, "cc-full", sandbox.base_url, "--full-refresh")
    full_requests = int(sandbox.stats()["requests"])
    changed = max(1, customers // 100)
    _edit(sandbox.base_url, list(range(1, customers + 1, customers // changed))[:changed])
    _last_run_an_hour_ago(database)
    sandbox.clear_stats()
    hourly = _sync(workdir, database, "cc-hourly", sandbox.base_url)
    stats = sandbox.stats()
    by_route = stats["by_route"]
    lists = int(by_route.get("GET /v1/sales/customers", 0))
    metadata = int(by_route.get("GET /v1/sales/customers/{customerId}/metadata", 0))
    hourly_requests = int(stats["requests"])
    with duckdb.connect(str(database), read_only=True) as con:
        row = con.execute(
            "SELECT rows_updated FROM _equipme_loads WHERE stream = 'customers' "
            "ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    updated = int(row[0]) if row else -1
    if updated != changed:
        raise RuntimeError(f"the hourly run reported {updated} updated customers, not {changed}")
    report.rows.append(
        Row(
            BENCH,
            f"full refresh, {customers:,} customers",
            customers,
            full.seconds,
            None,
            f"{full_requests:,} API requests",
        )
    )
    report.rows.append(
        Row(
            BENCH,
            f"hourly change capture, {changed:,} customers edited",
            customers,
            hourly.seconds,
            None,
            f"{hourly_requests:,} API requests ({lists} list pages, {metadata} metadata); "
            f"rows_updated {updated}",
        )
    )
    report.goals.append(
        Goal(
            BENCH,
            "hourly change-capture requests / full-refresh requests",
            hourly_requests / full_requests,
            0.01,
            False,
        )
    )
    one_pass = 1 + math.ceil(max(0, customers - 1000) / 999)  # pages overlap by one
    report.goals.append(
        Goal(
            BENCH,
            "hourly change-capture list pages / one pass over the listing",
            lists / one_pass,
            1.05,
            False,
            note=f"{lists} list pages; one pass is {one_pass}",
        )
    )
    deleted = max(1, customers // 10_000)
    _delete(sandbox.base_url, list(range(2, customers + 1, customers // deleted))[:deleted])
    _last_run_an_hour_ago(database)
    sandbox.clear_stats()
    after_deletion = _sync(workdir, database, "cc-deleted", sandbox.base_url)
    lists_deleted, requests_deleted = _list_pages(sandbox)
    report.rows.append(
        Row(
            BENCH,
            f"hourly change capture after {deleted:,} deletions",
            customers,
            after_deletion.seconds,
            None,
            f"{requests_deleted:,} API requests ({lists_deleted} list pages: read twice, the "
            "digest no longer matches)",
        )
    )
    report.goals.append(
        Goal(
            BENCH,
            "hourly change-capture wall time / full-refresh wall time",
            hourly.seconds / full.seconds,
            0.1,
            False,
        )
    )
