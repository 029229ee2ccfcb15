"""Fixtures of the reliability suite: the pipeline as a user runs it, and the results table."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .results import ScenarioResult, append, write_page
from .runner import Pipeline


@pytest.fixture
def pipeline(tmp_path: Path, sandbox: Any, api_key: str) -> Pipeline:
    """`equipme-sync` wired to the test's sandbox (40 customers unless the test resets it),
    short timeouts and retry waits, a fresh warehouse."""
    sandbox.control.reset(customers=40, seed=3)
    return Pipeline(
        tmp_path=tmp_path,
        base_url=sandbox.base_url,
        api_key=api_key,
        warehouse=tmp_path / "warehouse.duckdb",
        settings={"request_timeout": 2, "max_retries": 8, "page_size": 25, "backoff_factor": 0.2},
    )


@pytest.fixture
def record_result(request: pytest.FixtureRequest) -> Callable[[ScenarioResult], None]:
    """Record one row of docs/reliability-results.md."""
    cache_dir = _results_dir(request.config)

    def record(row: ScenarioResult) -> None:
        append(cache_dir, row)

    return record


def _results_dir(config: pytest.Config) -> Path:
    """pytest's cache directory (shared by xdist workers), or a temp one without the cache."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("equipme"))
    return Path(tempfile.gettempdir()) / "equipme-reliability"


def pytest_sessionfinish(session: pytest.Session) -> None:
    page = write_page(_results_dir(session.config))
    if page is not None and os.environ.get("PYTEST_XDIST_WORKER") is None:
        sys.stderr.write(f"\nreliability results written to {page}\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep the call phase's report on the item, so fixtures can record pass or fail."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
