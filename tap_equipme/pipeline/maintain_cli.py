"""`equipme-sync maintain`: compact and expire the warehouse (dry run unless `--apply`).

The warehouse side (DuckLake merge / expire / cleanup, DuckDB CHECKPOINT) is
`warehouse.maintenance`; this module reads the command line and prints the report.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing as t
from collections.abc import Mapping, Sequence

from tap_equipme.pipeline.cli import command_parser, lake_arguments
from tap_equipme.warehouse.lake_config import lake_settings
from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.maintenance import (
    DEFAULT_GRACE,
    DEFAULT_RETENTION,
    MaintenanceReport,
    maintain_duckdb,
    maintain_lake,
    maintain_parquet,
    parse_retention,
)


def run_maintenance(
    destination: str,
    path: str,
    lake: Mapping[str, t.Any] | None = None,
    *,
    retention: str = DEFAULT_RETENTION,
    grace: str = DEFAULT_GRACE,
    apply: bool = False,
) -> MaintenanceReport:
    """Maintain one warehouse (what `equipme-sync maintain` runs).

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The DuckDB file, the Parquet directory or the DuckLake catalog.
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings (credentials from the
            environment, as for a sync).
        retention: DuckLake: how long snapshots stay readable by time travel (`7d`, `36h`).
        grace: DuckLake: how long a file no kept snapshot reads stays for queries that were
            already running (`1h`).
        apply: Do it; otherwise report what would be done.

    Returns:
        The report.

    Raises:
        WarehouseError: If the warehouse cannot be opened or a step fails.
    """
    kept = parse_retention(retention)
    unread = parse_retention(grace, "--grace")
    if destination == "ducklake":
        # An empty value (a Meltano setting left blank) counts as not given.
        settings = {k: v for k, v in (lake or {}).items() if v not in (None, "")}
        return maintain_lake(lake_settings(path, settings), kept, apply=apply, grace=unread)
    if destination == "parquet":
        return maintain_parquet(path, apply=apply)
    return maintain_duckdb(path, apply=apply)


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "maintain",
        "Compact and expire the warehouse: DuckLake merge_adjacent_files, expire_snapshots "
        "(older than --retention) and cleanup_old_files; DuckDB CHECKPOINT. Prints what it "
        "would do; --apply does it.",
        prints="report",
    )
    parser.add_argument(
        "--retention",
        default=DEFAULT_RETENTION,
        help=f"DuckLake: time travel stays possible this far back (default {DEFAULT_RETENTION};"
        " units s, m, h, d, w)",
    )
    parser.add_argument(
        "--grace",
        default=DEFAULT_GRACE,
        help=f"DuckLake: a file no kept snapshot reads is deleted once unread this long "
        f"(default {DEFAULT_GRACE}: queries already running keep reading)",
    )
    parser.add_argument("--apply", action="store_true", help="do it (default: dry run)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `equipme-sync maintain`.

    Args:
        argv: Arguments after `maintain`.

    Returns:
        0 done (or dry run), 1 failed, 2 bad arguments.
    """
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        parse_retention(args.retention)
        parse_retention(args.grace, "--grace")
    except WarehouseError as exc:
        sys.stderr.write(f"equipme-sync maintain: {exc}\n")
        return 2
    try:
        report = run_maintenance(
            args.destination,
            args.path,
            lake_arguments(args),
            retention=args.retention,
            grace=args.grace,
            apply=args.apply,
        )
    except WarehouseError as exc:
        sys.stderr.write(f"equipme-sync maintain: {exc}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    else:
        sys.stdout.write(report.render() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
