"""The tap and target processes of one sync: start, relay, forward signals, stop, report."""

from __future__ import annotations

import contextlib
import fcntl
import signal
import subprocess
import threading
import time
import typing as t
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from tap_equipme.pipeline.pipes import RecordRelay, StderrTail, redact
from tap_equipme.pipeline.sync_errors import SyncError, SyncInterrupted

if t.TYPE_CHECKING:
    from tap_equipme.pipeline.summary import SyncSummary

STOP_GRACE_SECONDS = 20.0
PIPE_BYTES = 16384
"""Capacity of the pipes tap -> pipeline and pipeline -> loader (Linux default: 64 KiB each).

What the tap has written but the loader has not committed is fetched again after a kill: the
pipes bound that lead. At 16 KiB each they hold about 40 customers' metadata and reads rows
(at 64 KiB, some 300 customers with the relay's block), while a page of the listing
(the largest message burst) still moves in a few wake-ups.
"""


class _SpawnGate:
    """Holds back a signal's `SyncInterrupted` while the children are being started.

    Raised between a child's start and its entry in the list of children, it would leave
    that child running unknown to the pipeline: a loader whose input then ends when this
    process exits, and which records the stopped run as `succeeded`.
    """

    def __init__(self, children: list[subprocess.Popen[bytes]]) -> None:
        self.children = children
        self.holding = True
        self.pending: int | None = None

    def release(self) -> None:
        """Every child is listed: deliver a signal that came meanwhile (to all of them).

        Raises:
            SyncInterrupted: If a signal came while the children were being started.
        """
        self.holding = False
        if self.pending is not None:
            for child in self.children:
                if child.poll() is None:
                    child.send_signal(self.pending)
            raise SyncInterrupted(self.pending)


@contextmanager
def _forwarded_signals(children: list[subprocess.Popen[bytes]]) -> Iterator[_SpawnGate]:
    """Forward SIGTERM / SIGINT to the children, then stop the run (main thread only)."""
    gate = _SpawnGate(children)
    if threading.current_thread() is not threading.main_thread():
        yield gate
        return
    previous: dict[int, t.Any] = {}

    def forward(signum: int, frame: t.Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)
        handler = previous.get(signum)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(signum, frame)  # e.g. Airflow's own handler: let it do its job too
        if gate.holding:
            gate.pending = signum
            return
        raise SyncInterrupted(signum)

    for signum in (int(signal.SIGTERM), int(signal.SIGINT)):
        previous[signum] = signal.signal(signum, forward)
    try:
        yield gate
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop(child: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> None:
    """Terminate a child still running, then kill it if it ignores SIGTERM."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


class _Progress:
    """Prints a line with the records relayed so far, every `interval` seconds."""

    def __init__(self, relay: RecordRelay, interval: float, out: t.TextIO | None) -> None:
        self.relay, self.interval, self.out = relay, interval, out
        self.started = self.last = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        if self.out is None or self.interval <= 0 or now - self.last < self.interval:
            return
        self.last = now
        elapsed = now - self.started
        counts = ", ".join(f"{name} {n:,}" for name, n in sorted(self.relay.records.items()))
        total = sum(self.relay.records.values())
        self.out.write(
            f"equipme-sync: {elapsed:6.1f} s  {counts or 'no records yet'}"
            f"  ({total / max(elapsed, 1e-9):,.0f} records/s)\n"
        )
        self.out.flush()


def run_processes(
    summary: SyncSummary,
    tap_argv: list[str],
    tap_env: dict[str, str],
    target_argv: list[str],
    target_env: dict[str, str],
    secrets: list[str],
    *,
    progress: tuple[float, t.TextIO | None],
    echo_logs: bool,
) -> None:
    """Start the target, then the tap; relay; stop the other side if one fails."""
    children: list[subprocess.Popen[bytes]] = []
    # Signals are forwarded from before the first child starts: a signal that came between
    # a spawn and the relay would leave a child running and this process waiting on it.
    with _forwarded_signals(children) as gate:
        echo = progress[1] if echo_logs else None
        try:
            target = _spawn(target_argv, target_env, "target", stdin=subprocess.PIPE)
            children.append(target)
            tap = _spawn(tap_argv, tap_env, "tap", stdin=subprocess.DEVNULL)
            children.append(tap)
            gate.release()
        except SyncError:
            for child in children:
                _stop(child)
            summary.status = "failed"
            raise
        assert tap.stdout
        assert tap.stderr
        assert target.stdin
        for pipe in (tap.stdout, target.stdin):
            _shrink_pipe(pipe.fileno())
        assert target.stdout
        assert target.stderr
        tails = {
            "tap": StderrTail("tap", tap.stderr, secrets, echo=echo),
            "target": StderrTail("target", target.stderr, secrets, echo=echo),
        }
        # The target's stdout carries the committed STATE lines; drain it so it never blocks.
        StderrTail("target-stdout", target.stdout, secrets)
        relay = RecordRelay(tap.stdout, target.stdin)
        ticker = _Progress(relay, *progress)
        target_failed_first = False
        try:
            relay.start()
            while relay.is_alive():
                relay.join(0.2)
                ticker.tick()
                if target.poll() is not None and tap.poll() is None:
                    target_failed_first = True
                    _stop(tap)
            tap_code = tap.wait()
            if tap_code != 0 and target.poll() is None:
                # Abort the load: the target rolls back its open batch and marks the run
                # failed; batches committed earlier (with their states) stay.
                target.send_signal(signal.SIGTERM)
            relay.close_sink()
            target_code = target.wait()
        finally:
            summary.records = dict(relay.records)
            for child in children:
                _stop(child)
            relay.close_sink()
            for tail in tails.values():
                tail.join(5)
                if echo is None and progress[1] is not None:
                    # Warnings (e.g. an unknown setting) must reach the user even on success.
                    for line in tail.warnings:
                        progress[1].write(f"equipme-sync: {tail.name}: {line}\n")
            summary.requests = tails["tap"].request_stats
        failure = _failure(tap_code, target_code, target_failed_first, relay, tails)
        if failure:
            summary.status = "failed"
            summary.failure = redact(failure, secrets)
            raise SyncError(summary.failure, summary)


def _shrink_pipe(fd: int, size: int = PIPE_BYTES) -> None:
    """Set a pipe's capacity (Linux); elsewhere, or if refused, keep the default."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setpipe is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, setpipe, size)


def _spawn(
    argv: list[str], env: dict[str, str], side: str, *, stdin: t.Any
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
    except OSError as exc:
        msg = f"equipme-sync: cannot start the {side} ({argv[0]!r}): {exc.strerror}."
        raise SyncError(msg) from exc


def _failure(
    tap_code: int,
    target_code: int,
    target_failed_first: bool,
    relay: RecordRelay,
    tails: Mapping[str, StderrTail],
) -> str | None:
    """Return the failure paragraph of a run, or None if both sides succeeded."""
    if tap_code == 0 and target_code == 0:
        if relay.dropped_partial_line:
            return "equipme-sync: the tap's output ended in the middle of a message."
        return None
    side, code = ("tap", tap_code)
    if target_failed_first or (tap_code == 0 and target_code != 0):
        side, code = ("target", target_code)
    lines = "\n".join(f"    {line}" for line in tails[side].last_lines(15))
    return (
        f"equipme-sync: the {side} failed (exit code {code}); the stored bookmark was not "
        f"advanced past the last committed batch. Last lines of the {side}'s log:\n{lines}"
    )
