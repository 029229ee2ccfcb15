"""`equipme-sync check`: the checks and staleness from a shell, judged by the exit code."""

from __future__ import annotations

import json

import duckdb

from tap_equipme.pipeline.cli import main


def warehouse(path, loaded_hours_ago: float) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE customers (id BIGINT, name VARCHAR, _deleted_at TIMESTAMPTZ)")
        con.execute("INSERT INTO customers VALUES (1, 'A', NULL), (2, 'B', NULL)")
        con.execute(
            "CREATE TABLE _equipme_loads (run_id VARCHAR, stream VARCHAR, "
            "finished_at TIMESTAMPTZ, status VARCHAR)"
        )
        con.execute(
            "INSERT INTO _equipme_loads VALUES "
            f"('r1', 'customers', now() - INTERVAL {int(loaded_hours_ago * 60)} MINUTE, "
            "'succeeded'), ('r1', 'customer_metadata', now(), 'succeeded')"
        )


def test_check_passes_on_fresh_data_and_fails_naming_the_stale_stream(tmp_path, capsys):
    path = tmp_path / "wh.duckdb"
    warehouse(path, loaded_hours_ago=4)
    assert main(["check", "--path", str(path), "--max-staleness", "5h"]) == 0
    assert "passed (2 live customers" in capsys.readouterr().out
    assert main(["check", "--path", str(path), "--max-staleness", "3h"]) == 1
    err = capsys.readouterr().err
    assert "customers: last successful load finished" in err
    assert "older than max_staleness 3h" in err
    assert "customer_metadata:" not in err


def test_check_json_report_and_a_bad_duration(tmp_path, capsys):
    path = tmp_path / "wh.duckdb"
    warehouse(path, loaded_hours_ago=0)
    assert main(["check", "--path", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["live_customers"] == 2
    assert set(report["last_loads"]) == {"customers", "customer_metadata"}
    assert main(["check", "--path", str(path), "--max-staleness", "soon"]) == 1
    assert "Setting 'max_staleness'" in capsys.readouterr().err
