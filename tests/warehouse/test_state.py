"""State lives in the warehouse, committed with its data; STATE goes out only after commit."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time

import pytest

from tap_equipme.warehouse import duckdb_writer
from tap_equipme.warehouse.state import read_state


def test_state_is_stored_with_the_data_and_read_back(target, tmp_path, singer):
    path = tmp_path / "warehouse.duckdb"
    assert read_state("duckdb", path) is None
    run = target.cli(
        [
            singer.schema(),
            singer.record(singer.customer(1)),
            singer.state("2024-05-01T00:00:00+00:00", extra_opaque={"x": 1}),
        ]
    )
    assert run.returncode == 0, run.stderr
    stored = read_state("duckdb", path)
    assert stored == run.states[-1]
    assert stored["extra_opaque"] == {"x": 1}  # the whole state, unchanged


def test_state_on_stdout_is_already_committed(tmp_path, singer, monkeypatch):
    """When the STATE line is written, another connection already sees that state and data."""
    from tap_equipme.warehouse.target import TargetDuckdbLake

    target = TargetDuckdbLake(config={"path": str(tmp_path / "w.duckdb"), "batch_size_rows": 3})
    seen = []

    class Probe(io.StringIO):
        def write(self, text):
            if "bookmarks" in text:
                cursor = target.warehouse.con.cursor()  # own transaction: committed data only
                state = cursor.execute("SELECT state FROM _equipme_state").fetchone()
                count = cursor.execute("SELECT count(*) FROM customers").fetchone()[0]
                cursor.close()
                seen.append((json.loads(text), json.loads(state[0]) if state else None, count))
            return super().write(text)

    monkeypatch.setattr(sys, "stdout", Probe())
    messages = [
        singer.schema(),
        *(singer.record(singer.customer(i)) for i in range(1, 8)),
        singer.state("2024-06-01T00:00:00Z"),
    ]
    target.listen(io.StringIO(singer.lines(messages)))
    expected = singer.state("2024-06-01T00:00:00Z")["value"]
    assert seen == [(expected, expected, 7)]


def test_failed_commit_emits_no_state(target, singer, monkeypatch):
    def broken(self, state):
        raise RuntimeError("disk full")

    monkeypatch.setattr(duckdb_writer.DuckDBWarehouse, "commit_state", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        target.in_process(
            [singer.schema(), singer.record(singer.customer(1)), singer.state("2024-07-01")]
        )
    out = target.capsys.readouterr().out
    assert "2024-07-01" not in out


@pytest.mark.parametrize(
    ("commit_every_rows", "rows_kept"),
    # Default: batches wait in one transaction for the STATE that covers them, so the failed
    # run's transaction (batches 1-2, the third failed) is rolled back whole.
    # commit_every_rows=4: batches 1 and 2 were committed without a state; the failed third
    # batch and nothing else was rolled back.
    [(None, 0), (4, 8)],
    ids=["one transaction until the STATE", "committed every 4 rows"],
)
def test_exception_between_batches_keeps_previous_state_and_whole_batches(
    target, query, tmp_path, singer, monkeypatch, commit_every_rows, rows_kept
):
    target.in_process(
        [
            singer.schema(),
            *(singer.record(singer.customer(i)) for i in range(1, 4)),
            singer.state("2024-01-01T00:00:00Z"),
        ]
    )
    calls = {"n": 0}
    real_upsert = duckdb_writer.DuckDBWarehouse.upsert

    def failing_third_batch(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected failure between batches")
        return real_upsert(self, *args, **kwargs)

    monkeypatch.setattr(duckdb_writer.DuckDBWarehouse, "upsert", failing_third_batch)
    settings = {} if commit_every_rows is None else {"commit_every_rows": commit_every_rows}
    with pytest.raises(RuntimeError, match="injected"):
        target.in_process(
            [
                singer.schema(),
                *(singer.record(singer.customer(i)) for i in range(100, 112)),
                singer.state("2024-02-01T00:00:00Z"),
            ],
            batch_size_rows=4,
            run_id="crashed",
            **settings,
        )
    assert "2024-02-01" not in target.capsys.readouterr().out
    assert (
        read_state("duckdb", tmp_path / "warehouse.duckdb")
        == singer.state("2024-01-01T00:00:00Z")["value"]
    )
    new_rows = query("SELECT count(*) FROM customers WHERE id >= 100")[0][0]
    # Whole committed batches only, never part of one.
    assert new_rows == rows_kept
    # The failed load is on record with the rows it really committed.
    loads = query("SELECT status, rows_inserted FROM _equipme_loads WHERE run_id = 'crashed'")
    assert loads == [("failed", rows_kept)]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_killed_target_leaves_previous_state_and_whole_batches(
    target, query, tmp_path, singer, signum
):
    first = target.cli(
        [
            singer.schema(),
            *(singer.record(singer.customer(i)) for i in range(1, 11)),
            singer.state("2024-01-01T00:00:00Z"),
        ]
    )
    assert first.returncode == 0, first.stderr
    config = tmp_path / "kill-config.json"
    config.write_text(json.dumps(target.config(batch_size_rows=50)))
    proc = subprocess.Popen(
        ["target-duckdb-lake", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(
        singer.lines(
            [
                singer.schema(),
                *(singer.record(singer.customer(i)) for i in range(1000, 1120)),
                singer.state("2024-02-01T00:00:00Z"),
            ]
        )
    )
    proc.stdin.flush()
    time.sleep(3)  # two full batches are loaded; the pipe stays open (no end of input)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode in (-signum, 128 + signum), stderr
    assert "2024-02-01" not in stdout
    assert (
        read_state("duckdb", tmp_path / "warehouse.duckdb")
        == singer.state("2024-01-01T00:00:00Z")["value"]
    )
    new_rows = query("SELECT count(*) FROM customers WHERE id >= 1000")[0][0]
    assert new_rows % 50 == 0
    assert new_rows <= 100
    assert query("SELECT count(*) FROM customers WHERE id < 1000") == [(10,)]
    if signum == signal.SIGTERM and new_rows:  # a graceful stop marks the run failed
        assert ("failed",) in query("SELECT status FROM _equipme_loads")
