"""`equipme-sync`: run `tap-equipme | target-duckdb-lake` with the state kept in the warehouse.

The pipeline only wires the two processes: it reads the last committed state from the
warehouse, starts the tap with it and the target with a fresh run id, relays the tap's
output into the target (counting records for the progress line), and checks both exits. The
target commits each state together with the data it covers, so the pipeline never writes
state itself. The API key reaches the tap through its environment, never its argv.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from tap_equipme.pipeline.pipes import RecordRelay, StderrTail, redact
from tap_equipme.pipeline.schema_report import read_schema_changes
from tap_equipme.pipeline.summary import SyncSummary, read_loads

ENV_PREFIX = "TAP_EQUIPME_"
SECRET_SETTINGS = ("api_key",)
DESTINATIONS = ("duckdb", "parquet", "ducklake")
LAKE_SETTINGS = (
    "lake_data_path",
    "lake_schema",
    "s3_endpoint",
    "s3_region",
    "s3_url_style",
    "s3_use_ssl",
)
"""The loader settings of destination `ducklake` that `run_sync(lake=...)` passes on."""
LAKE_CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PGPASSWORD",
)
"""Lake credentials: only the loader gets them (from this environment); logs are redacted."""
STOP_GRACE_SECONDS = 20.0
# A sync is paced by the API (one metadata request per customer), not by the target, so
# small batches, each committed, cost it nothing and keep its memory flat as the data grows
# (make bench, goal 4): an open DuckDB transaction holds its uncommitted rows in memory.
SYNC_BATCH_SIZE_ROWS = 10_000


class SyncError(Exception):
    """A failed run: the message is one redacted paragraph; `summary` tells what landed."""

    def __init__(self, message: str, summary: SyncSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


class SyncInterrupted(SyncError):
    """The run was stopped by SIGTERM / SIGINT (forwarded to the tap and the target)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"equipme-sync: stopped by signal {signum}; the state was not advanced.")
        self.signum = signum


def _write_private_json(directory: Path, name: str, payload: t.Any) -> Path:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    return path


def _read_state(
    destination: str, path: Path | str, lake: Mapping[str, t.Any] | None = None
) -> dict[str, t.Any] | None:
    from tap_equipme.warehouse.errors import WarehouseError
    from tap_equipme.warehouse.state import read_state

    try:
        state = read_state(destination, path, lake)
    except WarehouseError as exc:
        raise SyncError(f"equipme-sync: {exc}") from exc
    bookmark = _bookmark(state)
    if bookmark is not None:
        try:
            datetime.fromisoformat(bookmark.replace("Z", "+00:00"))
        except ValueError:
            msg = (
                f"equipme-sync: the stored state in {path} is corrupt: the customers bookmark "
                f"{bookmark!r} is not an ISO-8601 date-time. Restore it, or delete it to start "
                "over from the start date."
            )
            raise SyncError(msg) from None
    return state


def _location(destination: str, path: str | os.PathLike[str], lake: Mapping[str, t.Any]) -> str:
    """Resolve `path` (a DuckLake catalog is checked, not resolved) and create its directory."""
    if destination == "ducklake":
        from tap_equipme.warehouse.errors import WarehouseError
        from tap_equipme.warehouse.lake import lake_settings

        try:
            return lake_settings(path, lake).catalog
        except WarehouseError as exc:
            raise SyncError(f"equipme-sync: {exc}") from None
    location = Path(path).expanduser().resolve()
    try:
        (location.parent if destination == "duckdb" else location).mkdir(
            parents=True, exist_ok=True
        )
    except OSError as exc:
        msg = f"equipme-sync: setting 'path' {str(path)!r}: cannot create its directory: {exc}"
        raise SyncError(msg) from exc
    return str(location)


def _bookmark(state: Mapping[str, t.Any] | None) -> str | None:
    from tap_equipme.warehouse.state import bookmark_of

    return bookmark_of(dict(state) if state is not None else None)


@contextmanager
def _forwarded_signals(children: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """Forward SIGTERM / SIGINT to the children, then stop the run (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, t.Any] = {}

    def forward(signum: int, frame: t.Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)
        handler = previous.get(signum)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(signum, frame)  # e.g. Airflow's own handler: let it do its job too
        raise SyncInterrupted(signum)

    for signum in (int(signal.SIGTERM), int(signal.SIGINT)):
        previous[signum] = signal.signal(signum, forward)
    try:
        yield
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


def _tap_files(
    workdir: Path,
    tap_config: Mapping[str, t.Any],
    full_refresh: bool,
    state: Mapping[str, t.Any] | None,
    restart: bool = False,
) -> tuple[list[str], dict[str, str]]:
    """Write the tap's config (no secrets) and state files; return its args and env."""
    from tap_equipme.listing.checkpoint import progress_only

    settings = {k: v for k, v in tap_config.items() if k not in SECRET_SETTINGS}
    if full_refresh:
        settings["full_refresh"] = True
        # A full refresh ignores the bookmark, but continues an interrupted full refresh.
        state = progress_only(state)
    if restart:
        settings["restart"] = True
    args = ["--config", str(_write_private_json(workdir, "tap.json", settings))]
    env = {
        f"{ENV_PREFIX}{k.upper()}": str(tap_config[k]) for k in SECRET_SETTINGS if k in tap_config
    }
    args += ["--config", "ENV"]
    # A full refresh starts from nothing (but its own progress); otherwise the tap resumes
    # from the stored state.
    if state is not None:
        args += ["--state", str(_write_private_json(workdir, "state.json", dict(state)))]
    return args, env


def _say_resume(
    state: Mapping[str, t.Any] | None, mode: str, restart: bool, out: t.TextIO | None
) -> None:
    """Print whether this run continues an interrupted one (`resuming run 36a63fa4: ...`)."""
    from tap_equipme.listing.checkpoint import resume_line

    line = resume_line(state, mode, restart=restart)
    if line and out is not None:
        out.write(f"equipme-sync: {line}\n")
        out.flush()


def _check_tap_settings(tap_config: Mapping[str, t.Any], env_settings: bool) -> None:
    """Refuse invalid tap settings before any process starts or any file is created.

    Settings a `TAP_EQUIPME_*` variable overrides are left to the tap (it parses them).
    """
    from tap_equipme.config_checks import config_problems

    checked = dict(tap_config)
    if env_settings:
        for name in list(checked):
            if f"{ENV_PREFIX}{name.upper()}" in os.environ:
                del checked[name]
        checked.setdefault("api_key", os.environ.get(f"{ENV_PREFIX}API_KEY"))
    problems = config_problems(checked)
    if problems:
        msg = f"equipme-sync: invalid tap settings, nothing was run: {' '.join(problems)}"
        raise SyncError(msg)


def console_script(name: str) -> list[str]:
    """Return the command of one of this package's console scripts.

    The one installed beside the running interpreter wins, so `.venv/bin/equipme-sync` (or an
    Airflow worker's Python) works without the venv on PATH.

    Args:
        name: `tap-equipme` or `target-duckdb-lake`.

    Returns:
        The command line.
    """
    beside = Path(sys.executable).parent / name
    return [str(beside)] if beside.is_file() else [name]


def run_sync(
    tap_config: Mapping[str, t.Any],
    destination: str,
    path: str | os.PathLike[str],
    full_refresh: bool = False,
    *,
    run_id: str | None = None,
    progress_interval: float = 5.0,
    progress_out: t.TextIO | None = sys.stderr,
    echo_logs: bool = False,
    env_settings: bool = False,
    tap_command: Sequence[str] | None = None,
    target_command: Sequence[str] | None = None,
    target_settings: Mapping[str, t.Any] | None = None,
    lake: Mapping[str, t.Any] | None = None,
    restart: bool = False,
) -> SyncSummary:
    """Run one sync: tap -> target, with the state read from and written to the warehouse.

    Args:
        tap_config: Tap settings (`api_key`, `api_url`, ...). The key goes to the tap through
            its environment; everything else through a private temp file.
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The DuckDB file, the Parquet directory or the DuckLake catalog.
        full_refresh: Ignore the stored bookmark, read everything, mark absent rows deleted.
        run_id: Identifier of this run in `_equipme_loads` (default: a new UUID).
        progress_interval: Seconds between progress lines (0: none).
        progress_out: Where progress and echoed logs go (None: nowhere).
        echo_logs: Echo the tap's and the target's logs (redacted) to `progress_out`.
        env_settings: Let `TAP_EQUIPME_*` variables of this process override `tap_config`
            (the CLI does); otherwise they are removed from the tap's environment.
        tap_command: The tap's command line (default `tap-equipme` beside this Python, else
            on PATH; tests substitute fakes).
        target_command: The target's command line (default `target-duckdb-lake`, found alike).
        target_settings: Extra target settings (e.g. `batch_size_rows`).
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings (see `LAKE_SETTINGS`);
            credentials come from this process's environment (`LAKE_CREDENTIAL_ENV`).
        restart: Start over even if the stored state records an unfinished run (by default
            a run continues an interrupted one of the same mode where it stopped).

    Returns:
        The summary of the run.

    Raises:
        SyncError: If either side fails; the message names the side and quotes its last log
            lines (API key redacted), the summary tells what landed. The stored bookmark is
            then the one from before the run.
    """
    if destination not in DESTINATIONS:
        msg = (
            f"equipme-sync: setting 'destination' must be one of {list(DESTINATIONS)}, "
            f"got {destination!r}."
        )
        raise SyncError(msg)
    _check_tap_settings(tap_config, env_settings)
    lake = {k: v for k, v in (lake or {}).items() if k in LAKE_SETTINGS and v is not None}
    location = _location(destination, path, lake)
    secrets = [str(tap_config[k]) for k in SECRET_SETTINGS if tap_config.get(k)]
    secrets += [os.environ[n] for n in LAKE_CREDENTIAL_ENV if os.environ.get(n)]
    if env_settings:
        secrets += [
            os.environ[f"{ENV_PREFIX}{k.upper()}"]
            for k in SECRET_SETTINGS
            if os.environ.get(f"{ENV_PREFIX}{k.upper()}")
        ]
    summary = SyncSummary(
        run_id=run_id or str(uuid.uuid4()),
        destination=destination,
        path=location,
        full_refresh=full_refresh,
        sync_mode="full_refresh"
        if full_refresh or tap_config.get("full_refresh")
        else str(tap_config.get("sync_mode") or "change_capture"),
    )
    state_before = _read_state(destination, location, lake)
    summary.bookmark_before = _bookmark(state_before)
    _say_resume(state_before, summary.sync_mode, restart, progress_out)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="equipme-sync-"))
    try:
        tap_args, tap_secret_env = _tap_files(
            workdir, tap_config, full_refresh, state_before, restart
        )
        env = dict(os.environ)
        if not env_settings:
            env = {k: v for k, v in env.items() if not k.startswith(ENV_PREFIX)}
        tap_env = {**env, **tap_secret_env} if not env_settings else {**tap_secret_env, **env}
        for name in LAKE_CREDENTIAL_ENV:  # the tap never needs the lake's credentials
            tap_env.pop(name, None)
        target_config = {
            "batch_size_rows": SYNC_BATCH_SIZE_ROWS,
            "commit_every_rows": SYNC_BATCH_SIZE_ROWS,
            **(target_settings or {}),
            **lake,
            "destination": destination,
            "path": location,
            "run_id": summary.run_id,
        }
        target_file = _write_private_json(workdir, "target.json", target_config)
        target_env = {k: v for k, v in env.items() if not k.startswith(ENV_PREFIX)}
        _run_processes(
            summary,
            [*(tap_command or console_script("tap-equipme")), *tap_args],
            tap_env,
            [
                *(target_command or console_script("target-duckdb-lake")),
                "--config",
                str(target_file),
            ],
            target_env,
            secrets,
            progress=(progress_interval, progress_out),
            echo_logs=echo_logs,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        summary.duration_seconds = round(time.monotonic() - started, 3)
        try:
            summary.bookmark_after = _bookmark(_read_state(destination, location, lake))
            summary.loads = read_loads(destination, location, summary.run_id, lake)
            summary.schema_changes = read_schema_changes(
                destination, location, summary.run_id, lake
            )
        except Exception:  # noqa: S110 - a summary must not hide the real failure
            pass
    summary.status = "succeeded"
    return summary


def _run_processes(
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
    with _forwarded_signals(children):
        echo = progress[1] if echo_logs else None
        try:
            target = _spawn(target_argv, target_env, "target", stdin=subprocess.PIPE)
            children.append(target)
            tap = _spawn(tap_argv, tap_env, "tap", stdin=subprocess.DEVNULL)
            children.append(tap)
        except SyncError:
            for child in children:
                _stop(child)
            summary.status = "failed"
            raise
        assert tap.stdout
        assert tap.stderr
        assert target.stdin
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
