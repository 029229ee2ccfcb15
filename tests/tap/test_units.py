"""Pure pieces of the tap: schema derivation, retry waits, URL resolution, the writer."""

from __future__ import annotations

import contextlib
import io
import json
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime

import pytest
from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_equipme import schemas
from tap_equipme.http.api_client import ApiClient
from tap_equipme.http.retry import (
    MAX_RETRY_AFTER_SECONDS,
    MIN_RETRY_AFTER_SECONDS,
    RetryPolicy,
    parse_retry_after,
)
from tap_equipme.singer_output import FastSingerWriter
from tap_equipme.tap import TapEquipme


def test_nullable_becomes_a_type_union_and_required_fields_stay_strict():
    customer = schemas.customer_schema()
    props = customer["properties"]
    assert props["description"]["type"] == ["string", "null"]
    assert props["name"]["type"] == "string"
    assert props["id"]["type"] == "integer"
    assert set(customer["required"]) == {"id", "name", "self"}


def test_optional_refs_are_inlined_objects_that_accept_null():
    props = schemas.customer_schema()["properties"]
    assert props["accountManager"]["type"] == ["object", "null"]
    assert "username" in props["accountManager"]["properties"]
    assert props["self"]["type"] == "object"
    assert "$ref" not in json.dumps(schemas.customer_schema())


def test_read_only_is_dropped_and_formats_and_enums_are_kept():
    props = schemas.customer_schema()["properties"]
    full_name = props["accountManager"]["properties"]["fullName"]
    assert "readOnly" not in full_name
    assert props["referredBy"]["properties"]["referredOn"]["format"] == "date-time"
    assert props["language"]["enum"][:2] == ["en", "de"]


def test_metadata_schema_adds_the_customer_id():
    meta = schemas.customer_metadata_schema()
    assert list(meta["properties"]) == ["customer_id", "value", "scope", "key", "self"]
    assert meta["properties"]["customer_id"]["type"] == "integer"
    assert "customer_id" in meta["required"]


def test_unknown_components_and_refs_fail_clearly():
    with pytest.raises(KeyError, match="NoSuchSchema"):
        schemas.component("NoSuchSchema")
    with pytest.raises(ValueError, match="Unsupported"):
        schemas.to_json_schema({"$ref": "other.json#/x"})


@pytest.mark.parametrize(
    ("header", "expected"), [("7", 7.0), ("0", 0.0), (None, None), ("soon", None), ("", None)]
)
def test_retry_after_seconds(header, expected):
    assert parse_retry_after(header) == expected


def test_retry_after_http_date_is_relative_to_now():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, now=now) == 0


def test_rate_limit_waits_are_capped_floored_and_scaled():
    policy = RetryPolicy(max_retries=3, backoff_factor=1.0)
    assert policy.rate_limit_seconds("3600", 0) == MAX_RETRY_AFTER_SECONDS
    assert policy.rate_limit_seconds("0", 0) == MIN_RETRY_AFTER_SECONDS
    assert RetryPolicy(backoff_factor=0.01).rate_limit_seconds("10", 0) == pytest.approx(0.1)
    assert policy.max_rate_limit_retries >= 20


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy()
    rng = random.Random(1)
    waits = [policy.backoff_seconds(attempt, rng=rng) for attempt in range(12)]
    assert waits[0] <= 0.5
    assert waits[3] > waits[0]
    assert max(waits) <= 30


@pytest.mark.parametrize("base", ["http://h:1", "http://h:1/", "http://h:1/api", "http://h:1/api/"])
@pytest.mark.parametrize("href", ["v1/sales/customers", "/v1/sales/customers"])
def test_hrefs_resolve_against_base_url_with_or_without_slashes(base, href):
    client = ApiClient(base, "k", timeout=1, policy=RetryPolicy(), user_agent="t", pool_size=1)
    prefix = "/api" if "api" in base else ""
    assert client.url_for(href) == f"http://h:1{prefix}/v1/sales/customers"


def test_connection_pool_is_at_least_as_large_as_the_metadata_concurrency():
    tap = TapEquipme(config={"api_key": "k", "metadata_concurrency": 16}, parse_env_config=False)
    adapter = tap.api_client.session.get_adapter("https://api.equipme.io/")
    assert adapter._pool_maxsize >= 16


def test_writer_emits_singer_sdk_record_layout_and_exact_decimals():
    out = io.StringIO()
    writer = FastSingerWriter()
    with contextlib.redirect_stdout(out):
        writer.write_message(
            RecordMessage(stream="customers", record={"id": 1, "price": Decimal("0.10")})
        )
        writer.write_message(StateMessage(value={"bookmarks": {}}))
    first, second = out.getvalue().splitlines()
    assert first.startswith('{"type":"RECORD","stream":"customers","record":{')
    assert '"price":0.10' in first
    assert json.loads(second) == {"type": "STATE", "value": {"bookmarks": {}}}
