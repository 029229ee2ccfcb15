"""`_equipme_loads` says `succeeded` only for a run whose tap and loader both succeeded.

A test-only `sitecustomize` (`termhook/`) makes the loader receive SIGTERM at a point of its
start or end; the run must fail (the pipeline's error, exit code non-zero), the audit table
must not call it succeeded, the bookmark must not move, and the next run must load.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_equipme.pipeline.sync import SyncError, run_sync

HOOK = Path(__file__).resolve().parent / "termhook"


def _loads(path: Path, run_id: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "SELECT stream, status FROM _equipme_loads WHERE run_id = ? ORDER BY stream", [run_id]
        ).fetchall()
    finally:
        con.close()


def _bookmark(path: Path) -> Any:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT state FROM _equipme_state").fetchall()
    finally:
        con.close()


def _catches_sigterm(pid: int) -> bool:
    """Whether a (Linux) process has a handler for SIGTERM installed."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


@pytest.mark.parametrize("point", ["warehouse-open", "swallowed", "end-of-input"])
def test_a_loader_stopped_by_sigterm_is_never_recorded_as_succeeded(
    point: str, sandbox: Any, tap_config: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    sandbox.control.reset(customers=20, seed=1)
    path = tmp_path / "wh.duckdb"
    first = run_sync(tap_config, "duckdb", path, progress_out=None, run_id="first")
    assert first.status == "succeeded"
    state = _bookmark(path)

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HOOK), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("EQUIPME_TEST_TERM_AT", point)
    with pytest.raises(SyncError) as failure:
        run_sync(tap_config, "duckdb", path, progress_out=None, run_id="stopped")
    # 143 = 128 + SIGTERM: stopped by the hook's signal, not by a hook that broke its import.
    assert "target failed (exit code 143)" in str(failure.value)
    if point != "swallowed":  # there Python prints the ignored exception of the hook's __del__
        assert "Traceback" not in str(failure.value)
    assert all(status != "succeeded" for _, status in _loads(path, "stopped"))
    assert _bookmark(path) == state

    monkeypatch.delenv("EQUIPME_TEST_TERM_AT")
    again = run_sync(tap_config, "duckdb", path, progress_out=None, run_id="again")
    assert again.status == "succeeded"
    assert {status for _, status in _loads(path, "again")} == {"succeeded"}


def test_a_signal_while_the_pipeline_starts_its_processes_leaves_no_loader_behind(
    sandbox: Any, tap_config: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    from tap_equipme.pipeline import processes, sync

    started: list[Any] = []
    warehouse = tmp_path / "wh.duckdb"
    real_spawn = processes._spawn

    def spawn(argv: list[str], env: dict[str, str], side: str, *, stdin: Any) -> Any:
        child = real_spawn(argv, env, side, stdin=stdin)
        started.append(child)
        if side == "target":
            # The loader has checked its settings and installed its SIGTERM handler (it opens
            # the warehouse only at its first message, which needs the tap started next)...
            deadline = time.monotonic() + 60
            while not _catches_sigterm(child.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _catches_sigterm(child.pid), "the loader never got ready"
            # ...when SIGTERM (Airflow stopping the task) comes, before the pipeline lists it.
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10_000):  # the handler runs in here
                pass
        return child

    monkeypatch.setattr(processes, "_spawn", spawn)
    # An in-process tap built by an earlier test on this worker leaves singer-sdk's SIGTERM
    # handler (sys.exit(0)) installed, and the pipeline chains to the handler it finds: start
    # from the default handler, as a fresh `equipme-sync` process does.
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with pytest.raises(sync.SyncInterrupted):
            run_sync(tap_config, "duckdb", warehouse, progress_out=None)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert started
    for child in started:
        if child.stdin:
            child.stdin.close()  # what this process's exit does to the loader's input
        # Stopped by the pipeline, not left to read an ended input and "succeed".
        assert child.wait(60) != 0
        for pipe in (child.stdout, child.stderr):
            pipe.close()
