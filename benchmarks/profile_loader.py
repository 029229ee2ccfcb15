"""Where the loader's memory and time go as a first load grows (benchmark 9's companion).

Not a benchmark with goals: a profile. For each size it captures tap-equipme's Singer output
for N customers from the sandbox (no latency) once, then replays it into the loader alone,
in this process, with ``equipme-sync``'s loader settings and a DuckDB file: so the tap, the
pipes and the machine's other work do not blur what the loader does. It reports

- the loader's CPU seconds (user + system: barely moved by a shared machine's load) and its
  peak RSS (the kernel's high-water mark, ``ru_maxrss``), per size;
- sampled every ``--every`` seconds: RSS, DuckDB's own accounting (``duckdb_memory()``, by
  tag: ``BASE_TABLE`` is the buffer pool's cached blocks of the tables, ``IN_MEMORY_TABLE``
  the open transaction's rows and the temp tables), glibc malloc in use and free, Arrow;
- per loader step (the change-tracking merge, COMMIT, the state commit, the child sets),
  CPU milliseconds per call in each quarter of the metadata phase: a step whose cost grows
  with the table shows as a rising row.

Run: ``.venv/bin/python benchmarks/profile_loader.py --customers 100000 200000 [--listing]``
(``--listing``: only the customers listing, where the peak is). One process per size (each
starts clean); the JSON (``--json``) keeps every sample.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import bin_path, sandbox_process, write_json
from messages import tap_config

STEPS = {
    "change_tracking.ChangeTracker": ["merge", "_record_history"],
    "duckdb_session.DuckDBSession": ["_commit"],
    "duckdb_deletes.DuckDBDeletes": [
        "commit_state",
        "before_state_commit",
        "apply_child_sets",
        "soft_delete_absent",
    ],
}


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _malloc_mib() -> tuple[float, float]:
    """glibc malloc: (in use, free but kept), MiB; zeros where there is no mallinfo2."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return 0.0, 0.0
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20


def capture(workdir: Path, customers: int, listing_only: bool) -> Path:
    """The tap's output of a first load of `customers` customers, as a file."""
    out = workdir / f"messages-{customers}.jsonl"
    if not out.exists():
        with sandbox_process(customers=customers) as sandbox:
            config = write_json(workdir / "tap.json", tap_config(sandbox.base_url))
            with out.open("wb") as sink:
                subprocess.run(
                    [bin_path("tap-equipme"), "--config", str(config)],
                    stdout=sink,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )
    if not listing_only:
        return out
    listing = workdir / f"listing-{customers}.jsonl"
    activations = 0
    with out.open("rb") as source, listing.open("wb") as sink:
        for line in source:
            sink.write(line)
            activations += b'"ACTIVATE_VERSION"' in line
            if activations == 2:  # the one that closes the listing's version
                break
    return listing


def _time_steps(times: dict[str, list[tuple[float, float, str]]]) -> None:
    """Wrap the loader's steps to record (start, CPU seconds, stream) per call."""
    from tap_equipme.warehouse import change_tracking, duckdb_deletes, duckdb_session

    modules = {
        "change_tracking": change_tracking,
        "duckdb_session": duckdb_session,
        "duckdb_deletes": duckdb_deletes,
    }
    for dotted, names in STEPS.items():
        module, cls_name = dotted.split(".")
        cls = getattr(modules[module], cls_name)
        for name in names:
            setattr(cls, name, _timed(getattr(cls, name), times[name]))


def _timed(
    function: Callable[..., Any], calls: list[tuple[float, float, str]]
) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return function(self, *args, **kwargs)
        finally:
            stream = args[0] if args and isinstance(args[0], str) else ""
            calls.append((started, time.process_time() - cpu, stream))

    return wrapper


def replay(messages: Path, database: Path, every: float) -> dict[str, Any]:
    """Run the loader in this process on `messages` (as stdin); what it cost."""
    import psutil

    from tap_equipme.pipeline.loader_settings import TAP_LOADER_SETTINGS
    from tap_equipme.pipeline.sync import SYNC_BATCH_SIZE_ROWS
    from tap_equipme.warehouse import duckdb_session, target

    config = {
        "batch_size_rows": SYNC_BATCH_SIZE_ROWS,
        "commit_every_rows": SYNC_BATCH_SIZE_ROWS,
        **TAP_LOADER_SETTINGS,
        "destination": "duckdb",
        "path": str(database),
        "run_id": str(uuid.uuid4()),
    }
    config_file = write_json(database.with_suffix(".json"), config)
    connections: list[Any] = []
    opened = duckdb_session.DuckDBSession._open

    def keep(self: Any) -> Any:
        con = opened(self)
        connections.append(con)
        return con

    duckdb_session.DuckDBSession._open = keep  # type: ignore[method-assign]
    times: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    _time_steps(times)
    process, samples, stop = psutil.Process(), [], threading.Event()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()

    def sample() -> None:
        cursor = None
        while not stop.is_set():
            used, free = _malloc_mib()
            row: dict[str, Any] = {
                "t": time.perf_counter() - started,
                "rss": process.memory_info().rss / 2**20,
                "malloc_used": used,
                "malloc_free": free,
            }
            if connections and cursor is None:
                with contextlib.suppress(Exception):
                    cursor = connections[0].cursor()
            if cursor is not None:
                with contextlib.suppress(Exception):
                    row["duckdb"] = {
                        tag: round(used_bytes / 2**20, 1)
                        for tag, used_bytes in cursor.execute(
                            "SELECT tag, memory_usage_bytes FROM duckdb_memory() "
                            "WHERE memory_usage_bytes > 0"
                        ).fetchall()
                    }
            samples.append(row)
            stop.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdin = os.dup(0)
    with messages.open("rb") as source:
        os.dup2(source.fileno(), 0)
        try:
            sys.argv = ["target-duckdb-lake", "--config", str(config_file)]
            with contextlib.suppress(SystemExit):
                target.TargetDuckdbLake.cli(standalone_mode=False)
        finally:
            os.dup2(stdin, 0)
    stop.set()
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - cpu_before.ru_utime) + (usage.ru_stime - cpu_before.ru_stime)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_s": cpu,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "steps": {name: _quarters(calls) for name, calls in times.items()},
        "samples": samples,
    }


def _quarters(calls: list[tuple[float, float, str]]) -> dict[str, Any]:
    """CPU ms per call in each quarter of the calls outside the listing, and totals."""
    later = [c for c in calls if c[2] != "customers"]
    size = max(len(later) // 4, 1)
    return {
        "calls": len(calls),
        "cpu_s": round(sum(c[1] for c in calls), 2),
        "ms_per_call_by_quarter": [
            round(1000 * sum(c[1] for c in later[i * size : (i + 1) * size]) / size, 1)
            for i in range(4)
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--listing", action="store_true", help="the customers listing only")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("--json", type=Path, help="write every sample here")
    parser.add_argument("--workdir", type=Path, help="keep captured tap output here")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # child: replay one file
    args = parser.parse_args(argv)
    if args.one:
        database = args.one.with_suffix(".duckdb")
        result = replay(args.one, database, args.every)
        database.unlink(missing_ok=True)
        print(json.dumps(result))
        return 0
    results = {}
    with tempfile.TemporaryDirectory(prefix="equipme-profile-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for n in sorted(args.customers):
            messages = capture(workdir, n, args.listing)
            child = subprocess.run(
                [sys.executable, __file__, "--one", str(messages), "--every", str(args.every)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            results[n] = result
            steps = ", ".join(
                f"{name} {s['ms_per_call_by_quarter']}" for name, s in result["steps"].items()
            )
            print(
                f"{n:>9,} customers{' (listing only)' if args.listing else ''}: loader CPU "
                f"{result['cpu_s']:.1f} s ({1000 * result['cpu_s'] / n:.3f} ms per customer), "
                f"peak RSS {result['peak_rss_mib']:.0f} MiB; CPU ms per call by quarter: "
                f"{steps}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
