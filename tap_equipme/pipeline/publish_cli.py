"""`equipme-sync publish`: the reporting views (and a DuckDB file's Parquet export) after a load.

For loads that did not go through `equipme-sync` (e.g. `meltano run tap-equipme
target-duckdb-lake`, whose loader knows no source and creates no views): meltano.yml runs it
as the `equipme-sync:publish` command after the loader.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from tap_equipme.pipeline.cli import command_parser, lake_arguments
from tap_equipme.pipeline.publish import publish
from tap_equipme.warehouse.load_errors import WarehouseError


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "publish",
        "(Re)create tap-equipme's reporting views in the warehouse (DuckDB file or DuckLake) "
        "and, for a DuckDB file, export tables and views as Parquet files.",
        prints="result",
    )
    parser.add_argument(
        "--export-dir", help="destination duckdb: where the Parquet files go (default: export/)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `equipme-sync publish`.

    Args:
        argv: Arguments after `publish` (default: `sys.argv[2:]`).

    Returns:
        The exit code (0 success, 1 failure, 2 bad arguments).
    """
    args = _parser().parse_args(sys.argv[2:] if argv is None else argv)
    lake = lake_arguments(args)
    try:
        published = publish(args.destination, args.path, args.export_dir, lake=lake)
    except WarehouseError as exc:
        sys.stderr.write(f"equipme-sync publish: {exc}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(published, indent=2) + "\n")
    else:
        views = ", ".join(published["views"]) or "none (nothing loaded yet?)"
        sys.stdout.write(f"views: {views}\n")
        for name, file in published["exported"].items():
            sys.stdout.write(f"exported {name}: {file}\n")
    return 0
