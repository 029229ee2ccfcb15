"""Unbounded work: endless paging, huge and compressed bodies, drips, stalls, short bodies."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tap_equipme.errors import EquipmeError, EquipmeRetriesExhausted
from tap_equipme.http.api_client import ApiClient
from tap_equipme.http.body import DeadlineExceeded, ResponseTooLarge
from tap_equipme.http.retry import RetryPolicy

from . import runs
from .double import HostileApi, Recorder, Reply, Request, Rule, gzip_bomb

LIST = "/v1/sales/customers"
Case = Callable[[str, str], None]
MB = 1024 * 1024


def client(api: HostileApi, key: str, **limits: float) -> ApiClient:
    return ApiClient(
        api.base_url,
        key,
        timeout=float(limits.pop("timeout", 5)),
        policy=RetryPolicy(max_retries=1, backoff_factor=0.01),
        user_agent="hostile-test",
        pool_size=2,
        **limits,  # type: ignore[arg-type]
    )


def test_an_api_that_ignores_offset_stops_with_an_error_naming_the_offset(
    hostile: HostileApi, foreign: Recorder, api_key: str, tmp_path: Path, hostile_case: Case
):
    hostile_case(
        "list ignores `offset` (same page forever)",
        "tap-equipme exit 1: 'seems to ignore `offset`', names the offset; few requests",
    )
    first_page: dict[str, bytes] = {}

    def same_page(request: Request, forward: Callable[[], Reply]) -> Reply:
        if "body" not in first_page:
            first_page["body"] = forward().body
        page = json.loads(first_page["body"])
        page["total"] = 100_000  # and a total that promises many more pages
        return Reply.json(page)

    hostile.program(Rule(LIST, same_page, when=lambda r: not r.path.endswith("metadata")))
    run = runs.tap(tmp_path, hostile.base_url, api_key, page_size=10)
    assert run.returncode == 1, run.describe()
    errors = [line for line in run.error_lines() if "ignore `offset`" in line]
    assert len(errors) == 1, run.describe()
    assert "offset=" in errors[0]
    listed = [r for r in hostile.requests if r.path == LIST]
    assert len(listed) < 20, len(listed)  # repeats spanning 100 offsets: 12 pages of 10


def test_a_total_that_grows_with_every_page_ends_within_the_request_budget(
    hostile: HostileApi, foreign: Recorder, api_key: str, tmp_path: Path, hostile_case: Case
):
    hostile_case(
        "`total` lies (grows with every page, new ids forever)",
        "tap-equipme exit 1: 'did not end after N requests', N from the first total",
    )

    first: dict[str, dict] = {}

    def endless(request: Request, forward: Callable[[], Reply]) -> Reply:
        offset = int(request.query.get("offset", ["0"])[0])
        limit = int(request.query.get("limit", ["10"])[0])
        if not first:
            first["customer"] = json.loads(forward().body)["items"][0]
        template = first["customer"]
        items = [{**template, "id": 10_000 + offset + i} for i in range(limit)]
        return Reply.json({"items": items, "total": offset + 3 * limit})

    hostile.program(Rule(LIST, endless, when=lambda r: not r.path.endswith("metadata")))
    run = runs.tap(tmp_path, hostile.base_url, api_key, page_size=100, sync_mode="incremental")
    assert run.returncode == 1, run.describe()
    assert any("did not end after" in line for line in run.error_lines()), run.describe()
    listed = [r for r in hostile.requests if r.path == LIST]
    assert len(listed) < 200, len(listed)


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "no-length"])
def test_a_huge_body_is_refused_at_the_cap(
    announced: bool, hostile: HostileApi, api_key: str, hostile_case: Case
):
    hostile_case(
        f"500 MB body ({'Content-Length announced' if announced else 'no Content-Length'})",
        "ResponseTooLarge at `max_response_bytes`, never buffered",
    )
    size = 500 * MB
    hostile.program(
        Rule(
            LIST,
            lambda _r, _f: Reply(
                200,
                {"Content-Type": "application/json"},
                b'{"items": [',
                stream_bytes=size,
                content_length=None if announced else -1,
            ),
        )
    )
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge, match="max_response_bytes"):
        client(hostile, api_key, max_response_bytes=4 * MB).get_json(LIST.lstrip("/"))
    assert time.monotonic() - started < 10


def test_a_gzip_bomb_is_refused_counting_decompressed_bytes(
    hostile: HostileApi, api_key: str, tmp_path: Path, hostile_case: Case
):
    hostile_case(
        "gzip bomb (1 MB -> 1 GB)",
        "tap-equipme exit 1 naming `max_response_bytes`; peak memory of the tap < 400 MB",
    )
    bomb = gzip_bomb(1024 * MB)
    assert len(bomb) < 2 * MB
    hostile.program(
        Rule(
            LIST,
            lambda _r, _f: Reply(
                200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb
            ),
        )
    )
    with pytest.raises(ResponseTooLarge, match="after decompression"):
        client(hostile, api_key, max_response_bytes=8 * MB).get_json(LIST.lstrip("/"))

    # The same with the standalone tap at its default cap (64 MiB), memory measured.
    hostile.requests.clear()
    run, peak_mb = runs.tap_peak_memory(tmp_path, hostile.base_url, api_key)
    assert run.returncode == 1, run.describe()
    assert any("max_response_bytes" in line for line in run.error_lines()), run.describe()
    assert peak_mb < 400, peak_mb


def test_a_dripping_body_ends_at_the_request_deadline(
    hostile: HostileApi, api_key: str, hostile_case: Case
):
    hostile_case(
        "body drips one byte every 0.1 s (request_timeout 5 s never fires)",
        "DeadlineExceeded at `request_deadline` (1.5 s), not retried",
    )
    hostile.program(
        Rule(LIST, lambda _r, _f: Reply(200, {}, b'{"items": [], "total": 0}' * 20, drip_s=0.1))
    )
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="request_deadline"):
        client(hostile, api_key, request_deadline=1.5).get_json(LIST.lstrip("/"))
    elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 3, elapsed
    assert len(hostile.requests) == 1


def test_a_stall_before_the_headers_times_out_and_is_retried_then_reported(
    hostile: HostileApi, api_key: str, hostile_case: Case
):
    hostile_case(
        "stall before the headers (10 s)",
        "read timeout at min(request_timeout, request_deadline), 1 retry, then a clear error",
    )
    hostile.program(Rule(LIST, lambda _r, _f: Reply.json({"items": [], "total": 0}, stall_s=10)))
    started = time.monotonic()
    with pytest.raises(EquipmeRetriesExhausted, match="Timeout"):
        client(hostile, api_key, request_deadline=0.5).get_json(LIST.lstrip("/"))
    assert time.monotonic() - started < 5
    assert len(hostile.requests) == 2


@pytest.mark.parametrize(
    ("announced", "problem"),
    [(5000, "no complete response"), (8, "invalid JSON")],
    ids=["length-over-body", "length-under-body"],
)
def test_a_content_length_that_does_not_match_the_body_is_retried_then_reported(
    announced: int, problem: str, hostile: HostileApi, api_key: str, hostile_case: Case
):
    hostile_case(
        f"Content-Length {'larger' if announced > 100 else 'smaller'} than the body sent",
        f"retried, then 'failed after 2 attempts' ({problem})",
    )
    body = b'{"items": [], "total": 0}' + b" " * 40
    hostile.program(Rule(LIST, lambda _r, _f: Reply(200, {}, body, content_length=announced)))
    with pytest.raises(EquipmeRetriesExhausted, match=problem):
        client(hostile, api_key).get_json(LIST.lstrip("/"))
    assert len(hostile.requests) == 2


def test_default_limits_leave_room_for_a_full_page(hostile: HostileApi, sandbox, api_key: str):
    # A page of 1,000 customers (about 1 MB) passes the defaults with a wide margin.
    sandbox.control.reset(customers=1000, seed=5)
    page = client(hostile, api_key).get_json(LIST.lstrip("/"), {"limit": 1000})
    assert len(page["items"]) == 1000
    assert len(hostile.requests) == 1


def test_errors_of_the_limits_are_equipme_errors():
    # One paragraph and exit 1 from the CLI (`TapEquipme.invoke` catches EquipmeError).
    assert issubclass(ResponseTooLarge, EquipmeError)
    assert issubclass(DeadlineExceeded, EquipmeError)
