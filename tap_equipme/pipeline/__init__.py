"""The pipeline: `equipme-sync` wires `tap-equipme | target-duckdb-lake` (and the checks).

It knows both programs only as processes and the warehouse only through its read API
(`tap_equipme.warehouse.state.read_state`, the bookkeeping tables) and its settings
(`warehouse.lake_config`). Modules: `sync` (`run_sync`), `processes` (starting, relaying,
stopping the two), `pipes` (relaying lines, draining stderr), `stored_state` (the state and
bookmark read before a run), `loader_settings` (what the loader is told of tap-equipme's
streams), `summary` and `schema_report` (what a run reports), `sync_errors`, `cli` (the
`equipme-sync` command line), `quality` (the DAG's checks, staleness included), `check_cli`
(`equipme-sync check`), `lineage` (the run's datasets named for OpenLineage, and its events),
`publish` (views and export),
`lake_connection` (a lake Connection and DAG params -> lake settings, credentials apart).

Importing the package is cheap (the DAG file imports `lake_connection` when parsed): the
names below load their modules on first use.
"""

from __future__ import annotations

import importlib
import typing as t

if t.TYPE_CHECKING:
    from tap_equipme.pipeline.summary import SyncSummary
    from tap_equipme.pipeline.sync import run_sync
    from tap_equipme.pipeline.sync_errors import SyncError, SyncInterrupted

_HOMES = {
    "SyncError": "sync_errors",
    "SyncInterrupted": "sync_errors",
    "SyncSummary": "summary",
    "run_sync": "sync",
}
__all__ = ["SyncError", "SyncInterrupted", "SyncSummary", "run_sync"]


def __getattr__(name: str) -> t.Any:
    """Load `run_sync` and friends on first use (PEP 562).

    Args:
        name: The attribute asked for.

    Returns:
        The attribute.

    Raises:
        AttributeError: For any other name.
    """
    if name not in _HOMES:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
