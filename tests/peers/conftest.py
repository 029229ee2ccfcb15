"""Fixtures of the peer matrix: Singer taps and targets that other people wrote.

Third-party plugins from PyPI install into venvs of their own (never the project's venv), one
per pinned requirement set, under a cache directory kept between sessions
(`TAP_EQUIPME_PEER_VENVS`, default `~/.cache/tap-equipme/peer-venvs`): the first run pays
about 30-45 s per plugin, later runs nothing. A file lock keeps two xdist workers from
building the same venv at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
TINY_SDK_TAP = [sys.executable, str(HERE / "tiny_sdk_tap.py")]
TARGET = [str(Path(sys.executable).parent / "target-duckdb-lake")]
TAP = [str(Path(sys.executable).parent / "tap-equipme")]


def _cache_root() -> Path:
    configured = os.environ.get("TAP_EQUIPME_PEER_VENVS")
    root = Path(configured) if configured else Path.home() / ".cache/tap-equipme/peer-venvs"
    root.mkdir(parents=True, exist_ok=True)
    return root


def peer_venv(name: str, requirements: Sequence[str]) -> Path:
    """Return the `bin` directory of a venv holding `requirements` (built on first use).

    Args:
        name: A readable prefix of the venv's directory.
        requirements: Pinned pip requirements.

    Returns:
        The venv's `bin` directory.
    """
    key = hashlib.sha256(
        json.dumps([list(requirements), sys.version_info[:2]]).encode()
    ).hexdigest()[:12]
    root = _cache_root() / f"{name}-{key}"
    with (root.parent / f"{root.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / ".installed").exists():
            shutil.rmtree(root, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
            done = subprocess.run(
                [
                    str(root / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    *requirements,
                ],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(f"pip install {' '.join(requirements)} failed:\n{done.stderr[-3000:]}")
            (root / ".installed").touch()
    return root / "bin"


@dataclass
class Pipe:
    """What one `tap | target` run left: both exit codes and both logs."""

    tap_returncode: int
    target_returncode: int
    tap_log: str
    target_log: str
    target_stdout: str

    def check(self) -> Pipe:
        """Fail with both logs unless both sides exited 0."""
        assert (self.tap_returncode, self.target_returncode) == (0, 0), (
            f"tap exited {self.tap_returncode}, target {self.target_returncode}\n"
            f"--- tap ---\n{self.tap_log[-3000:]}\n--- target ---\n{self.target_log[-3000:]}"
        )
        return self


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write a plugin's config file and return its path."""
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def pipe(tap: Sequence[str], target: Sequence[str], *, env: dict[str, str] | None = None) -> Pipe:
    """Run `tap | target` as two real processes joined by an OS pipe, as a shell would.

    Args:
        tap: The tap's argv.
        target: The target's argv.
        env: Extra environment for both.

    Returns:
        Both exit codes and logs.
    """
    full_env = {**os.environ, **(env or {})}
    # The tap's log goes to a file: a pipe nobody reads while the target runs could fill up
    # and stall the tap.
    with tempfile.TemporaryFile() as tap_log:
        tap_proc = subprocess.Popen(list(tap), stdout=subprocess.PIPE, stderr=tap_log, env=full_env)
        assert tap_proc.stdout is not None
        try:
            target_proc = subprocess.run(
                list(target),
                stdin=tap_proc.stdout,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
                env=full_env,
            )
        finally:
            tap_proc.stdout.close()
            tap_proc.wait(timeout=120)
        tap_log.seek(0)
        tap_text = tap_log.read().decode(errors="replace")
    return Pipe(
        tap_proc.returncode,
        target_proc.returncode,
        tap_text,
        target_proc.stderr,
        target_proc.stdout,
    )


@pytest.fixture(scope="session")
def peers() -> SimpleNamespace:
    """The peer helpers (test modules cannot import conftest under importlib)."""
    return SimpleNamespace(
        pipe=pipe,
        venv=peer_venv,
        write_config=write_config,
        tiny_sdk_tap=TINY_SDK_TAP,
        target=TARGET,
        tap=TAP,
    )
