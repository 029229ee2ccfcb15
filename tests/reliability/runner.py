"""The pipeline as a user runs it: `equipme-sync` processes against the sandbox."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_equipme.pipeline.lake_connection import lake_environment

from .compare import Warehouse, read_if_any

BIN = Path(sys.executable).parent
SYNC = str(BIN / "equipme-sync")
TAP = str(BIN / "tap-equipme")


@dataclass
class SyncRun:
    """One finished `equipme-sync` (or `tap-equipme`) process."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    argv: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"exit {self.returncode} after {self.wall_s:.1f}s\n--- stdout ---\n"
            f"{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-6000:]}"
        )


@dataclass
class Pipeline:
    """Runs `equipme-sync` against the sandbox into the test's warehouse (DuckDB by default)."""

    tmp_path: Path
    base_url: str
    api_key: str
    warehouse: Path
    settings: dict[str, Any] = field(default_factory=dict)
    destination: str = "duckdb"
    lake: dict[str, Any] = field(default_factory=dict)
    """Destination `ducklake`: the loader's `lake_*` settings (see `use_lake`)."""
    catalog: str | None = None
    """Destination `ducklake`: the catalog (`--path`)."""
    lake_env: dict[str, str] = field(default_factory=dict)
    """Destination `ducklake`: credentials the loader (and `read`) take from the environment."""

    def use_parquet(self, lake: Path) -> None:
        """Load into the Parquet directory `lake` instead of the DuckDB file."""
        self.destination = "parquet"
        self.warehouse = lake

    def use_lake(
        self,
        catalog: str,
        data_path: Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        **settings: Any,
    ) -> None:
        """Load into a DuckLake (catalog `catalog`, data files in `data_path`) instead.

        Args:
            catalog: The lake's catalog (`postgres:...` or a file).
            data_path: A local data directory (or give `lake_data_path` in `settings`).
            env: Credentials for the loader's environment (the S3 keys).
            **settings: More `lake_*` / `s3_*` settings (e.g. `S3.settings(prefix)`).
        """
        self.destination = "ducklake"
        self.catalog = catalog
        self.lake = {**settings}
        if data_path is not None:
            self.lake["lake_data_path"] = str(data_path)
        self.lake_env = dict(env or {})

    def read(self) -> Warehouse | None:
        """What the pipeline's warehouse holds (any destination); None if nothing yet."""
        with lake_environment(self.lake_env):
            return read_if_any(self.destination, self.location, self.lake)

    @property
    def location(self) -> str:
        """The `--path` argument: the warehouse file or directory, or the lake's catalog."""
        return self.catalog or str(self.warehouse)

    def config_file(self, **overrides: Any) -> Path:
        """Tap settings without the key (the key goes through the environment)."""
        config = {"api_url": self.base_url, **self.settings, **overrides}
        path = self.tmp_path / "tap-config.json"
        path.write_text(json.dumps(config))
        return path

    def env(self, api_key: str | None = None, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_EQUIPME_")}
        key = self.api_key if api_key is None else api_key
        if key is not None:
            env["TAP_EQUIPME_API_KEY"] = key
        env.update(self.lake_env)
        env.update(extra)
        return env

    def argv(self, *extra_args: str, config: Path | None = None) -> list[str]:
        config = config or self.config_file()
        return [
            SYNC,
            "--destination",
            self.destination,
            "--path",
            self.location,
            *(_option(name, value) for name, value in self.lake.items()),
            "--config",
            str(config),
            *extra_args,
        ]

    def run(
        self,
        *extra_args: str,
        env: dict[str, str] | None = None,
        config: Path | None = None,
        timeout: float = 180,
    ) -> SyncRun:
        argv = self.argv(*extra_args, config=config)
        started = time.monotonic()
        # Its own process group, like a worker's task: a crash test's SIGKILL of the group
        # must not reach pytest.
        process = subprocess.Popen(
            argv,
            env=env or self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.tmp_path,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            out, err = kill_group(process)
        wait_for_group_exit(process.pid)
        return SyncRun(process.returncode, out, err, time.monotonic() - started, argv)

    def start(self, *extra_args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start in its own process group (so a kill reaches the tap and the target too)."""
        return subprocess.Popen(
            self.argv(*extra_args),
            env=env or self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.tmp_path,
            start_new_session=True,
        )


def _option(name: str, value: Any) -> str:
    flag = name.replace("_", "-")
    if isinstance(value, bool):  # argparse's BooleanOptionalAction: --x / --no-x
        return f"--{flag}" if value else f"--no-{flag}"
    return f"--{flag}={value}"


def kill_group(process: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGKILL a process started by `Pipeline.start` and all its children; return output."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    out, err = process.communicate(timeout=30)
    wait_for_group_exit(process.pid)
    return out, err


def wait_for_group_exit(pgid: int, timeout: float = 15.0) -> None:
    """Wait until no process of the group is left (a killed target releases its file lock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
