"""Test-only: SIGTERM to target-duckdb-lake at a chosen point of its start (`EQUIPME_TEST_TERM_AT`).

The audit test puts this folder on PYTHONPATH. Only when `EQUIPME_TEST_TERM_AT` is set, and
only in the process that imports the loader's target module, it wraps one method so that the
target sends SIGTERM to itself there (what the pipeline does when the tap fails while the
loader is still starting):

- `warehouse-open`: right after the warehouse is opened (lazily, at the first SCHEMA), before
  anything is written to it;
- `swallowed`: there too, but the signal lands inside a finalizer (`__del__`), where Python
  prints the handler's exception and carries on (as it may during start-up, inside any
  garbage collection): the loader then reads its whole input as if nothing happened;
- `end-of-input`: when the input ended, before the loads are marked succeeded.

The production code has no trace of it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import signal
import sys
from typing import Any

_POINT = os.environ.get("EQUIPME_TEST_TERM_AT")


def _term() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


class _Finalizer:
    def __del__(self) -> None:
        _term()
        for _ in range(10_000):  # the handler runs in here; its SystemExit is ignored
            pass


def _patch(module: Any) -> None:
    target = module.TargetDuckdbLake
    original_opener = module.warehouse_opener
    original_endofpipe = target.process_endofpipe

    def warehouse_opener(config: Any) -> Any:
        open_warehouse = original_opener(config)

        def opened() -> Any:
            warehouse = open_warehouse()
            if _POINT == "warehouse-open":
                _term()
            elif _POINT == "swallowed":
                _Finalizer()  # dropped at once: __del__ runs here
            return warehouse

        return opened

    def process_endofpipe(self: Any) -> None:
        if _POINT == "end-of-input":
            _term()
        original_endofpipe(self)

    # The target module looks `warehouse_opener` up when a target is built (in `__init__`).
    module.warehouse_opener = warehouse_opener
    target.process_endofpipe = process_endofpipe


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "tap_equipme.warehouse.target":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            original_exec(module)
            _patch(module)

        setattr(loader, "exec_module", exec_module)  # noqa: B010 (wrap this one loader)
        return spec


if _POINT:
    sys.meta_path.insert(0, _Finder())
