"""Test hooks under ``/_sandbox/``: kept apart from the emulated API, no API key, no faults."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from tap_equipme.sandbox import data
from tap_equipme.sandbox.api import Response, error_response
from tap_equipme.sandbox.api_error import ApiError, bad_request, not_found
from tap_equipme.sandbox.drift import Drift, DriftPlan
from tap_equipme.sandbox.extra_fields import ExtraFields
from tap_equipme.sandbox.faults import FaultInjector, Faults
from tap_equipme.sandbox.render import dumps
from tap_equipme.sandbox.stats import Stats
from tap_equipme.sandbox.store import Store
from tap_equipme.sandbox.writes import validate_create


class Hooks:
    """Answers ``/_sandbox/...`` requests against the sandbox's live state."""

    def __init__(
        self,
        store: Store,
        injector: FaultInjector,
        stats: Stats,
        drift: Drift,
        on_reset: Callable[[], None] = lambda: None,
    ) -> None:
        self.on_reset = on_reset
        self.store = store
        self.injector = injector
        self.stats = stats
        self.drift = drift

    def handle(self, method: str, path: str, body: bytes) -> Response:
        """Dispatch one hook request."""
        routes = {
            ("POST", "/_sandbox/reset"): self._reset,
            ("POST", "/_sandbox/faults"): self._faults,
            ("GET", "/_sandbox/faults"): self._get_faults,
            ("POST", "/_sandbox/rate_limit"): self._rate_limit,
            ("POST", "/_sandbox/customers"): self._create_customers,
            ("POST", "/_sandbox/delete"): self._delete,
            ("POST", "/_sandbox/drift"): self._drift,
            ("GET", "/_sandbox/stats"): self._stats,
            ("POST", "/_sandbox/stats/clear"): self._clear_stats,
            ("GET", "/_sandbox/snapshot"): self._snapshot,
            ("POST", "/_sandbox/extra_fields"): self._set_extra_fields,
            ("GET", "/_sandbox/extra_fields"): self._get_extra_fields,
        }
        handler = routes.get((method, path.rstrip("/")))
        try:
            if handler is None:
                raise not_found(f"No sandbox hook {method} {path}.")
            document = json.loads(body) if body else {}
            if not isinstance(document, dict):
                raise bad_request("A sandbox hook body must be a JSON object.")
            return Response(200, dumps(handler(document)))
        except ValueError as exc:  # also json.JSONDecodeError
            return error_response(bad_request(str(exc)))
        except ApiError as error:
            return error_response(error)

    def _reset(self, body: dict[str, Any]) -> dict[str, Any]:
        customers = int(body.get("customers", len(self.store.cores)))
        seed = int(body.get("seed", self.store.seed))
        if customers < 0:
            raise ValueError("'customers' must not be negative.")
        self.drift.clear()
        self.injector.configure(Faults())
        self.on_reset()
        self.store.reset(customers, seed)
        if body.get("prerender"):
            self.store.prerender()
        self.stats.clear()
        return {"customers": customers, "seed": seed}

    def _faults(self, body: dict[str, Any]) -> dict[str, Any]:
        faults = Faults.from_dict(body)
        self.injector.configure(faults)
        return faults.to_dict()

    def _rate_limit(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(
            set(body) - {"rate_limit_per_s", "rate_limit_shape", "rate_limit_window_s"}
        )
        if unknown:
            raise ValueError(f"Unknown rate limit setting(s) {unknown}.")
        if "rate_limit_per_s" not in body:
            raise ValueError("'rate_limit_per_s' is required (a number, or null for no limit).")
        faults = self.injector.set_rate_limit(
            body["rate_limit_per_s"], body.get("rate_limit_shape"), body.get("rate_limit_window_s")
        )
        return faults.to_dict()

    def _get_faults(self, _body: dict[str, Any]) -> dict[str, Any]:
        return self.injector.faults.to_dict()

    def _create_customers(self, body: dict[str, Any]) -> dict[str, Any]:
        bodies = body.get("customers")
        if not isinstance(bodies, list):
            raise ValueError("'customers' must be a list of CustomerCreateModel objects.")
        created_at = body.get("created_at")
        if created_at is None:
            moment = datetime.now(timezone.utc)
        else:
            moment = datetime.fromisoformat(created_at)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
        for document in bodies:
            validate_create(document)
        created_us = data.to_micros(moment)
        return {"ids": [self.store.create(document, created_us) for document in bodies]}

    def _delete(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = body.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise ValueError("'ids' must be a list of customer ids.")
        return {"deleted": self.store.delete(ids)}

    def _drift(self, body: dict[str, Any]) -> dict[str, Any]:
        plan = DriftPlan(
            after_requests=int(body.get("after_requests", 1)),
            insert=int(body.get("insert", 0)),
            delete=int(body.get("delete", 0)),
            repeat=bool(body.get("repeat", False)),
            rename=int(body.get("rename", 0)),
        )
        self.drift.schedule(plan)
        return {"scheduled": True}

    def _stats(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {**self.stats.to_dict(), "drift_applied": self.drift.applied}

    def _clear_stats(self, _body: dict[str, Any]) -> dict[str, Any]:
        self.stats.clear()
        return {"cleared": True}

    def _snapshot(self, _body: dict[str, Any]) -> dict[str, Any]:
        return self.store.snapshot()

    def _set_extra_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        extra = ExtraFields.from_dict(body)
        self.store.set_extra_fields(extra)
        return extra.to_dict()

    def _get_extra_fields(self, _body: dict[str, Any]) -> dict[str, Any]:
        return self.store.renderer.extra.to_dict()
