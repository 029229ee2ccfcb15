"""`equipme-sync check`: the DAG's data quality checks, staleness included, from a shell or cron.

Exit 0 when every check passes, 1 when one fails (the message names the stream and what is
wrong), 2 on bad arguments: a cron job or a monitoring agent alerts on the exit code, with no
Airflow. The lake's credentials come from the environment, as for a sync.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from tap_equipme.pipeline.cli import command_parser, lake_arguments


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "check",
        "Run the data quality checks on a warehouse: duplicate ids, customers without a name, "
        "duplicate metadata keys and, with --max-staleness, each stream's last successful load.",
        prints="report",
    )
    parser.add_argument(
        "--max-staleness",
        metavar="DURATION",
        help="fail a stream whose last successful load is older (e.g. 3h, 90m, 21d; a bare "
        "number is minutes)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `equipme-sync check`.

    Args:
        argv: Arguments after `check` (default: `sys.argv[2:]`).

    Returns:
        The exit code (0 all passed, 1 a check failed, 2 bad arguments).
    """
    from tap_equipme.pipeline.quality import QualityError, check_warehouse, parse_duration

    args = _parser().parse_args(sys.argv[2:] if argv is None else argv)
    try:
        limit = parse_duration(args.max_staleness) if args.max_staleness else None
        report = check_warehouse(
            args.destination,
            args.path,
            lake=lake_arguments(args),
            max_staleness=limit,
        )
    except QualityError as exc:
        sys.stderr.write(f"equipme-sync check: {exc}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(dataclasses.asdict(report), indent=2) + "\n")
    else:
        loads = ", ".join(f"{s} {at}" for s, at in report.last_loads.items()) or "none"
        sys.stdout.write(
            f"equipme-sync check: passed ({report.live_customers} live customers; last "
            f"successful loads: {loads})\n"
        )
    return 0
