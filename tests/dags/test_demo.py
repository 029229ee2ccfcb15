"""`make demo` (scripts/demo.py) end to end, with fewer customers, so it cannot rot (slow)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import duckdb
import pytest

DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "demo.py")


def sandbox_answers(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_demo_loads_twice_prints_what_landed_and_stops_the_sandbox(tmp_path):
    warehouse = tmp_path / "warehouse" / "equipme.duckdb"
    proc = subprocess.run(
        [
            sys.executable,
            DEMO,
            "--customers",
            "300",
            "--warehouse",
            str(warehouse),
            "--airflow-home",
            str(tmp_path / "airflow"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for expected in (
        "run 1:",
        "run 2:",
        "rows per table",
        "the bookmark",
        "loads table",
        "customers per country",
        "dbt model stg_equipme__customers",
        "sandbox stopped",
        "Demo finished",
    ):
        assert expected in proc.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        total = con.execute("SELECT count(*) FROM customers").fetchall()[0]
        demo = con.execute(
            "SELECT count(*) FROM customers WHERE customerNumber LIKE 'DEMO-%'"
        ).fetchall()[0]
        runs = con.execute(
            "SELECT count(DISTINCT run_id) FROM _equipme_loads WHERE status = 'succeeded'"
        ).fetchall()[0]
        second = con.execute(
            "SELECT rows_inserted FROM _equipme_loads WHERE stream = 'customers' "
            "ORDER BY started_at DESC LIMIT 1"
        ).fetchall()[0]
    assert total == (305,)
    assert demo == (5,)
    assert runs == (2,)
    assert second == (5,), "the second run loaded only the customers created through the API"
    assert (warehouse.parent / "export" / "customers_report.parquet").is_file()
    url = re.search(r"^    (http://127\.0\.0\.1:\d+)$", proc.stdout, re.MULTILINE)
    assert url, "the demo printed the sandbox's URL"
    assert not sandbox_answers(url.group(1)), "the demo's sandbox was stopped"


@pytest.mark.slow
def test_demo_failure_exits_non_zero_and_still_stops_the_sandbox(tmp_path):
    # A file where the Parquet export directory should be: the publish task fails.
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "export").write_text("not a directory")
    proc = subprocess.run(
        [
            sys.executable,
            DEMO,
            "--customers",
            "50",
            "--warehouse",
            str(tmp_path / "warehouse" / "equipme.duckdb"),
            "--airflow-home",
            str(tmp_path / "airflow"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode != 0
    assert "demo failed" in proc.stderr
    assert "sandbox stopped" in proc.stdout
    url = re.search(r"^    (http://127\.0\.0\.1:\d+)$", proc.stdout, re.MULTILINE)
    assert url
    assert not sandbox_answers(url.group(1))
