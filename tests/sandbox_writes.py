"""Edits through the sandbox's own write routes (PATCH, metadata), as an Equipme user makes them.

A plain module, so that test helpers can use it too (test modules cannot import conftest under
`--import-mode=importlib`); `tests/conftest.py` serves it as the `sandbox_writes` fixture.
"""

from __future__ import annotations

from typing import Any

import requests


class SandboxWrites:
    """The sandbox's own write routes, as an Equipme user would call them."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["X-API-KEY"] = api_key

    def patch(self, customer_id: int, operations: list[dict[str, Any]]) -> None:
        response = self.session.patch(
            f"{self.base}/v1/sales/customers/{customer_id}",
            json=operations,
            headers={"Content-Type": "application/json-patch+json"},
            timeout=10,
        )
        assert response.status_code in (200, 204), response.text

    def put_metadata(self, customer_id: int, key: str, value: str) -> None:
        response = self.session.post(
            f"{self.base}/v1/sales/customers/{customer_id}/metadata",
            json={"key": key, "value": value},
            timeout=10,
        )
        assert response.status_code == 201, response.text

    def delete_metadata(self, customer_id: int, key: str) -> None:
        response = self.session.delete(
            f"{self.base}/v1/sales/customers/{customer_id}/metadata/{key}", timeout=10
        )
        assert response.status_code == 204, response.text
