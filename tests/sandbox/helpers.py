"""HTTP helpers for the sandbox tests (plain ``requests``, one session per test)."""

from __future__ import annotations

from typing import Any

import requests

from tap_equipme.sandbox import SandboxServer

KEY_HEADER = "X-API-KEY"


class Api:
    """A tiny client of the emulated API that keeps the key out of test bodies."""

    def __init__(self, sandbox: SandboxServer, api_key: str) -> None:
        self.base_url = sandbox.base_url
        self.session = requests.Session()
        self.session.headers[KEY_HEADER] = api_key

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, f"{self.base_url}{path}", **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def list(self, **params: Any) -> dict[str, Any]:
        response = self.get("/v1/sales/customers", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def all_customers(self, page_size: int = 1000, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.list(offset=offset, limit=page_size, **params)
            items += page["items"]
            offset += page_size
            if "next" not in page:
                return items
