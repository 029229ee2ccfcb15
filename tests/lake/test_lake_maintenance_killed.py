"""`equipme-sync maintain --apply` killed midway on a real lake, then run again.

The weekly maintenance runs on a worker that can be restarted at any moment. Killed with
SIGKILL inside compaction, after it, or between expiry and cleanup, the lake must keep
every row and its history, and the next maintenance run must finish the job: exit 0 and
leave no data file on disk that the catalog does not know (an orphan nobody would ever
delete).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HOOK = Path(__file__).resolve().parent / "maintainhook"
SYNC = str(Path(sys.executable).parent / "equipme-sync")
CUSTOMERS = 6
LOADS = 5


def _load_small_files(lake: Any, singer_lake: Any) -> None:
    """Five loads that each change two customers: small files for compaction to merge."""
    for version in range(1, LOADS + 1):
        customers = [
            singer_lake.customer(i, name=f"C {i} v{version}" if i <= 2 else f"C {i}")
            for i in range(1, CUSTOMERS + 1)
        ]
        lake.load(singer_lake.messages(customers, version=version))


def _maintain(lake: Any, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EQUIPME_TEST_")}
    if kill_at:
        env["EQUIPME_TEST_MAINTAIN_KILL_AT"] = kill_at
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HOOK), env.get("PYTHONPATH")]))
    command = [
        SYNC,
        "maintain",
        "--destination",
        "ducklake",
        "--path",
        lake.catalog,
        "--lake-data-path",
        lake.settings["lake_data_path"],
        # Everything older than now is expired, and freed files are deleted at once: the
        # most the maintenance can remove, so the most a kill can leave half-done.
        "--retention",
        "0s",
        "--grace",
        "0s",
        "--apply",
        "--json",
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)


def _contents(lake: Any) -> tuple[list[Any], list[Any]]:
    lake.close()  # a fresh reader sees the newest snapshot and holds no file open
    return (
        lake.query("SELECT id, name, _deleted_at IS NULL FROM customers ORDER BY id"),
        lake.query("SELECT id, name, _valid_to IS NULL FROM customers_history ORDER BY ALL"),
    )


def _orphans(lake: Any) -> set[str]:
    """Data files on disk that no catalog row names (nothing would ever delete them)."""
    meta = "__ducklake_metadata_lake"
    known: set[str] = set()
    for table in ("ducklake_data_file", "ducklake_delete_file"):
        known |= {Path(r[0]).name for r in lake.query(f"SELECT path FROM {meta}.{table}")}
    known |= {
        Path(r[0]).name
        for r in lake.query(f"SELECT path FROM {meta}.ducklake_files_scheduled_for_deletion")
    }
    on_disk = {p.name for p in Path(lake.settings["lake_data_path"]).rglob("*.parquet")}
    return on_disk - known


@pytest.mark.slow  # five loads and two maintenance processes per case on a real lake
@pytest.mark.parametrize("kill_at", ["mid-compact", "after-compact", "before-cleanup"])
def test_maintenance_killed_midway_loses_nothing_and_the_next_run_finishes(
    lake: Any, singer_lake: Any, kill_at: str
) -> None:
    _load_small_files(lake, singer_lake)
    before = _contents(lake)
    assert len(before[0]) == CUSTOMERS

    killed = _maintain(lake, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _contents(lake) == before

    again = _maintain(lake)
    assert again.returncode == 0, again.stderr[-2000:]
    report = json.loads(again.stdout)
    assert report["applied"] is True
    assert _contents(lake) == before
    assert _orphans(lake) == set()
