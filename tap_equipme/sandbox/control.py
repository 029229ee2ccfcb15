"""``SandboxControl``: the Python client of the sandbox's ``/_sandbox/`` test hooks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any


class SandboxControlError(RuntimeError):
    """A hook answered with an error (the message carries the sandbox's description)."""


class SandboxControl:
    """One method per hook (see docs/ARCHITECTURE.md). Stateless: a new connection per call."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, hook: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (http URL built from base_url)
            f"{self.base_url}/_sandbox/{hook}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                detail = error.read().decode(errors="replace")
            raise SandboxControlError(
                f"Sandbox hook {hook} failed: {error.code} {detail}"
            ) from None

    def reset(self, customers: int = 1000, seed: int = 1, prerender: bool = False) -> None:
        """Regenerate data; clear stats, faults and drift (``prerender``: render all now)."""
        self._call("POST", "reset", {"customers": customers, "seed": seed, "prerender": prerender})

    def set_faults(self, **fields: Any) -> dict[str, Any]:
        """Replace the fault configuration (fields of ``Faults``)."""
        result: dict[str, Any] = self._call("POST", "faults", fields)
        return result

    def set_rate_limit(
        self,
        rate_limit_per_s: float | None,
        shape: str | None = None,
        window_s: float | None = None,
    ) -> dict[str, Any]:
        """Change only the rate limit, mid-run (the bucket keeps its tokens; other faults stay)."""
        body: dict[str, Any] = {"rate_limit_per_s": rate_limit_per_s}
        if shape is not None:
            body["rate_limit_shape"] = shape
        if window_s is not None:
            body["rate_limit_window_s"] = window_s
        result: dict[str, Any] = self._call("POST", "rate_limit", body)
        return result

    def clear_faults(self) -> None:
        """No faults."""
        self._call("POST", "faults", {})

    def create_customers(
        self, bodies: list[dict[str, Any]], created_at: datetime | str | None = None
    ) -> list[int]:
        """Create customers (CustomerCreateModel bodies) at ``created_at`` (default now)."""
        moment = created_at.isoformat() if isinstance(created_at, datetime) else created_at
        result = self._call("POST", "customers", {"customers": bodies, "created_at": moment})
        return list(result["ids"])

    def delete_customers(self, ids: list[int]) -> list[int]:
        """Delete customers: gone from lists; GET and metadata answer 403."""
        return list(self._call("POST", "delete", {"ids": list(ids)})["deleted"])

    def schedule_drift(
        self,
        after_requests: int,
        insert: int = 0,
        delete: int = 0,
        repeat: bool = False,
        rename: int = 0,
    ) -> None:
        """After the k-th following list request, insert, delete and rename customers.

        Renamed customers are ones not served yet, moved among those already served.
        """
        body = {"after_requests": after_requests, "insert": insert, "delete": delete}
        body["rename"] = rename
        self._call("POST", "drift", {**body, "repeat": repeat})

    def stats(self) -> dict[str, Any]:
        """Request counters, list query log, faults injected, max concurrency."""
        result: dict[str, Any] = self._call("GET", "stats")
        return result

    def clear_stats(self) -> None:
        """Zero the counters."""
        self._call("POST", "stats/clear", {})

    def snapshot(self) -> dict[str, Any]:
        """Everything the API holds (live customers, metadata, creation times, deleted ids)."""
        result: dict[str, Any] = self._call("GET", "snapshot")
        return result

    def set_extra_fields(
        self,
        customer: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        ids: list[int] | None = None,
        also: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Add fields beyond the spec to customers / metadata items (dotted paths -> values).

        Replaces the previous configuration; ``ids`` limits it to those customers; ``also``
        adds configurations of their own (``{"customer", "metadata", "ids"}``) on top.
        """
        body: dict[str, Any] = {"customer": customer or {}, "metadata": metadata or {}, "ids": ids}
        if also:
            body["also"] = also
        result: dict[str, Any] = self._call("POST", "extra_fields", body)
        return result

    def clear_extra_fields(self) -> None:
        """Back to documents exactly as the spec describes them."""
        self._call("POST", "extra_fields", {})

    def extra_fields(self) -> dict[str, Any]:
        """The current extra fields configuration."""
        result: dict[str, Any] = self._call("GET", "extra_fields")
        return result
