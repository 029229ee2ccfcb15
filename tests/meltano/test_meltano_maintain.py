"""Maintenance through Meltano: the `equipme-sync` utility and the weekly job (real meltano)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _killed_load(path: Path) -> None:
    """A DuckDB file whose writer was killed: its rows sit in the write-ahead log."""
    script = (
        "import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); "
        "c.execute(\"SET checkpoint_threshold = '1GB'\"); "
        "c.execute('CREATE TABLE customers AS SELECT range AS id FROM range(100)'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)


def test_the_maintenance_utility_dry_runs_and_the_weekly_job_applies(meltano, tmp_path):
    warehouse = tmp_path / "equipme.duckdb"
    _killed_load(warehouse)
    wal = warehouse.with_name(warehouse.name + ".wal")
    env = {"EQUIPME_SYNC_PATH": str(warehouse)}

    dry = meltano.run("invoke", "equipme-sync:maintain", env=env)
    assert (
        f"Dry run (nothing changed; --apply does it) for the duckdb warehouse at {warehouse}"
        in (dry.stdout)
    )
    assert wal.exists()

    assert "equipme-maintenance" in meltano.run("schedule", "list").stdout
    done = meltano.run("run", "equipme-maintenance", env=env)
    assert f"Maintenance of the duckdb warehouse at {warehouse}" in done.stdout + done.stderr
    assert not wal.exists()
