"""Property-based tests of the tap's pure parts: drift-proof pagination, link resolution and
the OpenAPI -> JSON Schema -> warehouse column derivation.

The pagination model is a name-sorted listing that changes between requests (customers
inserted at random positions, customers deleted anywhere): whatever the drift, every customer
that existed for the whole read is emitted exactly once, nothing is emitted twice, and the
read ends.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_equipme.listing.pagination import DriftProofPaginator, PaginationError
from tap_equipme.warehouse.arrow import column_type, columns_for

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Drift = tuple[list[int], list[int]]
"""Per request: positions (fractions 0..1 scaled) to insert at, and positions to delete."""


def _read(listing: list[int], page_size: int, drifts: list[Drift]) -> tuple[list[int], set[int]]:
    """Page through `listing` with the paginator, applying one drift after each request.

    Returns the emitted ids and every id deleted during the read.
    """
    paginator = DriftProofPaginator(page_size)
    next_id = max(listing, default=0) + 1
    emitted: list[int] = []
    deleted: set[int] = set()
    requests = 0
    while (request := paginator.next_request()) is not None:
        page = listing[request.offset : request.offset + request.limit]
        emit = paginator.accept(request, page, len(listing))
        emitted += [page[index] for index in emit]
        if requests < len(drifts):
            inserts, deletes = drifts[requests]
            for position in inserts:
                listing.insert(position % (len(listing) + 1), next_id)
                next_id += 1
            for position in deletes:
                if listing:
                    deleted.add(listing.pop(position % len(listing)))
        requests += 1
        assert requests < 10_000, "the read did not end"
    return emitted, deleted


DRIFTS = st.lists(
    st.tuples(
        st.lists(st.integers(0, 10_000), max_size=4),
        st.lists(st.integers(0, 10_000), max_size=3),
    ),
    max_size=12,
)


@FAST
@given(st.integers(0, 400), st.integers(1, 60))
def test_without_drift_every_customer_is_emitted_once_in_listing_order(
    size: int, page_size: int
) -> None:
    listing = list(range(1, size + 1))
    emitted, _ = _read(list(listing), page_size, [])
    assert emitted == listing


@FAST
@given(st.integers(0, 300), st.integers(1, 50), DRIFTS)
def test_under_drift_every_customer_present_throughout_is_emitted_exactly_once(
    size: int, page_size: int, drifts: list[Drift]
) -> None:
    listing = list(range(1, size + 1))
    try:
        emitted, deleted = _read(listing, page_size, drifts)
    except PaginationError:  # a clear give-up is allowed, a silent loss is not
        return
    assert len(emitted) == len(set(emitted)), "a customer was emitted twice"
    survivors = set(range(1, size + 1)) - deleted
    missing = survivors - set(emitted)
    assert not missing, f"customers present throughout but never emitted: {sorted(missing)}"


@pytest.mark.parametrize("page_size", [0, -1, 1001])
def test_paginator_refuses_page_sizes_outside_the_api_range(page_size: int) -> None:
    with pytest.raises(ValueError, match="page_size"):
        DriftProofPaginator(page_size)


# -- link resolution ------------------------------------------------------------------------

SEGMENT = st.text(st.sampled_from("abcxyz0189-_.~"), min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)
BASES = st.builds(
    lambda scheme, host, port, prefix, slash: (
        f"{scheme}://{host}{port}{''.join('/' + p for p in prefix)}{'/' if slash else ''}"
    ),
    st.sampled_from(["http", "https"]),
    st.sampled_from(["127.0.0.1", "localhost", "api.equipme.io", "[::1]"]),
    st.sampled_from(["", ":8787", ":443"]),
    st.lists(SEGMENT, max_size=2),
    st.booleans(),
)


def _client(base: str) -> Any:
    from tap_equipme.http.api_client import ApiClient
    from tap_equipme.http.retry import RetryPolicy

    return ApiClient(base, "k", timeout=1, policy=RetryPolicy(), user_agent="t", pool_size=1)


@FAST
@given(BASES, st.lists(SEGMENT, min_size=1, max_size=4), st.booleans())
def test_relative_links_resolve_against_the_base_url_with_or_without_a_leading_slash(
    base: str, segments: list[str], leading_slash: bool
) -> None:
    client = _client(base)
    path = "v1/" + "/".join(segments)
    url = client.url_for(("/" if leading_slash else "") + path)
    assert url == base.rstrip("/") + "/" + path
    assert client.url_for(url) == url  # an absolute link to the same host is kept


@FAST
@given(BASES, st.text(max_size=40))
def test_no_link_whatever_its_text_sends_the_key_to_another_host(base: str, href: str) -> None:
    from tap_equipme.errors import EquipmeRequestError

    client = _client(base)
    try:
        url = client.url_for(href)
    except EquipmeRequestError:
        return
    resolved, configured = urlsplit(url), urlsplit(client.base_url)
    assert (resolved.scheme.lower(), resolved.netloc.lower()) == (
        configured.scheme.lower(),
        configured.netloc.lower(),
    )


@FAST
@given(BASES, st.sampled_from(["http://evil.example", "https://127.0.0.2:1", "HTTPS://x.y"]))
def test_absolute_links_to_another_host_are_refused(base: str, other: str) -> None:
    from tap_equipme.errors import EquipmeRequestError

    client = _client(base)
    if urlsplit(other).netloc.lower() == urlsplit(base).netloc.lower():
        return
    with pytest.raises(EquipmeRequestError):
        client.url_for(other + "/v1/sales/customers")


# -- OpenAPI -> JSON Schema -> columns -------------------------------------------------------

OPENAPI_LEAVES = st.sampled_from(
    [
        {"type": "integer", "format": "int64"},
        {"type": "integer", "format": "int32"},
        {"type": "number", "format": "double"},
        {"type": "boolean"},
        {"type": "string"},
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "uuid"},
        {"type": "string", "enum": ["a", "b"]},
        {"$ref": "#/components/schemas/ResourceLink"},
        {"$ref": "#/components/schemas/Address"},
        {"$ref": "#/components/schemas/Language"},
    ]
)


def openapi_schemas(depth: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.builds(
        # OpenAPI 3.0 ignores keywords beside a $ref, so only plain leaves get `nullable`.
        lambda schema, nullable, read_only: {
            **schema,
            **({"nullable": True} if nullable and "$ref" not in schema else {}),
            **({"readOnly": True} if read_only else {}),
        },
        OPENAPI_LEAVES,
        st.booleans(),
        st.booleans(),
    )
    if depth == 0:
        return leaf
    inner = openapi_schemas(depth - 1)
    names = st.text(st.sampled_from("abcdefXYZ_"), min_size=1, max_size=6)
    objects = st.builds(
        lambda props, required_mask, nullable: {
            "type": "object",
            "properties": props,
            "required": [n for n, keep in zip(props, required_mask, strict=False) if keep],
            **({"nullable": True} if nullable else {}),
        },
        st.dictionaries(names, inner, min_size=1, max_size=4),
        st.lists(st.booleans(), min_size=4, max_size=4),
        st.booleans(),
    )
    arrays = st.builds(lambda items: {"type": "array", "items": items}, inner)
    return st.one_of(leaf, objects, arrays)


def _admits_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind is None or (isinstance(kind, list) and "null" in kind)


@FAST
@given(openapi_schemas())
def test_openapi_conversion_is_plain_json_schema_and_keeps_nullability(
    schema: dict[str, Any],
) -> None:
    from tap_equipme.schemas import to_json_schema

    converted = to_json_schema(schema)
    text = repr(converted)
    assert "$ref" not in text
    assert "'nullable'" not in text
    assert "'readOnly'" not in text
    if schema.get("nullable"):
        assert _admits_null(converted)
    if "properties" in schema:
        required = set(schema["required"])
        for name, sub in converted["properties"].items():
            # Optional properties accept null; required ones only if the spec says nullable.
            if name not in required:
                assert _admits_null(sub), name
    # Every converted schema becomes a warehouse column the loader can create.
    ctype = column_type(converted)
    assert ctype.duckdb
    if _admits_null(converted):
        assert ctype.nullable


def test_the_customer_schema_maps_to_columns_with_the_documented_types() -> None:
    from tap_equipme.schemas import customer_metadata_schema, customer_schema

    columns = {c.name: c for c in columns_for(customer_schema(), ["id"])}
    assert columns["id"].type.duckdb == "BIGINT"
    assert columns["id"].not_null
    assert columns["referredBy"].type.duckdb.startswith("STRUCT(")
    assert "TIMESTAMPTZ" in columns["referredBy"].type.duckdb
    assert columns["companyAddress"].type.duckdb.startswith("STRUCT(")
    meta = {c.name: c for c in columns_for(customer_metadata_schema(), ["customer_id", "key"])}
    assert meta["customer_id"].not_null
    assert meta["key"].not_null
