"""Change capture under a bad night: changes while the run pages, and 429/5xx storms.

Each case ends with the warehouse equal to the source (live rows, `_deleted_at`, metadata)
and the history consistent: versions of a row never overlap, and two consecutive versions
never carry the same content (no version for a non-change). Runs killed mid-list and
mid-metadata are `test_crash_safety.py`'s cases, which run the default mode (change capture).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pytest
import requests

from .results import ScenarioResult
from .runner import Pipeline
from .scenario import Outcome, check_warehouse

CUSTOMERS = 150


def history_problems(path: Any) -> list[str]:
    """Overlapping versions and versions that change nothing, in both history tables."""
    problems = []
    with duckdb.connect(str(path), read_only=True) as con:
        for table, key in (
            ("customers_history", "id::VARCHAR"),
            ("customer_metadata_history", "customer_id::VARCHAR || '/' || key"),
        ):
            rows = con.execute(
                f"SELECT k, count(*) FILTER (WHERE overlap), count(*) FILTER (WHERE same) "
                f"FROM (SELECT {key} AS k, "
                "lag(_valid_to) OVER w > _valid_from OR lag(_valid_to) OVER w IS NULL "
                "AND lag(_valid_from) OVER w IS NOT NULL AS overlap, "
                "lag(_content_hash) OVER w = _content_hash "
                "AND lag(_valid_to) OVER w = _valid_from AS same "
                f"FROM {table} WINDOW w AS (PARTITION BY {key} ORDER BY _valid_from)) "
                "GROUP BY k HAVING count(*) FILTER (WHERE overlap OR same) > 0 LIMIT 5"
            ).fetchall()
            problems += [
                f"{table} {k}: {o} overlapping, {s} unchanged versions" for k, o, s in rows
            ]
    return problems


def _finish(
    outcome: Outcome, record: Callable[[ScenarioResult], None], note: str, extra: list[str]
):
    problems = outcome.problems() + extra
    record(outcome.row(note, problems))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_change_capture_with_customers_created_renamed_and_deleted_while_paging(
    sandbox: Any, pipeline: Pipeline, record_result: Callable[[ScenarioResult], None]
) -> None:
    control = sandbox.control
    control.reset(customers=CUSTOMERS, seed=21)
    pipeline.run()
    control.schedule_drift(after_requests=2, insert=2, delete=1, repeat=True, rename=2)
    outcome = Outcome("change capture: created + deleted + renamed after every 2nd list page")
    outcome.runs.append(pipeline.run())
    outcome.stats = control.stats()
    control.schedule_drift(after_requests=10**9)  # drift off
    outcome.runs.append(pipeline.run())  # one quiet run: the warehouse catches up
    check_warehouse(outcome, pipeline, control.snapshot())
    drift = outcome.stats.get("drift_applied", 0)
    extra = history_problems(pipeline.warehouse) + ([] if drift else ["the drift never happened"])
    _finish(outcome, record_result, f"drift applied {drift}x; then one quiet run", extra)


@pytest.mark.slow
def test_change_capture_during_a_429_and_5xx_storm_loads_every_change(
    sandbox: Any,
    pipeline: Pipeline,
    api_key: str,
    record_result: Callable[[ScenarioResult], None],
) -> None:
    control = sandbox.control
    control.reset(customers=CUSTOMERS, seed=22)
    pipeline.settings.update({"metadata_refresh_days": 1e-6})  # every run re-reads metadata
    pipeline.run()
    snapshot = control.snapshot()
    ids = [c["id"] for c in snapshot["customers"]]
    session = requests.Session()
    session.headers["X-API-KEY"] = api_key
    for customer_id in ids[:5]:
        session.patch(
            f"{sandbox.base_url}/v1/sales/customers/{customer_id}",
            json=[{"op": "replace", "path": "/active", "value": False}],
            headers={"Content-Type": "application/json-patch+json"},
            timeout=10,
        ).raise_for_status()
    for customer_id in ids[5:8]:
        session.post(
            f"{sandbox.base_url}/v1/sales/customers/{customer_id}/metadata",
            json={"key": "storm", "value": "yes"},
            timeout=10,
        ).raise_for_status()
    session.close()
    control.delete_customers(ids[8:11])
    control.set_faults(error_rate=0.1, rate_limit_per_s=40, retry_after="seconds", seed=9)
    outcome = Outcome("change capture: 5 deactivated, 3 metadata added, 3 deleted; 429 + 5xx")
    outcome.runs.append(pipeline.run())
    outcome.stats = control.stats()
    control.clear_faults()
    check_warehouse(outcome, pipeline, control.snapshot())
    injected = outcome.faults_injected
    extra = history_problems(pipeline.warehouse)
    if not injected.get("error"):
        extra.append("no 5xx was injected")
    _finish(outcome, record_result, f"faults injected: {injected}", extra)
