"""Query-string parsing for the list operation (400 ErrorResponses naming the parameter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs

from tap_equipme.sandbox import data
from tap_equipme.sandbox.api_error import bad_request
from tap_equipme.sandbox.store import ListFilter

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_INT32 = 2**31 - 1


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


def reject_unknown_parameters(route: str, method: str, query_string: str) -> None:
    """400 naming the first query parameter the operation does not declare."""
    # Stricter than a typical server on purpose: a client's misspelt parameter (say
    # "created_after") must fail loudly in tests instead of being silently ignored.
    allowed = LIST_PARAMETERS if (route, method) == ("customers", "GET") else ()
    for name in parse_qs(query_string, keep_blank_values=True):
        if name not in allowed:
            known = ", ".join(allowed) or "none"
            raise bad_request(f"Unknown query parameter '{name}' (known parameters: {known}).")


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
    sort_order = _single(query, "sortOrder")
    if sort_order is None:
        sort_order = "asc"
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
