"""`equipme-sync erase`: erase a customer's contact person from the warehouse, everywhere.

Dry run by default (what would change: tables, rows, files, snapshots); `--apply` erases. See
docs/personal-data-erasure.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tap_equipme.pipeline.cli import command_parser, lake_arguments
from tap_equipme.pipeline.erase import MODES, customer_request, rules


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "erase",
        "Erase one customer's contact person (by customer id, or every customer whose contact "
        "email is or was an address) from every table, its history, the Parquet export and "
        "the lake's older snapshots. Dry run unless --apply.",
        prints="report",
    )
    who = parser.add_argument_group("who (one or both)")
    who.add_argument("--customer-id", type=int, action="append", default=[], metavar="N")
    who.add_argument("--email", help="contact email (current or any past value)")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="blank",
        help="blank: personal fields set to NULL, metadata rows deleted (default); "
        "delete: every row of the customer deleted",
    )
    parser.add_argument("--apply", action="store_true", help="erase (default: dry run)")
    parser.add_argument("--request-id", help="id of this request in _equipme_erasures (ticket)")
    parser.add_argument(
        "--export-dir",
        help="destination duckdb: the published Parquet export to rewrite (default: export/ "
        "beside the DuckDB file, if it exists)",
    )
    parser.add_argument(
        "--unsuppress",
        action="store_true",
        help="remove the customers' suppression entries instead (later syncs land their "
        "personal fields again); needs --customer-id",
    )
    return parser


def _export_dir(args: argparse.Namespace) -> Path | None:
    if args.export_dir:
        return Path(args.export_dir)
    default = Path(args.path).parent / "export"
    return default if args.destination == "duckdb" and default.is_dir() else None


def _republish(args: argparse.Namespace, export: Path) -> list[str]:
    """Rewrite the export from the erased warehouse; drop temp files a crash left there."""
    from tap_equipme.pipeline.publish import publish

    for stale in export.glob(".*.tmp"):
        stale.unlink(missing_ok=True)
    return sorted(publish("duckdb", args.path, export)["exported"])


def main(argv: Sequence[str]) -> int:
    """Run `equipme-sync erase`.

    Args:
        argv: Arguments after `erase`.

    Returns:
        0 on success, 1 on a warehouse error, 2 for bad arguments.
    """
    parser = _parser()
    args = parser.parse_args(list(argv))
    if not args.customer_id and not args.email:
        parser.error("name the person: --customer-id N and/or --email ADDRESS")
    if args.export_dir and args.destination != "duckdb":
        parser.error("--export-dir: only destination duckdb publishes a Parquet export")
    from tap_equipme.warehouse.erasure_run import run_erasure, unsuppress
    from tap_equipme.warehouse.load_errors import WarehouseError

    lake = lake_arguments(args)
    try:
        if args.unsuppress:
            if not args.customer_id:
                parser.error("--unsuppress needs --customer-id")
            keys = [str(i) for i in args.customer_id]
            count = unsuppress(
                args.destination, args.path, rules(args.mode), keys, apply=args.apply, lake=lake
            )
            verb = "removed" if args.apply else "would remove (dry run; --apply to remove)"
            sys.stdout.write(f"suppression entries {verb}: {count}\n")
            return 0
        request, finder = customer_request(
            args.customer_id, args.email, mode=args.mode, request_id=args.request_id
        )
        report = run_erasure(
            args.destination, args.path, request, finder, apply=args.apply, lake=lake
        )
        export = _export_dir(args)
        exported: list[str] = []
        if export is not None and args.apply:
            exported = _republish(args, export)
    except WarehouseError as exc:
        sys.stderr.write(f"equipme-sync erase: {exc}\n")
        return 1
    if args.json:
        body = {**report.as_dict(), "export_rewritten": exported}
        sys.stdout.write(json.dumps(body, indent=2, default=str) + "\n")
    else:
        text = report.render()
        if export is not None:
            done = f"rewrote {len(exported)} file(s)" if args.apply else "would be rewritten"
            text += f"\n  export {export}: {done}"
        sys.stdout.write(text + "\n")
    return 0
