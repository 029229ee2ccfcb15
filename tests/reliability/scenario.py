"""Running one fault scenario end to end and turning its outcome into a results row."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .compare import Comparison, Warehouse, bookmark_problems, compare
from .results import ScenarioResult
from .runner import Pipeline, SyncRun

# Fault kinds that make the client retry (latency alone does not).
RETRIED_KINDS = ("rate_limit", "error", "drop", "truncate", "slow", "outage")


@dataclass
class Outcome:
    """Everything a scenario test asserts on, and the row it records."""

    name: str
    runs: list[SyncRun] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    comparison: Comparison | None = None
    bookmark_problems: list[str] = field(default_factory=list)
    load_statuses: list[str] = field(default_factory=list)
    warehouse: Warehouse | None = None
    """What the warehouse held when it was compared (further checks need not read it again)."""
    started: float = field(default_factory=time.monotonic)
    wall_s: float = 0.0

    @property
    def faults_injected(self) -> dict[str, int]:
        injected: dict[str, int] = self.stats.get("faults_injected", {})
        return injected

    @property
    def retries(self) -> int:
        return sum(self.faults_injected.get(kind, 0) for kind in RETRIED_KINDS)

    def problems(self) -> list[str]:
        """Why the scenario failed (empty when it passed)."""
        found = []
        for run in self.runs:
            if run.returncode != 0:
                found.append(f"a run failed: {run.describe()}")
        if self.comparison is None:
            found.append("the warehouse was not compared")
        elif not self.comparison.ok:
            found.append(f"warehouse differs from the source: {self.comparison.summary()}")
        found += self.bookmark_problems
        bad_loads = [s for s in self.load_statuses if s != "succeeded"]
        if bad_loads:
            found.append(f"loads not succeeded: {bad_loads}")
        return found

    def row(self, note: str = "", problems: list[str] | None = None) -> ScenarioResult:
        problems = self.problems() if problems is None else problems
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults_injected.items()))
        return ScenarioResult(
            section="fault",
            scenario=self.name,
            outcome="pass" if not problems else "FAIL",
            requests=self.stats.get("requests"),
            retries=self.retries,
            faults=kinds,
            rows_compared=self.comparison.rows_compared if self.comparison else None,
            wall_s=round(self.wall_s, 1),
            note=note if not problems else f"{note} {problems[0][:160]}".strip(),
        )


def check_warehouse(
    outcome: Outcome,
    pipeline: Pipeline,
    snapshot: dict[str, Any],
    *,
    expected_customers: list[dict[str, Any]] | None = None,
    optional_metadata: set[int] | None = None,
) -> None:
    """Compare the pipeline's warehouse (any destination) with the source; fill in the outcome.

    Live rows are compared, so a row soft-deleted by mistake reads as missing and a deleted
    customer not marked (`_deleted_at`) as unexpected.
    """
    warehouse = pipeline.read() or Warehouse([], [], None, [])
    outcome.comparison = compare(
        warehouse,
        snapshot["customers"] if expected_customers is None else expected_customers,
        snapshot["metadata"],
        optional_metadata=optional_metadata,
    )
    outcome.bookmark_problems = bookmark_problems(warehouse, snapshot)
    outcome.load_statuses = [str(row["status"]) for row in warehouse.loads]
    outcome.wall_s = time.monotonic() - outcome.started
    outcome.warehouse = warehouse
