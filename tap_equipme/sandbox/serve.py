"""``equipme-sandbox``: serve the sandbox until SIGINT / SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType

from tap_equipme.sandbox.faults import RETRY_AFTER_STYLES, Faults
from tap_equipme.sandbox.limits import SHAPES
from tap_equipme.sandbox.server import HREF_STYLES, SandboxServer

API_KEY_ENV = "EQUIPME_SANDBOX_API_KEY"
DEFAULT_API_KEY = "sandbox-key"


def build_parser() -> argparse.ArgumentParser:
    """The command line (fault flags mirror the ``Faults`` fields)."""
    parser = argparse.ArgumentParser(
        prog="equipme-sandbox",
        description="Serve a local double of the Equipme Supplier API (customers).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"API key clients must send (default: ${API_KEY_ENV}, else '{DEFAULT_API_KEY}')",
    )
    parser.add_argument("--href-style", choices=sorted(HREF_STYLES), default="noslash")
    parser.add_argument(
        "--prerender",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="render every customer's JSON before listening (~30 us per customer), so that "
        "a client's first pass is served as fast as later ones (default: on)",
    )
    faults = parser.add_argument_group("faults (apply to /v1 routes only)")
    faults.add_argument("--latency-ms", type=float, default=0.0)
    faults.add_argument("--jitter-ms", type=float, default=0.0)
    faults.add_argument("--rate-limit-per-s", type=float, default=None)
    faults.add_argument("--rate-limit-shape", choices=SHAPES, default="token_bucket")
    faults.add_argument("--rate-limit-window-s", type=float, default=1.0)
    faults.add_argument("--retry-after", choices=RETRY_AFTER_STYLES, default="seconds")
    faults.add_argument("--retry-after-seconds", type=int, default=1)
    faults.add_argument("--error-rate", type=float, default=0.0)
    faults.add_argument("--drop-rate", type=float, default=0.0)
    faults.add_argument("--truncate-rate", type=float, default=0.0)
    faults.add_argument("--slow-rate", type=float, default=0.0)
    faults.add_argument("--slow-seconds", type=float, default=30.0)
    faults.add_argument("--outage-after", type=int, default=None)
    faults.add_argument("--only-paths", default=None, help="regex on the URL path")
    faults.add_argument("--fault-seed", type=int, default=0)
    return parser


def faults_from_args(args: argparse.Namespace) -> Faults:
    """The ``Faults`` the flags describe (ValueError naming a bad setting)."""
    return Faults(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        rate_limit_per_s=args.rate_limit_per_s,
        rate_limit_shape=args.rate_limit_shape,
        rate_limit_window_s=args.rate_limit_window_s,
        retry_after=args.retry_after,
        retry_after_seconds=args.retry_after_seconds,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        truncate_rate=args.truncate_rate,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        outage_after=args.outage_after,
        only_paths=args.only_paths,
        seed=args.fault_seed,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox; exit 0 on SIGINT / SIGTERM, 2 on bad flags."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.customers < 0:
        parser.error("--customers must not be negative.")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must lie between 0 and 65535 (0 picks a free port), not {args.port}.")
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or DEFAULT_API_KEY
    try:
        faults = faults_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    server = SandboxServer(
        customers=args.customers,
        seed=args.seed,
        api_key=api_key,
        host=args.host,
        port=args.port,
        faults=faults,
        href_style=args.href_style,
        prerender=args.prerender,
    )

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        server.stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        server.start()
    except OSError as exc:
        print(f"equipme-sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"Equipme sandbox listening on {server.base_url}", flush=True)
    while not server.stopping.wait(0.5):
        pass
    server.stop()
    print("Equipme sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
