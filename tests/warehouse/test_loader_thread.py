"""The loader thread: a batch upserts in the background; every other call waits for it."""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pytest

from tap_equipme.warehouse.arrow import columns_for, parse_schema, records_to_arrow
from tap_equipme.warehouse.duckdb_writer import BatchLoad, DuckDBWarehouse
from tap_equipme.warehouse.state import read_state

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
COLUMNS = columns_for(SCHEMA, ["id"])


def _batch(*ids: int) -> Any:
    lines = b"".join(b'{"record": {"id": %d, "name": "n%d"}}\n' % (i, i) for i in ids)
    return records_to_arrow(lines, parse_schema(COLUMNS))[0]


class _Gate:
    """Replaces a warehouse's upsert: blocks it until released, or makes it fail."""

    def __init__(self, warehouse: DuckDBWarehouse, error: Exception | None = None) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._real = warehouse.upsert
        self._error = error
        warehouse.upsert = self  # type: ignore[method-assign]

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[int, int]:
        self.entered.set()
        assert self.release.wait(10), "the test never released the upsert"
        if self._error is not None:
            raise self._error
        return self._real(*args, **kwargs)


def test_commit_state_waits_for_the_batch_still_loading(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse = DuckDBWarehouse(str(path), "run-1")
    gate = _Gate(warehouse)
    warehouse.upsert_in_background(BatchLoad("s", COLUMNS, ["id"], _batch(1, 2), None))
    # The call returned while the upsert is still blocked on the loader thread.
    assert gate.entered.wait(5)
    committing = threading.Thread(target=warehouse.commit_state, args=({"bookmarks": {}},))
    committing.start()
    committing.join(0.3)
    assert committing.is_alive(), "commit_state did not wait for the batch being loaded"
    gate.release.set()
    committing.join(10)
    assert not committing.is_alive()
    warehouse.finish()
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT id FROM s ORDER BY id").fetchall() == [(1,), (2,)]
    assert read_state("duckdb", path) == {"bookmarks": {}}


def test_a_failed_background_upsert_fails_the_next_call_and_commits_nothing(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse = DuckDBWarehouse(str(path), "run-1")
    warehouse.upsert_in_background(BatchLoad("s", COLUMNS, ["id"], _batch(1), None))
    gate = _Gate(warehouse, RuntimeError("disk on fire"))
    warehouse.upsert_in_background(BatchLoad("s", COLUMNS, ["id"], _batch(2), None))
    gate.release.set()
    with pytest.raises(RuntimeError, match="disk on fire"):
        warehouse.commit_state({"bookmarks": {"s": "after"}})
    warehouse.fail("RuntimeError: disk on fire")
    # Batch 1 (and the table it created) was in the same open transaction: rolled back.
    assert "s" not in _tables(path)
    with duckdb.connect(str(path), read_only=True) as con:
        loads = con.execute("SELECT status, rows_inserted FROM _equipme_loads").fetchall()
    assert loads == [("failed", 0)]
    assert read_state("duckdb", path) is None


def test_fail_interrupts_a_batch_still_loading(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse = DuckDBWarehouse(str(path), "run-1")
    gate = _Gate(warehouse)
    warehouse.upsert_in_background(BatchLoad("s", COLUMNS, ["id"], _batch(1), None))
    assert gate.entered.wait(5)
    failing = threading.Thread(target=warehouse.fail, args=("SIGTERM",))
    failing.start()
    gate.release.set()
    failing.join(10)
    assert not failing.is_alive()
    assert "s" not in _tables(path)


def _tables(path: Any) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
