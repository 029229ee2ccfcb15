"""Shared benchmark machinery: a sandbox in its own process, timed commands with peak RSS.

Every subject runs as its own OS process (as a user would run it), so wall times include
interpreter start-up for all of them alike, and peak RSS covers the whole process tree.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
import requests

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# A benchmark-only key; passed through the environment, never on a command line.
BENCH_API_KEY = "bench-key-not-a-secret"
SAMPLE_EVERY_S = 0.02
# Every child finds this venv's console scripts first (as in tests/conftest.py).
os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def bin_path(name: str) -> str:
    """A console script installed beside the running interpreter."""
    return str(BIN / name)


@dataclass
class Sandbox:
    """A running ``equipme-sandbox`` process."""

    base_url: str
    process: subprocess.Popen[str]

    def stats(self) -> dict[str, Any]:
        response = requests.get(f"{self.base_url}/_sandbox/stats", timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def reset(self, customers: int, seed: int = 1) -> None:
        """Regenerate the data set (also clears faults and stats)."""
        requests.post(
            f"{self.base_url}/_sandbox/reset",
            json={"customers": customers, "seed": seed},
            timeout=600,
        ).raise_for_status()

    def clear_stats(self) -> None:
        requests.post(f"{self.base_url}/_sandbox/stats/clear", timeout=30).raise_for_status()

    def set_faults(self, **fields: Any) -> None:
        requests.post(
            f"{self.base_url}/_sandbox/faults", json=fields, timeout=30
        ).raise_for_status()


@contextmanager
def sandbox_process(customers: int, seed: int = 1, latency_ms: float = 0.0) -> Iterator[Sandbox]:
    """Start the sandbox CLI on a free port; stop it with SIGTERM on exit."""
    env = {**os.environ, "EQUIPME_SANDBOX_API_KEY": BENCH_API_KEY}
    command = [bin_path("equipme-sandbox"), "--port", "0", "--customers", str(customers)]
    command += ["--seed", str(seed), "--latency-ms", str(latency_ms)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"equipme-sandbox did not start: {line!r}")
        yield Sandbox(base_url=line.rsplit(" ", 1)[-1].strip(), process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def tree_rss(
    process: psutil.Process,
    peaks: dict[str, int] | None = None,
    cpu: dict[str, dict[int, float]] | None = None,
) -> int:
    """Resident memory of a process and all its descendants, in bytes.

    With ``peaks``, also keeps the highest RSS seen per program (``tap-equipme``, ...); with
    ``cpu``, the CPU seconds (user + system) last seen per program and process id.
    """
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            rss = member.memory_info().rss
            if peaks is not None or cpu is not None:
                name = program_name(member)
            if peaks is not None:
                peaks[name] = max(peaks.get(name, 0), rss)
            if cpu is not None:
                times = member.cpu_times()
                cpu.setdefault(name, {})[member.pid] = times.user + times.system
        except psutil.Error:
            continue
        total += rss
    return total


def program_name(process: psutil.Process) -> str:
    """The console script a Python process runs (its first argument that is not python)."""
    for argument in process.cmdline()[:3]:
        name = Path(argument).name
        if name and not name.startswith("python"):
            return name
    return process.name()


@dataclass
class Measured:
    """What one timed command cost."""

    seconds: float
    peak_rss: int
    peaks_by_program: dict[str, int]
    returncode: int
    stderr: str
    cpu_by_program: dict[str, float] | None = None
    """CPU seconds (user + system) per program, as last sampled (every `SAMPLE_EVERY_S`):
    unlike wall time, barely moved by other work on a shared machine."""


def run_measured(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: IO[Any] | None = None,
    stdout: IO[Any] | int | None = subprocess.DEVNULL,
    cwd: Path | None = None,
    check: bool = True,
) -> Measured:
    """Run a command to completion; wall time and the peak RSS of its process tree."""
    started = time.perf_counter()
    # stderr goes to a temporary file: a pipe could fill up and stall a chatty child.
    with tempfile.TemporaryFile() as stderr_file:
        process = subprocess.Popen(
            list(command),
            env={**os.environ, **(env or {})},
            stdin=stdin,
            stdout=stdout,
            stderr=stderr_file,
            cwd=cwd,
        )
        peak = 0
        by_program: dict[str, int] = {}
        cpu_seen: dict[str, dict[int, float]] = {}
        watched = psutil.Process(process.pid)
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss(watched, by_program, cpu_seen))
                stop.wait(SAMPLE_EVERY_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode = process.wait()
        seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
        stderr_file.seek(0)
        stderr = stderr_file.read().decode("utf-8", "replace")
    if check and returncode != 0:
        tail = "\n".join(stderr.splitlines()[-25:])
        raise RuntimeError(f"{command[0]} exited {returncode}:\n{tail}")
    return Measured(
        seconds=seconds,
        peak_rss=peak,
        peaks_by_program=by_program,
        returncode=returncode,
        stderr=stderr,
        cpu_by_program={name: sum(pids.values()) for name, pids in cpu_seen.items()},
    )


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


def machine_description() -> str:
    """``nproc``, CPU model and RAM of this machine, for the results table."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = psutil.virtual_memory().total / 2**30
    cores = os.cpu_count()
    return (
        f"{cores} CPU ({model}), {ram_gib:.1f} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )
