"""Fixtures of the tap tests: run the real tap in-process against the real sandbox."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tap_equipme.tap import TapEquipme

# Retry waits shrink to a thousandth in tests, so error paths take milliseconds.
FAST_BACKOFF = 0.001


@dataclass
class TapRun:
    """What one tap run wrote to stdout, parsed."""

    messages: list[dict[str, Any]]
    lines: list[str] = field(default_factory=list)

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.of_type("STATE")]

    @property
    def final_state(self) -> dict[str, Any]:
        return self.states[-1]

    @property
    def bookmark(self) -> str | None:
        return (
            self.final_state.get("bookmarks", {}).get("customers", {}).get("replication_key_value")
        )


RunTap = Callable[..., TapRun]


def _run(config: dict[str, Any], state: dict[str, Any] | None = None) -> TapRun:
    out = io.StringIO()
    tap = TapEquipme(config=config, state=state, parse_env_config=False)
    try:
        with contextlib.redirect_stdout(out):
            tap.sync_all()
    finally:
        # Whatever happened, hand back what was written so far (tests read partial runs).
        _run.last_output = out.getvalue()  # type: ignore[attr-defined]
        tap.api_client.close()
    lines = out.getvalue().splitlines()
    return TapRun([json.loads(line) for line in lines], lines)


def partial_output() -> TapRun:
    """The messages of the last `run_tap` call, even if it raised."""
    lines = getattr(_run, "last_output", "").splitlines()
    return TapRun([json.loads(line) for line in lines], lines)


@pytest.fixture
def run_tap() -> RunTap:
    """Run the tap in-process (`sync_all`), return its parsed stdout."""
    return _run


@pytest.fixture
def last_output() -> Callable[[], TapRun]:
    """The stdout of the latest `run_tap` call, also when it raised."""
    return partial_output


@pytest.fixture
def config(tap_config: dict[str, Any]) -> dict[str, Any]:
    """The shared tap config plus fast retry waits."""
    return {**tap_config, "backoff_factor": FAST_BACKOFF}
