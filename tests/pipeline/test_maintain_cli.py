"""`equipme-sync maintain` on a DuckDB file and a Parquet directory (the lake: tests/lake)."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tap_equipme.pipeline.cli import main


def _duckdb_file(tmp_path: Path) -> Path:
    """A DuckDB file whose last writer was killed: its rows sit in the write-ahead log."""
    path = tmp_path / "warehouse.duckdb"
    script = (
        "import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); "
        "c.execute(\"SET checkpoint_threshold = '1GB'\"); "
        "c.execute('CREATE TABLE customers AS SELECT range AS id FROM range(1000)'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)
    return path


def test_duckdb_dry_run_changes_nothing_and_apply_checkpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _duckdb_file(tmp_path)
    wal = path.with_name(path.name + ".wal")
    assert wal.stat().st_size > 0
    assert main(["maintain", "--path", str(path)]) == 0
    assert wal.exists()
    out = capsys.readouterr().out
    assert out.startswith("Dry run (nothing changed; --apply does it) for the duckdb warehouse")
    assert "checkpoint:" in out

    assert main(["maintain", "--path", str(path), "--apply", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["applied"] is True
    # A checkpoint, then a rewrite only if the checkpoint left over a quarter of it free.
    assert [s["name"] for s in report["steps"]] == ["checkpoint", "rewrite"]
    assert not wal.exists()
    assert report["before"]["files"] == 2
    assert report["after"]["files"] == 1
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM customers").fetchone() == (1000,)


def test_a_duckdb_file_held_by_a_load_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _duckdb_file(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True);"
            " time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ok"
        assert main(["maintain", "--path", str(path), "--apply"]) == 1
        err = capsys.readouterr().err
        assert "Cannot open the DuckDB file" in err
        assert "a load running?" in err
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


def test_parquet_leftover_temp_files_are_listed_then_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "parquet"
    out.mkdir()
    duckdb.sql(f"COPY (SELECT 1 AS id) TO '{out / 'customers.parquet'}' (FORMAT parquet)")
    leftover = out / ".customers.abc123.tmp"
    leftover.write_bytes(b"x" * 100)
    args = ["maintain", "--destination", "parquet", "--path", str(out)]
    assert main(args) == 0
    assert ".customers.abc123.tmp" in capsys.readouterr().out
    assert leftover.exists()

    # A load holds the directory: nothing is touched.
    with (out / ".equipme.lock").open("w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        assert main([*args, "--apply"]) == 1
        assert "held by a running load" in capsys.readouterr().err
    assert leftover.exists()

    assert main([*args, "--apply", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["steps"][0]["files"] == 1
    assert report["steps"][0]["bytes"] == 100
    assert not leftover.exists()
    assert (out / "customers.parquet").exists()


@pytest.mark.parametrize("option", ["--retention", "--grace"])
def test_a_bad_duration_is_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    path = _duckdb_file(tmp_path)
    assert main(["maintain", "--path", str(path), option, "a week"]) == 2
    err = capsys.readouterr().err
    assert f"{option} 'a week'" in err
    assert "7d" in err


def test_a_missing_warehouse_is_an_error_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.duckdb"
    assert main(["maintain", "--path", str(missing)]) == 1
    assert str(missing) in capsys.readouterr().err
