"""`dbt build` of the package in `transform/` over a loaded warehouse (the DAG's transform task).

dbt lives in a venv of its own (`make dbt` -> `.venv-dbt`: dbt-core's pins clash with
Airflow's), so the build is a subprocess: the `dbt` of `EQUIPME_DBT` if set, else
`.venv-dbt/bin/dbt` of this checkout, else `dbt` on PATH. The warehouse is attached read-only
by the package's plugin; the models go to a DuckDB file of their own (default: beside the
warehouse, `<name>_dbt.duckdb`). The outcome is read from dbt's `run_results.json`, not from
its log: a failed model or test raises `TransformError` naming the nodes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = ROOT / "transform"
LAKE_ENV = {
    "lake_data_path": "EQUIPME_LAKE_DATA_PATH",
    "s3_endpoint": "EQUIPME_S3_ENDPOINT",
    "s3_region": "EQUIPME_S3_REGION",
    "s3_url_style": "EQUIPME_S3_URL_STYLE",
    "s3_use_ssl": "EQUIPME_S3_USE_SSL",
}
"""Destination `ducklake`: lake settings -> the variables the package's profile reads."""


class TransformError(Exception):
    """dbt could not run, or a model or test failed (the message names them)."""


@dataclasses.dataclass
class TransformSummary:
    """What one `dbt build` did."""

    models: int
    tests_passed: int
    tests_warned: int
    dbt_path: str
    warnings: list[str]
    duration_seconds: float

    def as_dict(self) -> dict[str, t.Any]:
        """JSON-serialisable (the DAG's XCom)."""
        return dataclasses.asdict(self)


def dbt_executable() -> str:
    """The dbt to run: `EQUIPME_DBT`, else this checkout's `.venv-dbt`, else PATH."""
    chosen = os.environ.get("EQUIPME_DBT")
    if chosen:
        return chosen
    local = ROOT / ".venv-dbt" / "bin" / "dbt"
    if local.is_file():
        return str(local)
    found = shutil.which("dbt")
    if not found:
        msg = "dbt is not installed: run `make dbt` (creates .venv-dbt) or set EQUIPME_DBT."
        raise TransformError(msg)
    return found


def default_dbt_path(destination: str, path: str | os.PathLike[str]) -> Path:
    """Where the models go unless told: a DuckDB file beside the warehouse.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The warehouse (file, directory or catalog).

    Returns:
        `<stem>_dbt.duckdb` beside a DuckDB file or Parquet directory; for a lake (a catalog,
        not a place on disk) `equipme_dbt.duckdb` in the working directory.
    """
    if destination == "ducklake":
        return Path("equipme_dbt.duckdb").resolve()
    location = Path(path).resolve()
    return location.with_name(f"{location.stem}_dbt.duckdb")


def run_dbt(
    args: list[str],
    destination: str,
    path: str | os.PathLike[str],
    *,
    lake: t.Mapping[str, t.Any] | None = None,
    dbt_path: str | os.PathLike[str] | None = None,
    timeout: float = 1800.0,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run one dbt command (`["build"]`, `["docs", "generate"]`, ...) on the package.

    Args:
        args: The dbt command and its own arguments.
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The DuckDB file, the Parquet directory or the DuckLake catalog.
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings (credentials stay in the
            environment: `PGPASSWORD`, `AWS_*`).
        dbt_path: The DuckDB file the models go to (default `default_dbt_path`).
        timeout: Seconds before dbt is stopped.

    Returns:
        The finished process (output captured) and dbt's target directory (artefacts).

    Raises:
        TransformError: If dbt is missing or does not run to the end.
    """
    lake = dict(lake or {})
    out = Path(dbt_path) if dbt_path else default_dbt_path(destination, path)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.with_name(out.stem + "_target")
    # A run_results.json left by an earlier run must not stand for this one.
    (work / "run_results.json").unlink(missing_ok=True)
    env = {
        **os.environ,
        "EQUIPME_DESTINATION": destination,
        "EQUIPME_WAREHOUSE": str(path),
        "EQUIPME_DBT_PATH": str(out),
        "EQUIPME_DBT_DIR": str(PROJECT_DIR),
        # dbt's artefacts and log next to its database, never into the installed package.
        "DBT_TARGET_PATH": str(work),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    env.update({LAKE_ENV[k]: str(v) for k, v in lake.items() if k in LAKE_ENV and v is not None})
    command = [dbt_executable(), *args, "--project-dir", str(PROJECT_DIR)]
    command += ["--profiles-dir", str(PROJECT_DIR), "--target", destination]
    if destination == "ducklake":
        command += ["--vars", json.dumps({"equipme_schema": lake.get("lake_schema") or "main"})]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TransformError(f"dbt {' '.join(args)} did not run to the end: {exc}") from None
    return done, work


def run_dbt_build(
    destination: str,
    path: str | os.PathLike[str],
    *,
    lake: t.Mapping[str, t.Any] | None = None,
    dbt_path: str | os.PathLike[str] | None = None,
    select: str | None = None,
    timeout: float = 1800.0,
    echo: bool = True,
) -> TransformSummary:
    """Build (models and tests) the package over a warehouse.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The DuckDB file, the Parquet directory or the DuckLake catalog.
        lake: As for `run_dbt`.
        dbt_path: As for `run_dbt`.
        select: A dbt selection (default: everything).
        timeout: Seconds before dbt is stopped.
        echo: Print dbt's log lines (the DAG's task log).

    Returns:
        The counts of built models and tests.

    Raises:
        TransformError: If dbt is missing, fails to start, or a node errors or fails.
    """
    import time

    started = time.monotonic()
    args = ["build", *(["--select", select] if select else [])]
    done, work = run_dbt(args, destination, path, lake=lake, dbt_path=dbt_path, timeout=timeout)
    if echo:
        print(done.stdout, end="")
    results = work / "run_results.json"
    if not results.is_file():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise TransformError(f"dbt build failed (exit {done.returncode}):\n{tail}")
    summary = _summarise(json.loads(results.read_text()), work, time.monotonic() - started)
    if done.returncode != 0:
        tail = "\n".join(done.stdout.strip().splitlines()[-15:])
        raise TransformError(f"dbt build failed (exit {done.returncode}):\n{tail}")
    return summary


def _summarise(results: dict[str, t.Any], work: Path, seconds: float) -> TransformSummary:
    nodes = results.get("results", [])
    bad = [
        f"{r['unique_id']} ({r['status']}: {(r.get('message') or '').strip()[:200]})"
        for r in nodes
        if r.get("status") in ("error", "fail", "runtime error")
    ]
    if bad:
        raise TransformError("dbt build failed: " + "; ".join(bad))
    kinds = [(r["unique_id"].split(".", 1)[0], r.get("status")) for r in nodes]
    return TransformSummary(
        models=sum(1 for kind, status in kinds if kind == "model" and status == "success"),
        tests_passed=sum(1 for kind, status in kinds if kind == "test" and status == "pass"),
        tests_warned=sum(1 for kind, status in kinds if kind == "test" and status == "warn"),
        dbt_path=str(work.with_name(work.name.removesuffix("_target") + ".duckdb")),
        warnings=[
            f"{r['unique_id']}: {(r.get('message') or '').strip()[:200]}"
            for r in nodes
            if r.get("status") == "warn"
        ],
        duration_seconds=round(seconds, 1),
    )
