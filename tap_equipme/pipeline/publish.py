"""Publishing after a checked load: the reporting views and the Parquet export.

The DAG's publish task and `equipme-sync publish` call this, as they call `run_sync` and the
checks: neither reaches into the warehouse itself. A DuckDB file gets the views and an export;
a DuckLake gets the views in the lake (beside the tables, for any reader attaching it); a
Parquet directory is its own export and publishes nothing here.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Mapping
from pathlib import Path


def publish(
    destination: str,
    path: str | os.PathLike[str],
    export_dir: str | os.PathLike[str] | None = None,
    lake: Mapping[str, t.Any] | None = None,
) -> dict[str, t.Any]:
    """(Re)create the reporting views and export tables and views as Parquet files.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The warehouse (the DuckDB file, or the lake's catalog).
        export_dir: Where the Parquet files go (default: `export/` beside the DuckDB file).
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings (credentials from the
            environment).

    Returns:
        `{"views": [names], "exported": {name: file}}` (both empty for `parquet`).
    """
    from tap_equipme.pipeline.reporting_views import (
        create_lake_views,
        create_views,
        export_parquet,
    )

    if destination == "ducklake":
        return {"views": create_lake_views(str(path), lake), "exported": {}}
    if destination != "duckdb":
        return {"views": [], "exported": {}}
    location = Path(path)
    views = create_views(location)
    exported = export_parquet(location, Path(export_dir or location.parent / "export"))
    return {"views": views, "exported": {name: str(file) for name, file in exported.items()}}
