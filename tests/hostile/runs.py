"""Real `tap-equipme` and `equipme-sync` processes against the double, and what they left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

BIN = Path(sys.executable).parent


@dataclass
class Run:
    """One finished process."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float

    def error_lines(self) -> list[str]:
        """The ERROR lines of the log (the tap's one-paragraph failure)."""
        return [line for line in self.stderr.splitlines() if "ERROR" in line]

    def describe(self) -> str:
        return (
            f"exit {self.returncode} after {self.wall_s:.1f}s\n--- stdout ---\n"
            f"{self.stdout[-2000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


def _env(api_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_EQUIPME_")}
    env["TAP_EQUIPME_API_KEY"] = api_key
    return env


def _run(argv: list[str], api_key: str, cwd: Path, timeout: float) -> Run:
    started = time.monotonic()
    done = subprocess.run(
        argv,
        env=_env(api_key),
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def config_file(tmp_path: Path, api_url: str, **settings: Any) -> Path:
    """Tap settings without the key (the key goes through the environment)."""
    path = tmp_path / "tap-config.json"
    base = {"api_url": api_url, "request_timeout": 5, "max_retries": 1, "backoff_factor": 0.05}
    path.write_text(json.dumps({**base, **settings}))
    return path


def tap(tmp_path: Path, api_url: str, api_key: str, timeout: float = 60, **settings: Any) -> Run:
    """`tap-equipme --config ...` (its Singer messages on stdout)."""
    config = config_file(tmp_path, api_url, **settings)
    argv = [str(BIN / "tap-equipme"), "--config", str(config), "--config", "ENV"]
    return _run(argv, api_key, tmp_path, timeout)


def sync(tmp_path: Path, api_url: str, api_key: str, timeout: float = 120, **settings: Any) -> Run:
    """`equipme-sync` into tmp_path/warehouse.duckdb."""
    config = config_file(tmp_path, api_url, **settings)
    argv = [
        str(BIN / "equipme-sync"),
        "--destination",
        "duckdb",
        "--path",
        str(warehouse_path(tmp_path)),
        "--config",
        str(config),
    ]
    return _run(argv, api_key, tmp_path, timeout)


def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def warehouse(tmp_path: Path) -> dict[str, Any]:
    """The warehouse's customers, metadata and stored state (for before/after comparison)."""
    con = duckdb.connect(str(warehouse_path(tmp_path)), read_only=True)
    try:
        customers = con.sql("SELECT * FROM customers ORDER BY id").fetchall()
        metadata = con.sql("SELECT * FROM customer_metadata ORDER BY ALL").fetchall()
        state = con.sql("SELECT state FROM _equipme_state").fetchall()
    finally:
        con.close()
    return {"customers": customers, "metadata": metadata, "state": state}


def bookmark(tmp_path: Path) -> str:
    """The customers bookmark stored in the warehouse."""
    raw = warehouse(tmp_path)["state"][0][0]
    state = json.loads(raw) if isinstance(raw, str) else raw
    return str(state["bookmarks"]["customers"]["replication_key_value"])


def tap_peak_memory(
    tmp_path: Path, api_url: str, api_key: str, **settings: Any
) -> tuple[Run, float]:
    """`tap-equipme`, run by a fresh Python that reports its children's peak RSS in MB."""
    config = config_file(tmp_path, api_url, **settings)
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(done.stdout)\n"
        "sys.stderr.write(done.stderr)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "sys.stderr.write(f'\\nPEAK_MB {peak:.0f}\\n')\n"
        "sys.exit(done.returncode)\n"
    )
    tap_argv = [str(BIN / "tap-equipme"), "--config", str(config), "--config", "ENV"]
    argv = [sys.executable, "-c", probe, *tap_argv]
    run = _run(argv, api_key, tmp_path, 120)
    peak = next(
        float(line.split()[1]) for line in run.stderr.splitlines() if line.startswith("PEAK_MB")
    )
    return run, peak


def bookmarks(tmp_path: Path) -> dict[str, Any]:
    """The stored state's `bookmarks` (without the run's request counters)."""
    raw = warehouse(tmp_path)["state"][0][0]
    state = json.loads(raw) if isinstance(raw, str) else raw
    return dict(state["bookmarks"])
