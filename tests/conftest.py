"""Shared fixtures: one fixture per real component (sandbox server, tap config)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from tests.sandbox_writes import SandboxWrites

if TYPE_CHECKING:
    from tap_equipme.sandbox import SandboxServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A recognisable key: the secrets tests search every output channel for it.
SANDBOX_API_KEY = "sandbox-key-7f3a9c1e-DO-NOT-LEAK"
DEFAULT_CUSTOMERS = 200
DEFAULT_SEED = 1

# Console scripts (tap-equipme, target-duckdb-lake, ...) live beside the interpreter running pytest.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--skip-slow",
        action="store_true",
        default=False,
        help="skip tests marked slow (real Airflow, real meltano, large data); CI runs them",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--skip-slow"):
        return
    skip = pytest.mark.skip(reason="slow test skipped by --skip-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def api_key() -> str:
    return SANDBOX_API_KEY


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One real sandbox HTTP server per test session (per xdist worker)."""
    from tap_equipme.sandbox import SandboxServer

    with SandboxServer(
        customers=DEFAULT_CUSTOMERS, seed=DEFAULT_SEED, api_key=SANDBOX_API_KEY, port=0
    ) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The session's sandbox, reset to the default data set with no faults and fresh stats."""
    sandbox_server.control.reset(customers=DEFAULT_CUSTOMERS, seed=DEFAULT_SEED)
    return sandbox_server


@pytest.fixture
def tap_config(sandbox: SandboxServer, api_key: str) -> dict[str, Any]:
    """A tap config pointing at the sandbox."""
    return {
        "api_key": api_key,
        "api_url": sandbox.base_url,
        "request_timeout": 10,
        "max_retries": 3,
    }


@pytest.fixture(scope="session")
def landed() -> ModuleType:
    """The warehouse-vs-sandbox comparison (tests/reliability/compare.py).

    `differences(destination, path, snapshot)` and `deleted_ids(destination, path)`.
    """
    return _load_by_path("equipme_landed_compare", "tests/reliability/compare.py")


def _load_by_path(name: str, relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / relative)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sandbox_writes(sandbox_server: SandboxServer, api_key: str) -> Iterator[SandboxWrites]:
    """Edits through the sandbox's API (PATCH, metadata writes), with the test key."""
    client = SandboxWrites(sandbox_server.base_url, api_key)
    yield client
    client.session.close()


@pytest.fixture(scope="session")
def lake_servers() -> ModuleType:
    """The lake's real components (tests/lake/servers.py): PostgreSQL, S3, their env."""
    return _load_by_path("equipme_lake_servers", "tests/lake/servers.py")


@pytest.fixture(scope="session")
def lake_postgres(lake_servers: ModuleType) -> Any:
    """One embedded PostgreSQL 18 server per session (catalogs: a database per test)."""
    with lake_servers.postgres() as server:
        yield server


@pytest.fixture(scope="session")
def lake_s3(lake_servers: ModuleType) -> Any:
    """One moto S3 server per session on 127.0.0.1 (a key prefix per test)."""
    with lake_servers.s3() as store:
        yield store


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel (and sdist), built once per test run with `python -m build` and
    shared by the packaging and meltano tests: xdist workers take a lock, the first builds."""
    import fcntl
    import subprocess

    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp sits in the run's own directory; without it, the
    # parent would be shared by every run (a stale wheel), so stay inside this run's.
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "equipme-dist"
    shared.mkdir(exist_ok=True)
    with (shared.parent / "equipme-dist.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time in the source tree
        if not list(shared.glob("tap_equipme-*.whl")):
            # --no-isolation: this venv's setuptools, no download of a build environment.
            subprocess.run(
                [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(shared)],
                cwd=PROJECT_ROOT,
                check=True,
                capture_output=True,
                timeout=300,
            )
    return sorted(shared.glob("tap_equipme-*.whl"))[0]
