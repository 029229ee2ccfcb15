"""Test-only crash points for target-duckdb-lake, switched on by the environment.

The crash tests put this folder on PYTHONPATH, so every Python process of the pipeline
imports it at start-up. Only when `EQUIPME_TEST_CRASH_AT` is set, and only in the process
that imports the DuckDB writer (the target), it wraps one writer method so that the target
SIGKILLs its whole process group (pipeline, tap and target, like `kill -9` of a worker) at
that exact point:

- `upsert`: inside the first upsert of a batch, before its transaction commits (mid-load);
- `batch-committed`: right after a data batch commits, before any state covers it (the hook
  sets the writer's `commit_every_rows` to 1: by default batches wait for their STATE);
- `before-state`: in `commit_state`, data written but the state row not yet committed;
- `after-state`: after data and state committed, before STATE reaches stdout;
- `parquet-published`: (Parquet) a stream's file replaced, its state file not yet written.
- `tap-metadata`: in the tap, as its N-th metadata request returns (`EQUIPME_TEST_CRASH_AFTER`
  counts metadata requests there): a kill during a long metadata phase.

`EQUIPME_TEST_CRASH_AFTER=N` skips the first N-1 hits. The production code has no trace of it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import signal
import sys
from typing import Any

_POINT = os.environ.get("EQUIPME_TEST_CRASH_AT")
_MODULES = (
    "tap_equipme.warehouse.duckdb_writer",
    "tap_equipme.warehouse.parquet_writer",
    "tap_equipme.http.api_client",
)
_hits = 0


def _crash() -> None:
    global _hits
    _hits += 1
    if _hits < int(os.environ.get("EQUIPME_TEST_CRASH_AFTER", "1")):
        return
    marker = os.environ.get("EQUIPME_TEST_CRASH_MARKER")
    if marker:
        with open(marker, "w") as handle:
            handle.write(_POINT or "")
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _patch(module: Any) -> None:
    warehouse = module.DuckDBWarehouse
    original_upsert = warehouse.upsert
    original_commit = warehouse._commit
    original_commit_state = warehouse.commit_state
    original_after_commit = warehouse.after_commit

    original_init = warehouse.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if _POINT == "batch-committed":
            self.commit_every_rows = 1

    def upsert(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_upsert(self, *args, **kwargs)
        if _POINT == "upsert":
            _crash()
        return result

    def commit(self: Any) -> None:
        was_open = self._in_transaction
        original_commit(self)
        if (
            _POINT == "batch-committed"
            and was_open
            and not getattr(self, "_committing_state", False)
        ):
            _crash()

    def commit_state(self: Any, state: dict[str, Any]) -> None:
        if _POINT == "before-state":
            real_commit = self.con.execute

            def execute(sql: str, *args: Any) -> Any:
                if sql == "COMMIT":
                    _crash()
                return real_commit(sql, *args)

            self.con = _ConnectionProxy(self.con, execute)
        self._committing_state = True
        try:
            original_commit_state(self, state)
        finally:
            self._committing_state = False

    def after_commit(self: Any, state: Any) -> None:
        original_after_commit(self, state)
        if _POINT == "after-state" and state is not None:
            _crash()

    original_finish = warehouse.finish

    def finish(self: Any) -> None:
        self._committing_state = True  # the final commit only marks the loads succeeded
        original_finish(self)

    warehouse.__init__ = init
    warehouse.finish = finish
    warehouse.upsert = upsert
    warehouse._commit = commit
    warehouse.commit_state = commit_state
    warehouse.after_commit = after_commit


def _patch_api_client(module: Any) -> None:
    client = module.ApiClient
    original_get_json = client.get_json

    def get_json(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_get_json(self, *args, **kwargs)
        if _POINT == "tap-metadata" and kwargs.get("kind") == "metadata":
            _crash()
        return result

    client.get_json = get_json


def _patch_parquet(module: Any) -> None:
    warehouse = module.ParquetWarehouse
    original_publish = warehouse._publish

    def publish(self: Any, name: str, keys: Any = None) -> None:
        original_publish(self, name, keys)
        if _POINT == "parquet-published" and not name.startswith("_"):
            _crash()

    warehouse._publish = publish


class _ConnectionProxy:
    """A DuckDB connection whose `execute` is replaced (DuckDB's class cannot be patched)."""

    def __init__(self, con: Any, execute: Any) -> None:
        self._con = con
        self.execute = execute

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            original_exec(module)
            if fullname.endswith("parquet_writer"):
                _patch_parquet(module)
            elif fullname.endswith("api_client"):
                _patch_api_client(module)
            else:
                _patch(module)

        setattr(loader, "exec_module", exec_module)  # noqa: B010 (wrap this one loader)
        return spec


if _POINT:
    sys.meta_path.insert(0, _Finder())
