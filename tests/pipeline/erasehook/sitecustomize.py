"""Test-only crash points for `equipme-sync erase`, switched on by the environment.

The erasure crash test puts this folder on PYTHONPATH. Only when `EQUIPME_TEST_ERASE_KILL_AT`
is set does it import the erasure's storage module and wrap one step so the process SIGKILLs
itself there (like `kill -9` of the worker running the erasure):

- `before-purge`: the erasure transaction committed (request `pending`), the DuckDB file not
  yet rewritten (the old values still in its free blocks);
- `mid-rewrite`: the fresh copy of the DuckDB file written, not yet moved into place;
- `lake-purge`: (DuckLake) the touched tables' files rewritten, the older snapshots not yet
  expired nor their files deleted;
- `parquet-write`: the N-th Parquet file write of the erasure (`EQUIPME_TEST_ERASE_KILL_AFTER`,
  default 3: the bookkeeping files written, the data files not all).

The production code has no trace of it.
"""

from __future__ import annotations

import os
import signal

_POINT = os.environ.get("EQUIPME_TEST_ERASE_KILL_AT")


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if _POINT:
    from tap_equipme.warehouse import duckdb_rewrite, erasure_stores

    if _POINT == "before-purge":

        def _killed_rewrite(*args: object, **kwargs: object) -> None:
            _kill()

        erasure_stores.rewrite_duckdb_file = _killed_rewrite  # type: ignore[assignment]
    elif _POINT == "mid-rewrite":
        duckdb_rewrite.fsync_path = lambda path: _kill()  # type: ignore[assignment]
    elif _POINT == "lake-purge":
        from tap_equipme.warehouse import erasure_lake

        erasure_lake.LakeStore._refresh_table_stats = lambda self, tables: _kill()  # type: ignore[method-assign,assignment]
    elif _POINT == "parquet-write":
        original = erasure_stores.ParquetStore._write
        calls = {"n": 0}

        def _write(self: object, name: str) -> None:
            calls["n"] += 1
            if calls["n"] >= int(os.environ.get("EQUIPME_TEST_ERASE_KILL_AFTER", "3")):
                _kill()
            original(self, name)  # type: ignore[arg-type]

        erasure_stores.ParquetStore._write = _write  # type: ignore[method-assign,assignment]
