"""The practical limit for extraction: page the customers list, one JSON line per item.

Usage: ``EQUIPME_API_KEY=... python requests_loop.py BASE_URL PAGE_SIZE`` (writes to stdout).
Deliberately minimal: one keep-alive session, ``offset``/``limit`` paging, ``json.dumps``.
"""

from __future__ import annotations

import json
import os
import sys

import requests


def main() -> int:
    base_url, page_size = sys.argv[1], int(sys.argv[2])
    out = sys.stdout
    with requests.Session() as session:
        session.headers["X-API-KEY"] = os.environ["EQUIPME_API_KEY"]
        offset = 0
        while True:
            response = session.get(
                f"{base_url}/v1/sales/customers",
                params={"offset": offset, "limit": page_size},
                timeout=60,
            )
            response.raise_for_status()
            page = response.json()
            for item in page["items"]:
                out.write(json.dumps(item) + "\n")
            if not page.get("next") or not page["items"]:
                return 0
            offset += page_size


if __name__ == "__main__":
    raise SystemExit(main())
