"""The report of `equipme-sync maintain` and its durations (`7d`, `36h`): plain data.

See `maintenance` for what the steps do.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from tap_equipme.warehouse.load_errors import WarehouseError

DEFAULT_RETENTION = "7d"
DEFAULT_GRACE = "1h"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_retention(text: str, option: str = "--retention") -> dt.timedelta:
    """Read a duration such as `7d`, `36h`, `90m`, `0s` (units s, m, h, d, w).

    Args:
        text: The duration.
        option: The option it came from (for the error message).

    Returns:
        The duration.

    Raises:
        WarehouseError: If it is not a number with a unit.
    """
    found = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text or "")
    if not found:
        msg = (
            f"{option} {text!r}: give a whole number and a unit: s, m, h, d or w "
            f"(e.g. {DEFAULT_RETENTION}, 36h)."
        )
        raise WarehouseError(msg)
    return dt.timedelta(seconds=int(found[1]) * _UNITS[found[2]])


@dataclass
class Step:
    """One maintenance step: what it does (or would do) and to how many files and bytes."""

    name: str
    summary: str
    files: int = 0
    bytes: int | None = 0
    details: list[str] = field(default_factory=list)


@dataclass
class MaintenanceReport:
    """What a maintenance run did (`applied`) or would do (dry run)."""

    destination: str
    location: str
    applied: bool
    retention_seconds: int | None
    steps: list[Step] = field(default_factory=list)
    before: dict[str, int | None] = field(default_factory=dict)
    after: dict[str, int | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data.

        Returns:
            A dict (steps as a list of dicts).
        """
        return asdict(self)

    def render(self) -> str:
        """The report as a few lines for a terminal.

        Returns:
            The text.
        """
        verb = (
            "Maintenance of" if self.applied else "Dry run (nothing changed; --apply does it) for"
        )
        lines = [f"{verb} the {self.destination} warehouse at {self.location}"]
        if self.retention_seconds is not None:
            lines.append(f"  retention: {dt.timedelta(seconds=self.retention_seconds)}")
        for step in self.steps:
            size = "" if step.bytes is None else f", {step.bytes:,} bytes"
            lines.append(f"  {step.name}: {step.summary} ({step.files:,} files{size})")
            lines += [f"    {line}" for line in step.details[:20]]
            if len(step.details) > 20:
                lines.append(f"    ... and {len(step.details) - 20} more")

        def sizes(counts: dict[str, int | None]) -> str:
            size = counts.get("bytes")
            return f"{counts.get('files', 0):,} files" + (
                "" if size is None else f", {size:,} bytes"
            )

        lines.append(f"  before: {sizes(self.before)}")
        if self.applied:
            lines.append(f"  after:  {sizes(self.after)}")
        return "\n".join(lines)


__all__ = ["DEFAULT_GRACE", "DEFAULT_RETENTION", "MaintenanceReport", "Step", "parse_retention"]
