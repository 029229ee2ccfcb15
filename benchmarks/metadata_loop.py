"""The practical floor for the metadata stream: N GETs of customer metadata, nothing else.

Usage: ``EQUIPME_API_KEY=... python metadata_loop.py BASE_URL CONCURRENCY ID ...`` prints the
seconds the requests took. One keep-alive session per thread, no parsing beyond
``raise_for_status``: what any client pays for the same requests to the same server.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests


def main() -> int:
    base_url, concurrency = sys.argv[1], int(sys.argv[2])
    ids = [int(i) for i in sys.stdin.read().split()]
    local = threading.local()

    def get(customer_id: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["X-API-KEY"] = os.environ["EQUIPME_API_KEY"]
        response = session.get(f"{base_url}/v1/sales/customers/{customer_id}/metadata", timeout=30)
        if response.status_code not in (200, 403, 404):
            response.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(get, ids))
    print(f"{time.perf_counter() - started:.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
