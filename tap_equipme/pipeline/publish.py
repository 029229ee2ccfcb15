"""Publishing after a checked load: the reporting views and the Parquet export (DuckDB file).

The DAG's publish task calls this, as it calls `run_sync` and the checks: it never reaches
into the warehouse itself. A DuckLake warehouse gets its views from the loader (in the lake,
with the data), a Parquet directory is its own export: both publish nothing here.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path


def publish(
    destination: str,
    path: str | os.PathLike[str],
    export_dir: str | os.PathLike[str] | None = None,
) -> dict[str, t.Any]:
    """(Re)create the reporting views and export tables and views as Parquet files.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The warehouse (for `duckdb`: the DuckDB file).
        export_dir: Where the Parquet files go (default: `export/` beside the DuckDB file).

    Returns:
        `{"views": [names], "exported": {name: file}}` (both empty but for `duckdb`).
    """
    if destination != "duckdb":
        return {"views": [], "exported": {}}
    from tap_equipme.warehouse.views import create_views, export_parquet

    location = Path(path)
    views = create_views(location)
    exported = export_parquet(location, Path(export_dir or location.parent / "export"))
    return {"views": views, "exported": {name: str(file) for name, file in exported.items()}}
