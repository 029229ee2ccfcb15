"""A real singer-sdk tap piped into `target-duckdb-lake`: deletes under both readings.

`tiny_sdk_tap.py` runs as its own process, its stdout piped into the target's stdin; singer-sdk
sends ACTIVATE_VERSION once, before the records. With `activate_version_mode: opening` the
rows removed at the source are marked deleted when the input ends cleanly; with the default
`closing` nothing is, and the warning says which reading applied and how to change it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

KEY = ("region", "sku")


def _row(region: str, sku: str, price: float, **extra: Any) -> dict[str, Any]:
    return {
        "region": region,
        "sku": sku,
        "Display Name": f"{sku} ({region})",
        "price": price,
        "in_stock": True,
        "tags": ["roof", region.lower()],
        "dimensions": {"width_mm": 1200, "height_mm": 600},
        **extra,
    }


FIRST = [
    _row("EU", "T-100", 12.5),
    _row("EU", "T-200", 14.0, tags=[]),
    _row("US", "T-100", 13.25, dimensions=None),
    _row("US", "T-300", 99.0, in_stock=False),
    _row("CH", "T-100", 15.0, **{"Display Name": "Ziegel «Bern»"}),
]
# Two rows removed at the source (EU/T-200, US/T-300), one changed, one new.
SECOND = [FIRST[0], {**FIRST[2], "price": 13.75}, FIRST[4], _row("EU", "T-400", 21.0)]


class SdkTapRuns:
    """The tiny SDK tap and the loader, each run a fresh `tap | target` pipe."""

    def __init__(self, peers: Any, tmp_path: Path, **target_settings: Any) -> None:
        self.peers = peers
        self.tmp_path = tmp_path
        self.rows_file = tmp_path / "rows.json"
        self.warehouse = tmp_path / "warehouse.duckdb"
        self.target_config = peers.write_config(
            tmp_path / "target.json", {"path": str(self.warehouse), **target_settings}
        )

    def tap_argv(self, rows: list[dict[str, Any]], **settings: Any) -> list[str]:
        self.rows_file.write_text(json.dumps(rows), encoding="utf-8")
        config = {
            "rows_file": str(self.rows_file),
            "emit_activate_version_messages": True,
            **settings,
        }
        # singer-sdk's table version is the second the tap started: two refreshes within one
        # second share it (and the second could not tell the first's rows from its own).
        time.sleep(1 - time.time() % 1 + 0.01)
        return [
            *self.peers.tiny_sdk_tap,
            "--config",
            str(self.peers.write_config(self.tmp_path / "tap.json", config)),
        ]

    def run(self, rows: list[dict[str, Any]]) -> Any:
        return self.peers.pipe(
            self.tap_argv(rows), [*self.peers.target, "--config", str(self.target_config)]
        ).check()

    def table(self) -> list[dict[str, Any]]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            rows: list[dict[str, Any]] = (
                con.sql("SELECT * FROM price_list").to_arrow_table().to_pylist()
            )
        finally:
            con.close()
        return rows


def _by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["region"], row["sku"]): row for row in rows}


def _assert_live_rows_equal(landed: Any, table: list[dict[str, Any]], source: list[dict]) -> None:
    """Row by row, field by field: the live rows are exactly the source's rows."""
    live = _by_key([row for row in table if row["_deleted_at"] is None])
    expected = _by_key(source)
    assert sorted(live) == sorted(expected)
    problems = []
    for key, row in expected.items():
        problems += landed.diff_values(row, live[key], f"{key}")
    assert problems == []


def _deleted_keys(table: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((r["region"], r["sku"]) for r in table if r["_deleted_at"] is not None)


@pytest.mark.slow
def test_opening_mode_deletes_what_a_singer_sdk_tap_no_longer_sends(peers, tmp_path, landed):
    runs = SdkTapRuns(peers, tmp_path, activate_version_mode="opening")
    first = runs.run(FIRST)
    # The tap is a genuine singer-sdk FULL_TABLE tap: one ACTIVATE_VERSION, before the records.
    assert "ACTIVATE_VERSION" in first.target_log
    _assert_live_rows_equal(landed, runs.table(), FIRST)

    second = runs.run(SECOND)
    table = runs.table()
    _assert_live_rows_equal(landed, table, SECOND)
    assert _deleted_keys(table) == [("EU", "T-200"), ("US", "T-300")]
    assert "2 rows absent from it marked deleted (activate_version_mode 'opening'" in (
        second.target_log
    )
    assert "WARNING" not in second.target_log


def test_closing_mode_keeps_every_row_and_the_warning_says_how_to_change(peers, tmp_path, landed):
    runs = SdkTapRuns(peers, tmp_path)
    runs.run(FIRST)
    second = runs.run(SECOND)
    table = runs.table()
    assert _deleted_keys(table) == []
    live = _by_key(table)
    assert sorted(live) == sorted(_by_key(FIRST + SECOND))
    assert live["US", "T-100"]["price"] == 13.75
    warnings = [line for line in second.target_log.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, second.target_log[-3000:]
    assert "on 'price_list' was never repeated" in warnings[0]
    assert "activate_version_mode is 'closing'" in warnings[0]
    assert "set activate_version_mode to 'opening'" in warnings[0]


def _wait_for(path: Path, text: str, count: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while path.read_text(errors="replace").count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} never appeared in the target's log"
        time.sleep(0.1)


@pytest.mark.slow
def test_opening_mode_deletes_nothing_when_the_loader_or_the_tap_stops_mid_refresh(
    peers, tmp_path, landed
):
    """A signal to the loader rolls back; a tap killed mid-stream closes the pipe (a clean end
    of input) but sent no STATE after the stream's last record, so nothing is deleted."""
    runs = SdkTapRuns(peers, tmp_path, activate_version_mode="opening", batch_size_rows=1)
    runs.run(FIRST)
    target_argv = [*peers.target, "--config", str(runs.target_config)]

    def stalled_refresh() -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], Path]:
        # The opening ACTIVATE_VERSION and two rows, then the tap stalls.
        tap = subprocess.Popen(
            runs.tap_argv(FIRST, stall_after=2), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        log = tmp_path / f"target-{time.monotonic_ns()}.log"
        with log.open("wb") as err:
            target = subprocess.Popen(target_argv, stdin=tap.stdout, stdout=err, stderr=err)
        assert tap.stdout is not None
        tap.stdout.close()
        # Both rows loaded: the opening message (before them) has been read too.
        _wait_for(log, "Loaded a batch of 1 rows into 'price_list'", count=2)
        return tap, target, log

    # 1. The loader is stopped (SIGTERM) mid-refresh: nothing is marked deleted.
    tap, target, _ = stalled_refresh()
    target.send_signal(signal.SIGTERM)
    assert target.wait(timeout=60) == 128 + signal.SIGTERM
    tap.kill()
    tap.wait(timeout=60)
    table = runs.table()
    assert _deleted_keys(table) == []
    _assert_live_rows_equal(landed, table, FIRST)

    # 2. The tap dies mid-refresh: the pipe closes, a clean end of input for the loader. The
    # stream's last records came after its last STATE, so the tap did not finish it: held
    # back, nothing deleted, and the warning says why.
    tap, target, log = stalled_refresh()
    tap.kill()
    tap.wait(timeout=60)
    assert target.wait(timeout=60) == 0, log.read_text()[-3000:]
    assert _deleted_keys(runs.table()) == []
    assert "nor followed by a STATE after its last record" in log.read_text()

    # A complete refresh after both deletes what the source no longer has.
    runs.run(SECOND)
    table = runs.table()
    assert _deleted_keys(table) == [("EU", "T-200"), ("US", "T-300")]
    _assert_live_rows_equal(landed, table, SECOND)
