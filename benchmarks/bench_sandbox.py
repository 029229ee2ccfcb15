"""Benchmark: how fast the sandbox serves ``limit=1000`` pages to one keep-alive client.

Usage: ``.venv/bin/python benchmarks/bench_sandbox.py [--customers N] [--small]``.
Prints the data-generation time, then customers/s for a cold pass (first render of every
customer) and for warm passes (pre-rendered JSON), unsorted and sorted by name.
"""

from __future__ import annotations

import argparse
import re
import time

import requests

from tap_equipme.sandbox import SandboxServer
from tap_equipme.sandbox.data import generate_cores
from tap_equipme.sandbox.store import Store

API_KEY = "bench-key"
TARGET_PER_S = 50_000


TOTAL = re.compile(rb'\],"total":(\d+),"self"')


def page_through(
    session: requests.Session, base_url: str, parse: bool, **params: object
) -> tuple[int, float]:
    """Fetch every page (limit=1000); returns (customers received, seconds).

    With ``parse`` the client decodes each page's JSON (as a tap does, and then the client's
    JSON decoder dominates); without, it counts items from ``total``, which measures the
    sandbox itself.
    """
    started = time.perf_counter()
    received, offset = 0, 0
    while True:
        response = session.get(
            f"{base_url}/v1/sales/customers",
            params={**params, "offset": offset, "limit": 1000},
            timeout=60,
        )
        response.raise_for_status()
        if parse:
            page = response.json()
            received += len(page["items"])
            has_next = "next" in page
        else:
            body = response.content
            found = TOTAL.search(body)
            assert found is not None, "list body without total"
            received += min(1000, int(found.group(1)) - offset)
            has_next = b',"next":' in body
        if not has_next:
            return received, time.perf_counter() - started
        offset += 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--small", action="store_true", help="10,000 customers (quick check)")
    args = parser.parse_args()
    customers = 10_000 if args.small else args.customers

    started = time.perf_counter()
    generate_cores(customers, seed=1)
    print(f"generate {customers} customer cores: {time.perf_counter() - started:.2f} s")
    store = Store(customers, seed=1)
    started = time.perf_counter()
    store.prerender()
    print(f"prerender (SandboxServer(prerender=True)): {time.perf_counter() - started:.2f} s")
    del store

    started = time.perf_counter()
    with SandboxServer(customers=customers, seed=1, api_key=API_KEY) as sandbox:
        print(f"sandbox ready: {time.perf_counter() - started:.2f} s")
        with requests.Session() as session:
            session.headers["X-API-KEY"] = API_KEY
            runs = [
                ("cold (first render), by id", False, {}),
                ("warm, by id", False, {}),
                ("new ordering, sortBy=name", False, {"sortBy": "name"}),
                ("warm, sortBy=name", False, {"sortBy": "name"}),
                ("warm + client json parse", True, {}),
            ]
            best = 0.0
            for label, parse, params in runs:
                received, seconds = page_through(session, sandbox.base_url, parse, **params)
                rate = received / seconds
                if label.startswith("warm,"):
                    best = max(best, rate)
                print(f"{label:30s} {received:>8} customers in {seconds:6.2f} s = {rate:>11,.0f}/s")
        stats = sandbox.control.stats()
    verdict = "OK" if best >= TARGET_PER_S else "BELOW TARGET"
    print(f"warm serving rate {best:,.0f}/s vs target {TARGET_PER_S:,}/s: {verdict}")
    print(f"requests served: {stats['requests']}, max concurrent: {stats['max_concurrent']}")
    return 0 if best >= TARGET_PER_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
