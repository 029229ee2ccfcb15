"""`target-duckdb-lake`: a Singer target loading into DuckDB, Parquet files or a DuckLake.

It speaks Singer messages only: it never imports `requests`, the tap or the pipeline, and
loading knows no source's streams (child sets, the bookmark to record and the run-stats key
are settings). Modules: `target` (the Target), `target_settings` (settings, opening the
destination), `reader` and `sinks` (messages -> batches), `json_schema` and `arrow` (types,
parsing), `duckdb_session` (connection, transactions, bookkeeping) and `duckdb_writer`
(upserts, soft deletes), `parquet_writer`, `ducklake_writer`, `lake_config` (the lake
settings, parsed once for the loader, the pipeline and the DAG) and `lake` (connecting),
`change_tracking`, `child_sets`, `column_evolution`, `versions`, `journal`, `extensions`,
`state` and `tables` (the read API), `load_errors`. Views over a source's tables (e.g.
tap-equipme's reporting views) are not the loader's: the pipeline creates them.
"""

from __future__ import annotations
