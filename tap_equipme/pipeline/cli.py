"""The `equipme-sync` command line: arguments and config files -> `pipeline.run_sync`."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import typing as t
from collections.abc import Sequence
from pathlib import Path

from tap_equipme.pipeline.sync import (
    DESTINATIONS,
    ENV_PREFIX,
    LAKE_SETTINGS,
    SyncError,
    SyncInterrupted,
    run_sync,
)

# `equipme-sync NAME ...`: the module whose `main(argv) -> int` runs command NAME. Without a
# command name, `equipme-sync` syncs (as it always has).
COMMANDS: dict[str, str] = {
    "check": "tap_equipme.pipeline.check_cli",
    "erase": "tap_equipme.pipeline.erase_cli",
    "maintain": "tap_equipme.pipeline.maintain_cli",
    "publish": "tap_equipme.pipeline.publish_cli",
}


def _load_config_files(paths: Sequence[str]) -> dict[str, t.Any]:
    config: dict[str, t.Any] = {}
    for name in paths:
        try:
            loaded = json.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            msg = f"equipme-sync: --config {name!r} is not a readable JSON file: {exc}"
            raise SyncError(msg) from exc
        if not isinstance(loaded, dict):
            msg = f"equipme-sync: --config {name!r} must hold a JSON object of tap settings."
            raise SyncError(msg)
        config |= loaded
    return config


WAREHOUSE_ENV_PREFIX = "EQUIPME_SYNC_"
"""`--path` etc. default to `EQUIPME_SYNC_PATH` etc.: how meltano hands a utility its settings."""


def _env_default(name: str) -> str | None:
    return os.environ.get(WAREHOUSE_ENV_PREFIX + name.upper()) or None


def _env_flag(name: str) -> bool | None:
    value = _env_default(name)
    return None if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def add_warehouse_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the warehouse's arguments (`--destination`, `--path`, the lake's) to a parser.

    Every `equipme-sync` command that opens the warehouse takes them alike; read them back
    with `lake_arguments`. Each defaults to its environment variable `EQUIPME_SYNC_<NAME>`
    (`EQUIPME_SYNC_PATH`, `EQUIPME_SYNC_LAKE_DATA_PATH`, ...), which is how meltano passes a
    utility's settings (meltano.yml's `equipme-sync` utility).

    Args:
        parser: The command's parser.
    """
    parser.add_argument(
        "--destination", choices=DESTINATIONS, default=_env_default("destination") or "duckdb"
    )
    parser.add_argument(
        "--path",
        required=_env_default("path") is None,
        default=_env_default("path"),
        help="DuckDB file, Parquet directory, or DuckLake catalog (postgres:<conninfo> without "
        "a password, or a catalog file)",
    )
    lake = parser.add_argument_group(
        "destination ducklake",
        "credentials only from the environment: PGPASSWORD (or PGPASSFILE / PGSERVICE), "
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN",
    )
    helps = {
        "lake_data_path": "directory or s3://bucket/prefix/ of the files",
        "lake_schema": "lake schema of this warehouse (default main)",
        "s3_endpoint": "S3-compatible endpoint host:port (default AWS)",
        "s3_region": "S3 region (default AWS_REGION)",
    }
    for name, text in helps.items():
        lake.add_argument(f"--{name.replace('_', '-')}", default=_env_default(name), help=text)
    lake.add_argument(
        "--s3-url-style", choices=("vhost", "path"), default=_env_default("s3_url_style")
    )
    lake.add_argument(
        "--s3-use-ssl",
        action=argparse.BooleanOptionalAction,
        default=_env_flag("s3_use_ssl"),
        help="default on",
    )


def lake_arguments(args: argparse.Namespace) -> dict[str, t.Any]:
    """The lake settings given on the command line (see `add_warehouse_arguments`).

    Args:
        args: The parsed arguments.

    Returns:
        `{setting: value}` for every setting of `LAKE_SETTINGS` given (a setting left out is
        not in it).
    """
    return {name: getattr(args, name) for name in LAKE_SETTINGS if getattr(args, name) is not None}


def command_parser(command: str, description: str, prints: str) -> argparse.ArgumentParser:
    """The parser of an `equipme-sync` sub-command: the warehouse's arguments and `--json`.

    Args:
        command: The sub-command's name.
        description: What it does (its `--help`).
        prints: What `--json` prints as JSON ("report", "result").

    Returns:
        The parser; the command adds its own arguments.
    """
    parser = argparse.ArgumentParser(prog=f"equipme-sync {command}", description=description)
    add_warehouse_arguments(parser)
    parser.add_argument("--json", action="store_true", help=f"print the {prints} as JSON")
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="equipme-sync",
        description="Sync Equipme customers into DuckDB, Parquet or DuckLake (tap-equipme | "
        "target-duckdb-lake), incrementally from the bookmark stored in the warehouse. "
        f"Other commands: {', '.join(f'equipme-sync {name}' for name in COMMANDS)} "
        "(each with its own --help).",
    )
    add_warehouse_arguments(parser)
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="tap settings (JSON); TAP_EQUIPME_* environment variables override them",
    )
    parser.add_argument("--full-refresh", action="store_true", help="ignore the bookmark")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="start over even if an interrupted run could be resumed",
    )
    parser.add_argument("--run-id", help="identifier of this run in _equipme_loads")
    parser.add_argument("--progress-interval", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument("--verbose", action="store_true", help="echo the tap's and target's logs")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `equipme-sync` CLI.

    Args:
        argv: Arguments (default: `sys.argv[1:]`).

    Returns:
        The exit code (0 success, 1 failure, 2 bad arguments, 128+N stopped by signal N).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        command = importlib.import_module(COMMANDS[argv[0]])
        return int(command.main(argv[1:]))
    args = _parser().parse_args(argv)
    try:
        tap_config = _load_config_files(args.config)
        if not tap_config.get("api_key") and not os.environ.get(f"{ENV_PREFIX}API_KEY"):
            raise SyncError(
                "equipme-sync: setting 'api_key' is missing: put it in the --config file or "
                f"in the environment variable {ENV_PREFIX}API_KEY."
            )
        summary = run_sync(
            tap_config,
            args.destination,
            args.path,
            args.full_refresh,
            run_id=args.run_id,
            progress_interval=args.progress_interval,
            echo_logs=args.verbose,
            env_settings=True,
            lake=lake_arguments(args),
            restart=args.restart,
        )
    except SyncInterrupted as exc:
        sys.stderr.write(f"{exc}\n")
        return 128 + exc.signum
    except SyncError as exc:
        if exc.summary is not None:
            exc.summary.failure = None
            sys.stderr.write(exc.summary.render() + "\n")
        sys.stderr.write(f"{exc}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(summary.as_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(summary.render() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
