"""The results table: one row per measured subject, ratios judged against each goal."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass
class Row:
    """One measured subject of one benchmark."""

    benchmark: str
    subject: str
    records: int
    seconds: float
    peak_rss_mib: float | None = None
    extra: str = ""

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Goal:
    """A ratio measured in this run and the goal it is judged against."""

    benchmark: str
    description: str
    ratio: float
    limit: float
    higher_is_better: bool
    note: str = ""
    if_unmet: str = ""
    """What the profile shows, printed under the table when the goal is not met."""

    @property
    def met(self) -> bool:
        return self.ratio >= self.limit if self.higher_is_better else self.ratio <= self.limit

    @property
    def goal_text(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.limit:g}"


@dataclass
class Report:
    """Everything one benchmark run measured."""

    machine: str
    size: str
    rows: list[Row] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (docs/benchmarks.json; the docs' charts read it)."""
        return {
            "started": self.started.isoformat(timespec="seconds"),
            "machine": self.machine,
            "size": self.size,
            "goals": [
                {**asdict(goal), "met": goal.met, "goal": goal.goal_text} for goal in self.goals
            ],
            "rows": [{**asdict(row), "records_per_s": row.records_per_s} for row in self.rows],
            "notes": list(self.notes),
        }

    def markdown(self) -> str:
        """The report as Markdown (printed and written to docs/benchmarks.md)."""
        lines = [
            f"Run {self.started:%Y-%m-%d %H:%M} UTC, size `{self.size}`, on {self.machine}.",
            "",
            "| goal | ratio (this run) | goal | met |",
            "|---|---:|---:|---|",
        ]
        for goal in self.goals:
            verdict = "yes" if goal.met else "**NO**"
            note = f" ({goal.note})" if goal.note else ""
            lines.append(
                f"| {goal.benchmark}: {goal.description}{note} | {goal.ratio:.2f}x "
                f"| {goal.goal_text} | {verdict} |"
            )
        lines += [
            "",
            "| benchmark | subject | records | wall s | records/s | peak RSS MiB | notes |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for row in self.rows:
            rss = f"{row.peak_rss_mib:.0f}" if row.peak_rss_mib is not None else ""
            lines.append(
                f"| {row.benchmark} | {row.subject} | {row.records:,} | {row.seconds:.2f} "
                f"| {row.records_per_s:,.0f} | {rss} | {row.extra} |"
            )
        unmet = [goal for goal in self.goals if not goal.met and goal.if_unmet]
        if unmet:
            lines += ["", "Goals not met, and why (from this run and the profiles):", ""]
            lines += [f"- {goal.benchmark}, {goal.description}: {goal.if_unmet}" for goal in unmet]
        if self.notes:
            lines += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"
