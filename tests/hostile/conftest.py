"""Fixtures of the hostile-API suite: the double in front of the sandbox, a foreign host."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .double import HostileApi, Recorder

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _results() -> ModuleType:
    """tests/reliability/results.py (the results page), loaded by path."""
    name = "equipme_reliability_results"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, PROJECT_ROOT / "tests" / "reliability" / "results.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def hostile_server(sandbox_server: Any, api_key: str) -> Iterator[HostileApi]:
    """One double per session, on 127.0.0.1, forwarding to the session's sandbox."""
    server = HostileApi(sandbox_server.base_url, api_key).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def foreign_server() -> Iterator[Recorder]:
    """Another host (127.0.0.2) that records whatever reaches it."""
    server = Recorder("127.0.0.2").start()
    yield server
    server.stop()


@pytest.fixture
def hostile(hostile_server: HostileApi, sandbox: Any) -> HostileApi:
    """The double with no rules (a faithful API until a test programs it), 40 customers."""
    sandbox.control.reset(customers=40, seed=5)
    hostile_server.reset()
    return hostile_server


@pytest.fixture
def foreign(foreign_server: Recorder) -> Iterator[Recorder]:
    """The foreign host, emptied; after the test it must have received no API key."""
    foreign_server.reset()
    yield foreign_server
    assert foreign_server.keys_received() == [], "the API key reached the foreign host"


@pytest.fixture
def hostile_case(request: pytest.FixtureRequest) -> Iterator[Callable[[str, str], None]]:
    """Name this test's row of the Hostile API table: `case(scenario, expected outcome)`.

    The row is written after the test, marked pass or FAIL by the test's own result.
    """
    row: dict[str, str] = {}

    def case(scenario: str, expected: str) -> None:
        row.update(scenario=scenario, note=expected)

    yield case
    if not row:
        return
    report = getattr(request.node, "rep_call", None)
    passed = report is not None and report.passed
    results = _results()
    results.append(
        _results_dir(request.config),
        results.ScenarioResult(
            section="hostile",
            scenario=row["scenario"],
            outcome="pass" if passed else "FAIL",
            note=row["note"],
        ),
    )


def _results_dir(config: pytest.Config) -> Path:
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("equipme"))
    return Path(tempfile.gettempdir()) / "equipme-reliability"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep the call phase's report on the item, so `hostile_case` can record pass or fail."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    # A run without the fault matrix (which rewrites the whole page) updates only the
    # Hostile API section of docs/reliability-results.md (each process re-renders it from
    # every row recorded so far, so the last one to finish writes the complete table).
    _results().write_hostile_section(_results_dir(session.config))
