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
from tap_equipme.sandbox.errors import ApiError, bad_request, forbidden, not_found
from tap_equipme.sandbox.patch import apply_patch, put_changes, require_name
from tap_equipme.sandbox.store import CUSTOMERS_PATH, ListFilter, Store, dumps
from tap_equipme.sandbox.validation import validate_body

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_INT32 = 2**31 - 1

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


@dataclass
class ListRequest:
    """A parsed list request."""

    list_filter: ListFilter
    offset: int
    limit: int


LIST_PARAMETERS = (
    "active",
    "createdAfter",
    "names",
    "customerNumbers",
    "sortBy",
    "sortOrder",
    "offset",
    "limit",
)


def _reject_unknown_parameters(route: str, method: str, query_string: str) -> None:
    # Stricter than a typical server on purpose: a client's misspelt parameter (say
    # "created_after") must fail loudly in tests instead of being silently ignored.
    allowed = LIST_PARAMETERS if (route, method) == ("customers", "GET") else ()
    for name in parse_qs(query_string, keep_blank_values=True):
        if name not in allowed:
            known = ", ".join(allowed) or "none"
            raise bad_request(f"Unknown query parameter '{name}' (known parameters: {known}).")


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


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad_request(f"Query parameter '{name}' was given {len(values)} times; give it once.")
    return values[0]


def _int_param(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = _single(query, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Query parameter '{name}' must be an integer, not {raw!r}.") from None
    if not low <= value <= high:
        raise bad_request(
            f"Query parameter '{name}' must lie between {low} and {high}, not {value}."
        )
    return value


def parse_created_after(raw: str) -> int:
    """``createdAfter`` as microseconds since the epoch (a naive time is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        hint = " (a '+' in a query string means a space: send it as %2B)" if " " in raw else ""
        raise bad_request(
            f"Query parameter 'createdAfter' must be an ISO-8601 date-time, not {raw!r}{hint}."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return data.to_micros(moment)


def parse_list_query(query: dict[str, list[str]]) -> ListRequest:
    """Validate and parse the list operation's query parameters (400 on anything invalid)."""
    active_raw = _single(query, "active")
    active: bool | None = None
    if active_raw is not None:
        if active_raw.lower() not in ("true", "false"):
            raise bad_request(
                f"Query parameter 'active' must be true or false, not {active_raw!r}."
            )
        active = active_raw.lower() == "true"
    created_raw = _single(query, "createdAfter")
    sort_by = _single(query, "sortBy")
    if sort_by is not None:
        if sort_by.lower() != "name":
            raise bad_request(f"Query parameter 'sortBy' must be 'name', not {sort_by!r}.")
        sort_by = "name"
    sort_order = _single(query, "sortOrder") or "asc"
    if sort_order.lower() not in ("asc", "desc"):
        raise bad_request(f"Query parameter 'sortOrder' must be asc or desc, not {sort_order!r}.")
    return ListRequest(
        list_filter=ListFilter(
            active=active,
            created_after_us=parse_created_after(created_raw) if created_raw is not None else None,
            names=tuple(query.get("names", ())),
            customer_numbers=tuple(query.get("customerNumbers", ())),
            sort_by=sort_by,
            sort_order=sort_order.lower(),
        ),
        offset=_int_param(query, "offset", 0, 0, MAX_INT32),
        limit=_int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
    )


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
            _reject_unknown_parameters(name, method, query_string)
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
            return dumps(self.store.href(f"{CUSTOMERS_PATH}?{pairs}"))

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
        _check_employee_id("accountManagerId", document.get("accountManagerId"))
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
                _check_employee_id("accountManager", changes["accountManager"])
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


def validate_create(document: Any) -> None:
    """400 / 403 unless ``document`` is a CustomerCreateModel this tenant may create."""
    validate_body("CustomerCreateModel", document)
    require_name(document["name"])
    _check_employees(document)


def _check_employee_id(field_name: str, employee_id: Any) -> None:
    if employee_id is not None and employee_id not in data.EMPLOYEES_BY_ID:
        raise bad_request(
            f"Field '{field_name}': employee {employee_id} does not belong to your organization."
        )


def _check_employees(document: dict[str, Any]) -> None:
    _check_employee_id("accountManager", document.get("accountManager"))
    for index, assignment in enumerate(document.get("tenantPermissions") or ()):
        employee_id = assignment["employeeId"]
        if employee_id not in data.EMPLOYEES_BY_ID:
            # "If you provide IDs that do not belong to your organization, the create
            # operation will fail": access to a foreign employee is denied (403).
            raise forbidden(
                f"Field 'tenantPermissions.{index}.employeeId': employee {employee_id} "
                "does not belong to your organization."
            )
        if assignment["role"] == "user":
            raise bad_request(
                f"Field 'tenantPermissions.{index}.role': role 'user' is not allowed."
            )
