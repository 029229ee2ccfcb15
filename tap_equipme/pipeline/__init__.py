"""The pipeline: `equipme-sync` wires `tap-equipme | target-duckdb-lake` (and the checks).

It knows both programs only as processes and the warehouse only through its read API
(`tap_equipme.warehouse.state.read_state`, the bookkeeping tables). Modules: `sync` (the
process wiring, `run_sync`), `pipes` (relaying lines, draining stderr), `summary` (what a run
reports), `cli` (the `equipme-sync` command line), `quality` (the checks the DAG runs).
"""

from __future__ import annotations

from tap_equipme.pipeline.summary import SyncSummary
from tap_equipme.pipeline.sync import SyncError, SyncInterrupted, run_sync

__all__ = ["SyncError", "SyncInterrupted", "SyncSummary", "run_sync"]
