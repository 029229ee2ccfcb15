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
import sys
import tempfile
import time
import typing as t
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from tap_equipme.pipeline.lake_connection import CREDENTIAL_ENV, LAKE_SETTINGS
from tap_equipme.pipeline.lineage import JOB_NAME, describe_run, emit_run_event, lineage_configured
from tap_equipme.pipeline.loader_settings import CHILD_SETS, TAP_LOADER_SETTINGS
from tap_equipme.pipeline.processes import run_processes
from tap_equipme.pipeline.schema_report import read_schema_changes
from tap_equipme.pipeline.stored_state import bookmark_of, read_pipeline_state, warehouse_location
from tap_equipme.pipeline.summary import SyncSummary, read_loads
from tap_equipme.pipeline.sync_errors import SyncError, SyncInterrupted

ENV_PREFIX = "TAP_EQUIPME_"
SECRET_SETTINGS = ("api_key", "personal_data_key")
"""Tap settings that reach the tap only through its environment (never a file or argv)."""
DESTINATIONS = ("duckdb", "parquet", "ducklake")
# A sync is paced by the API (one metadata request per customer), not by the target, so
# small batches, each committed, cost it nothing and keep its memory flat as the data grows
# (make bench, goal 4): an open DuckDB transaction holds its uncommitted rows in memory.
SYNC_BATCH_SIZE_ROWS = 10_000


def _write_private_json(directory: Path, name: str, payload: t.Any) -> Path:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    return path


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
    from tap_equipme import personal_data
    from tap_equipme.config_checks import config_problems

    checked = dict(tap_config)
    if env_settings:
        for name in list(checked):
            if f"{ENV_PREFIX}{name.upper()}" in os.environ:
                del checked[name]
        checked.setdefault("api_key", os.environ.get(f"{ENV_PREFIX}API_KEY"))
    problems = config_problems(checked)
    problems += personal_data.config_problems(checked, os.environ if env_settings else {})
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
    lineage_events: bool = True,
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
            credentials come from this process's environment (`CREDENTIAL_ENV`).
        restart: Start over even if the stored state records an unfinished run (by default
            a run continues an interrupted one of the same mode where it stopped).
        lineage_events: Send OpenLineage START / COMPLETE / FAIL events when openlineage-python
            is configured (`pipeline.lineage`); the DAG passes False, as Airflow's OpenLineage
            provider reports its tasks from `SyncSummary.lineage`.

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
    location = warehouse_location(destination, path, lake)
    secrets = [str(tap_config[k]) for k in SECRET_SETTINGS if tap_config.get(k)]
    secrets += [os.environ[n] for n in CREDENTIAL_ENV if os.environ.get(n)]
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
    state_before = read_pipeline_state(destination, location, lake)
    summary.bookmark_before = bookmark_of(state_before)
    _say_resume(state_before, summary.sync_mode, restart, progress_out)
    api_url = str(tap_config.get("api_url") or os.environ.get(f"{ENV_PREFIX}API_URL") or "")
    job_name = f"{JOB_NAME}.{summary.sync_mode}"
    send_lineage = lineage_events and lineage_configured()
    if send_lineage:
        # START names the tables the run is about to write (COMPLETE: those it wrote).
        streams = [name for c in CHILD_SETS for name in (c["parent_stream"], c["stream"])]
        expected: dict[str, dict[str, t.Any]] = {name: {} for name in streams}
        planned = describe_run(api_url, destination, location, lake, expected, read_schemas=False)
        emit_run_event("START", summary.run_id, job_name, planned, out=progress_out)
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
        for name in CREDENTIAL_ENV:  # the tap never needs the lake's credentials
            tap_env.pop(name, None)
        target_config = {
            "batch_size_rows": SYNC_BATCH_SIZE_ROWS,
            "commit_every_rows": SYNC_BATCH_SIZE_ROWS,
            **TAP_LOADER_SETTINGS,
            **(target_settings or {}),
            **lake,
            "destination": destination,
            "path": location,
            "run_id": summary.run_id,
        }
        target_file = _write_private_json(workdir, "target.json", target_config)
        target_env = {k: v for k, v in env.items() if not k.startswith(ENV_PREFIX)}
        run_processes(
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
        if destination == "ducklake":
            # A lake is read by others attaching it: its views are there after every load
            # (a DuckDB file gets them from the DAG's publish task or `equipme-sync publish`).
            _publish_lake_views(summary, location, lake)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        summary.duration_seconds = round(time.monotonic() - started, 3)
        try:
            summary.bookmark_after = bookmark_of(read_pipeline_state(destination, location, lake))
            summary.loads = read_loads(destination, location, summary.run_id, lake)
            summary.schema_changes = read_schema_changes(
                destination, location, summary.run_id, lake
            )
            summary.lineage = describe_run(api_url, destination, location, lake, summary.loads)
        except Exception:  # noqa: S110 - a summary must not hide the real failure
            pass
        if send_lineage:
            _emit_end(summary, job_name, sys.exc_info()[1], progress_out)
    summary.status = "succeeded"
    return summary


def _publish_lake_views(
    summary: SyncSummary, catalog: str | os.PathLike[str], lake: Mapping[str, t.Any]
) -> None:
    from tap_equipme.pipeline.reporting_views import create_lake_views
    from tap_equipme.warehouse.load_errors import WarehouseError

    try:
        create_lake_views(str(catalog), lake)
    except WarehouseError as exc:
        summary.status = "failed"
        summary.failure = str(exc)
        raise SyncError(f"equipme-sync: {exc}", summary) from None


def _emit_end(
    summary: SyncSummary, job_name: str, error: BaseException | None, out: t.TextIO | None
) -> None:
    """Send the run's COMPLETE, or FAIL with its reason (only this package's redacted ones)."""
    if error is None:
        emit_run_event("COMPLETE", summary.run_id, job_name, summary.lineage, out=out)
        return
    reason = summary.failure or (
        str(error) if isinstance(error, SyncError) else f"{type(error).__name__} (see the log)"
    )
    emit_run_event("FAIL", summary.run_id, job_name, summary.lineage, error=reason, out=out)


__all__ = [
    "LAKE_SETTINGS",
    "SyncError",
    "SyncInterrupted",
    "console_script",
    "run_sync",
]
