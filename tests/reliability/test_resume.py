"""Resumable runs: kill a long metadata phase anywhere, run the same command again, and it
continues where the committed state says the run got, with nothing requested twice.

Kill points (SIGKILL of the whole process group, like `kill -9` of a worker, from the
test-only `crashhook/`): in the tap as its N-th metadata request returns, and in the loader
inside an upsert or just before a state commit; plus a SIGTERM (an Airflow task timeout)
sent over real HTTP timing. After the resumed run the warehouse must equal, row for row, a
warehouse loaded by the same runs without the kill; the metadata requests of the resumed run
must be exactly the customers the committed state had not covered.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_equipme.listing.checkpoint import Progress, progress_of

from .compare import compare_with_snapshot
from .runner import Pipeline, SyncRun, kill_group, wait_for_group_exit

CRASH_HOOK = Path(__file__).resolve().parent / "crashhook"
CUSTOMERS = 600
EVERY = 40
"""Tap checkpoint interval in customers (the loader commits at the STATE after 2,000 rows)."""
METADATA_ROUTE = "/v1/sales/customers/{id}/metadata"


def _metadata_requests(sandbox: Any) -> int:
    routes = sandbox.control.stats()["by_route"]
    return sum(n for route, n in routes.items() if route.endswith("/metadata"))


def _list_requests(sandbox: Any) -> int:
    routes = sandbox.control.stats()["by_route"]
    return sum(n for route, n in routes.items() if route.endswith("/v1/sales/customers"))


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table a user reads, data columns plus the deleted flag, in key order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        for table, key, skip in (
            ("customers", "id", set()),
            ("customer_metadata", "customer_id, key", set()),
            ("customer_metadata_reads", "customer_id", {"read_at"}),
        ):
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "ORDER BY column_name",
                    [table],
                ).fetchall()
                if not c.startswith("_") and c not in skip
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            out[table] = con.execute(
                f"SELECT {select}, _deleted_at IS NOT NULL FROM {table} ORDER BY {key}"
            ).fetchall()
    return out


def _state(path: Path) -> dict[str, Any] | None:
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("SELECT state FROM _equipme_state WHERE id = 1").fetchone()
    return json.loads(row[0]) if row else None


def _crash_env(pipeline: Pipeline, point: str, after: int, marker: Path) -> dict[str, str]:
    return pipeline.env(
        PYTHONPATH=str(CRASH_HOOK),
        EQUIPME_TEST_CRASH_AT=point,
        EQUIPME_TEST_CRASH_AFTER=str(after),
        EQUIPME_TEST_CRASH_MARKER=str(marker),
    )


@pytest.fixture
def twins(tmp_path: Path, sandbox: Any, api_key: str) -> tuple[Pipeline, Pipeline]:
    """Two pipelines on the same sandbox data: one is killed and resumed, one runs through."""
    sandbox.control.reset(customers=CUSTOMERS, seed=11)
    settings = {
        "request_timeout": 5,
        "max_retries": 3,
        "backoff_factor": 0.2,
        "checkpoint_every_customers": EVERY,
        "metadata_concurrency": 2,
        # Several pages a pass: a resumed run must certify its listing in one pass.
        "page_size": 100,
    }
    # A few ms per request: the loader (slower to start than the tap) keeps up, as it does
    # over hours of a real API, so a kill finds checkpoints committed.
    sandbox.control.set_faults(latency_ms=4, only_paths="/metadata$")
    made = []
    for name in ("resumed", "reference"):
        folder = tmp_path / name
        folder.mkdir()
        made.append(
            Pipeline(
                tmp_path=folder,
                base_url=sandbox.base_url,
                api_key=api_key,
                warehouse=folder / "warehouse.duckdb",
                settings=dict(settings),
            )
        )
    return made[0], made[1]


def _ok(run: SyncRun) -> SyncRun:
    assert run.returncode == 0, run.describe()
    return run


def _kill_then_resume(
    pipeline: Pipeline, sandbox: Any, point: str, after: int, tmp_path: Path, *args: str
) -> tuple[Progress, int, int, SyncRun, int]:
    """Crash a run at a point, then rerun the same command.

    Returns:
        The committed progress after the crash, the metadata requests of the killed run and
        of the resumed run, the resumed run, and its list requests.
    """
    marker = tmp_path / f"crashed-{point}"
    sandbox.control.clear_stats()
    crashed = pipeline.run(*args, env=_crash_env(pipeline, point, after, marker))
    assert marker.exists(), f"the crash point {point} was never reached: {crashed.describe()}"
    assert crashed.returncode != 0
    killed_requests = _metadata_requests(sandbox)
    progress = progress_of(_state(pipeline.warehouse))
    assert progress is not None, crashed.describe()
    sandbox.control.clear_stats()
    resumed = _ok(pipeline.run(*args))
    return progress, killed_requests, _metadata_requests(sandbox), resumed, _list_requests(sandbox)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "after"),
    [
        ("tap-metadata", 330),  # the tap dies mid-metadata
        ("upsert", 5),  # the loader dies inside an upsert, mid-metadata
        ("before-state", 2),  # the loader dies with data written, the state not committed
    ],
)
def test_first_load_killed_mid_metadata_resumes_without_repeating_requests(
    twins: tuple[Pipeline, Pipeline], sandbox: Any, tmp_path: Path, point: str, after: int
) -> None:
    pipeline, reference = twins
    progress, killed, resumed_requests, resumed, listed = _kill_then_resume(
        pipeline, sandbox, point, after, tmp_path
    )
    assert progress.total == CUSTOMERS
    assert 0 < progress.done < CUSTOMERS
    # Nothing the committed state covers is asked for again ...
    assert resumed_requests == CUSTOMERS - progress.done
    assert killed >= progress.done
    assert f"resuming run {progress.run}: {progress.done:,} of {CUSTOMERS:,}" in resumed.stderr

    sandbox.control.clear_stats()
    _ok(reference.run())
    # ... and the listing is read once, certified by the interrupted run's listing check
    # (a first load without one reads it twice, then once more for the check it leaves).
    pages = -(-CUSTOMERS // 100)
    assert listed <= pages + 3 < _list_requests(sandbox)
    assert _rows(pipeline.warehouse) == _rows(reference.warehouse)
    warehouse = pipeline.read()
    assert warehouse is not None
    comparison = compare_with_snapshot(warehouse, sandbox.control.snapshot())
    assert comparison.ok, comparison.summary()
    assert progress_of(_state(pipeline.warehouse)) is None  # a completed run leaves none


@pytest.mark.slow
@pytest.mark.parametrize("point", ["tap-metadata"])  # loader kill points: the first-load test
def test_full_refresh_killed_resumes_and_deletes_exactly_what_an_uninterrupted_one_does(
    twins: tuple[Pipeline, Pipeline],
    sandbox: Any,
    sandbox_writes: Any,
    tmp_path: Path,
    point: str,
) -> None:
    pipeline, reference = twins
    _ok(pipeline.run())
    _ok(reference.run())
    snapshot = sandbox.control.snapshot()
    ids = sorted(c["id"] for c in snapshot["customers"])
    with_metadata = [int(c) for c, items in sorted(snapshot["metadata"].items()) if items]
    # Changes on both sides of where the kill lands (ids ascending).
    sandbox.control.delete_customers([ids[5], ids[-5]])
    for customer in (with_metadata[3], with_metadata[-3]):
        sandbox_writes.delete_metadata(customer, snapshot["metadata"][str(customer)][0]["key"])
    sandbox_writes.put_metadata(ids[-10], "segment", "gold")

    progress, _, resumed_requests, _, _ = _kill_then_resume(
        pipeline,
        sandbox,
        point,
        300 if point == "tap-metadata" else 5,
        tmp_path,
        "--full-refresh",
    )
    assert progress.mode == "full_refresh"
    assert resumed_requests == (CUSTOMERS - 2) - progress.done
    _ok(reference.run("--full-refresh"))
    assert _rows(pipeline.warehouse) == _rows(reference.warehouse)
    warehouse = pipeline.read()
    assert warehouse is not None
    assert compare_with_snapshot(warehouse, sandbox.control.snapshot()).ok


@pytest.mark.slow
def test_change_capture_run_killed_applies_metadata_deletions_like_an_uninterrupted_one(
    twins: tuple[Pipeline, Pipeline], sandbox: Any, sandbox_writes: Any, tmp_path: Path
) -> None:
    pipeline, reference = twins
    for side in twins:
        side.settings["metadata_refresh_days"] = 1e-6  # every run re-reads all metadata
        _ok(side.run())
    snapshot = sandbox.control.snapshot()
    with_metadata = [int(c) for c, items in sorted(snapshot["metadata"].items()) if items]
    # A key gone before the kill point and one after it; a customer deleted.
    for customer in (with_metadata[2], with_metadata[-2]):
        sandbox_writes.delete_metadata(customer, snapshot["metadata"][str(customer)][0]["key"])
    sandbox.control.delete_customers([with_metadata[-4]])

    progress, _, resumed_requests, _, _ = _kill_then_resume(
        pipeline, sandbox, "tap-metadata", 350, tmp_path
    )
    assert progress.mode == "change_capture"
    assert resumed_requests == (CUSTOMERS - 1) - progress.done
    _ok(reference.run())
    assert _rows(pipeline.warehouse) == _rows(reference.warehouse)


def test_sigterm_mid_metadata_keeps_the_checkpoints_and_restart_starts_over(
    twins: tuple[Pipeline, Pipeline], sandbox: Any
) -> None:
    """An Airflow task timeout (SIGTERM) with a slow API; `--restart` then reads everything."""
    pipeline, _ = twins
    sandbox.control.clear_stats()
    process = pipeline.start()
    deadline = time.monotonic() + 60
    while _metadata_requests(sandbox) < 450 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=30)
    except Exception:
        kill_group(process)
        raise
    wait_for_group_exit(process.pid)
    assert process.returncode == 128 + signal.SIGTERM
    progress = progress_of(_state(pipeline.warehouse))
    assert progress is not None
    assert EVERY <= progress.done <= 450
    assert pipeline.read() is not None

    sandbox.control.clear_stats()
    restarted = _ok(pipeline.run("--restart"))
    assert f"restarting: unfinished run {progress.run}" in restarted.stderr
    assert _metadata_requests(sandbox) == CUSTOMERS
