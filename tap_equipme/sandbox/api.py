"""The emulated API: the spec's 9 operations under ``/v1/sales/customers``.

Framework-free: ``EquipmeApi.handle`` maps (method, path, query, body) to a ``Response``; the
HTTP server only moves bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from tap_equipme.sandbox import data
from tap_equipme.sandbox.api_error import ApiError, bad_request, not_found
from tap_equipme.sandbox.query import (
    MAX_INT32,
    ListRequest,
    parse_list_query,
    reject_unknown_parameters,
)
from tap_equipme.sandbox.render import CUSTOMERS_PATH, dumps
from tap_equipme.sandbox.store import Store
from tap_equipme.sandbox.validation import validate_body
from tap_equipme.sandbox.writes import apply_patch, check_employee_id, put_changes, validate_create

_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("customers", re.compile(r"^/v1/sales/customers/?$")),
    ("customer", re.compile(r"^/v1/sales/customers/(?P<id>[^/]+)/?$")),
    ("metadata", re.compile(r"^/v1/sales/customers/(?P<id>[^/]+)/metadata/?$")),
    ("metadata_key", re.compile(r"^/v1/sales/customers/(?P<id>[^/]+)/metadata/(?P<key>[^/]+)$")),
)
ROUTE_TEMPLATES = {
    "customers": "/v1/sales/customers",
    "customer": "/v1/sales/customers/{customerId}",
    "metadata": "/v1/sales/customers/{customerId}/metadata",
    "metadata_key": "/v1/sales/customers/{customerId}/metadata/{key}",
}
_METHODS = {
    "customers": ("GET", "POST"),
    "customer": ("GET", "PUT", "PATCH"),
    "metadata": ("GET", "POST"),
    "metadata_key": ("GET", "DELETE"),
}


@dataclass
class Response:
    """An HTTP answer: status, JSON body bytes (or None) and extra headers."""

    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def error_response(error: ApiError) -> Response:
    """The ErrorResponse for ``error``."""
    return Response(error.status, dumps(error.body()))


def match_route(path: str) -> tuple[str, dict[str, str]] | None:
    """The route name and path parameters for ``path``, or None."""
    for name, pattern in _ROUTES:
        found = pattern.match(path)
        if found:
            return name, found.groupdict()
    return None


def _customer_id(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Path parameter 'customerId' must be an integer, not {raw!r}.") from None
    if not -(2**31) <= value <= MAX_INT32:
        raise bad_request(f"Path parameter 'customerId' must be a 32-bit integer, not {value}.")
    return value


def _json_body(raw: bytes) -> Any:
    if not raw:
        raise bad_request("A JSON request body is required.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}.") from None


class EquipmeApi:
    """The API's behaviour over a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(self, method: str, path: str, query_string: str, body: bytes) -> Response:
        """Answer one authenticated API request."""
        route = match_route(path)
        if route is None:
            return error_response(not_found(f"No route for {path}."))
        name, params = route
        if method not in _METHODS[name]:
            allowed = ", ".join(_METHODS[name])
            error = ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {path}.")
            return Response(405, dumps(error.body()), {"Allow": allowed})
        try:
            reject_unknown_parameters(name, method, query_string)
            return getattr(self, f"_{name}_{method.lower()}")(params, query_string, body)
        except ApiError as error:
            return error_response(error)

    # ----- /v1/sales/customers ---------------------------------------------------------
    def _customers_get(self, _params: dict[str, str], query_string: str, _body: bytes) -> Response:
        query = parse_qs(query_string, keep_blank_values=True)
        request = parse_list_query(query)
        items, total = self.store.page(request.list_filter, request.offset, request.limit)
        return Response(200, self.list_body(query, request, items, total))

    def list_body(
        self, query: dict[str, list[str]], request: ListRequest, items: list[bytes], total: int
    ) -> bytes:
        """The CustomerList document, assembled from pre-rendered customer bytes."""
        kept = {k: v for k, v in query.items() if k not in ("offset", "limit")}

        def link(offset: int) -> bytes:
            pairs = urlencode(
                {**kept, "offset": offset, "limit": request.limit}, doseq=True, quote_via=quote
            )
            return dumps(self.store.renderer.href(f"{CUSTOMERS_PATH}?{pairs}"))

        parts = [b'{"items":[', b",".join(items), b'],"total":', str(total).encode()]
        parts += [b',"self":', link(request.offset)]
        if request.offset + request.limit < total:
            parts += [b',"next":', link(request.offset + request.limit)]
        if request.offset > 0:
            parts += [b',"previous":', link(max(0, request.offset - request.limit))]
        parts.append(b"}")
        return b"".join(parts)

    def _customers_post(self, _params: dict[str, str], _query: str, body: bytes) -> Response:
        document = _json_body(body)
        validate_create(document)
        customer_id = self.store.create(document, data.to_micros(datetime.now(timezone.utc)))
        return Response(201, self.store.get_customer(customer_id))

    # ----- /v1/sales/customers/{id} ----------------------------------------------------
    def _customer_get(self, params: dict[str, str], _query: str, _body: bytes) -> Response:
        return Response(200, self.store.get_customer(_customer_id(params["id"])))

    def _customer_put(self, params: dict[str, str], _query: str, body: bytes) -> Response:
        customer_id = _customer_id(params["id"])
        self.store.require_live(customer_id)
        document = _json_body(body)
        validate_body("CustomerUpdateModel", document)
        check_employee_id("accountManagerId", document.get("accountManagerId"))
        self.store.update(customer_id, put_changes(document))
        return Response(204)

    def _customer_patch(self, params: dict[str, str], _query: str, body: bytes) -> Response:
        customer_id = _customer_id(params["id"])
        self.store.require_live(customer_id)
        document = _json_body(body)
        with self.store.lock:
            current = self.store.details(customer_id)
            changes = apply_patch(current, document)
            if changes.get("accountManager") is not None:
                check_employee_id("accountManager", changes["accountManager"])
            self.store.update(customer_id, changes)
        return Response(204)

    # ----- metadata --------------------------------------------------------------------
    def _metadata_get(self, params: dict[str, str], _query: str, _body: bytes) -> Response:
        return Response(200, dumps(self.store.list_metadata(_customer_id(params["id"]))))

    def _metadata_post(self, params: dict[str, str], _query: str, body: bytes) -> Response:
        customer_id = _customer_id(params["id"])
        self.store.require_live(customer_id)
        document = _json_body(body)
        validate_body("MetadataItemCreateModel", document)
        key = document.get("key")
        if not key:
            raise bad_request("Field 'key' is required and must not be empty.")
        item = self.store.put_metadata(customer_id, key, document.get("value"))
        return Response(201, dumps(item))

    def _metadata_key_get(self, params: dict[str, str], _query: str, _body: bytes) -> Response:
        item = self.store.get_metadata(_customer_id(params["id"]), unquote(params["key"]))
        return Response(200, dumps(item))

    def _metadata_key_delete(self, params: dict[str, str], _query: str, _body: bytes) -> Response:
        self.store.delete_metadata(_customer_id(params["id"]), unquote(params["key"]))
        return Response(204)
