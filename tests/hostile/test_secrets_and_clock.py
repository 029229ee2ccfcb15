"""Error bodies that echo the key, and a server clock far in the future or the past."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from tap_equipme.errors import EquipmeError
from tap_equipme.http.api_client import ApiClient
from tap_equipme.http.retry import RetryPolicy
from tap_equipme.http.server_clock import MAX_CLOCK_SKEW

from . import runs
from .double import HostileApi, Reply, Request, Rule

LIST = "/v1/sales/customers"
Case = Callable[[str, str], None]
FUTURE = "Fri, 31 Dec 9999 23:59:59 GMT"
PAST = "Mon, 01 Jan 1990 00:00:00 GMT"


def client(api: HostileApi, key: str) -> ApiClient:
    return ApiClient(
        api.base_url,
        key,
        timeout=5,
        policy=RetryPolicy(max_retries=1, backoff_factor=0.01),
        user_agent="hostile-test",
        pool_size=2,
    )


def echo_key(status: int) -> Callable[[Request, Callable[[], Reply]], Reply]:
    def answer(request: Request, _forward: Callable[[], Reply]) -> Reply:
        key = request.headers.get("X-API-KEY", "")
        return Reply.json(
            {"errorCode": "E1", "errorDescription": f"bad request with X-API-KEY: {key}"},
            status=status,
        )

    return answer


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
def test_an_error_body_echoing_the_key_never_reaches_the_message(
    status: int,
    hostile: HostileApi,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
    hostile_case: Case,
):
    hostile_case(
        f"HTTP {status} body echoes the key",
        "error raised; the key appears in no message or log line (4xx details: masked as ***)",
    )
    hostile.program(Rule(LIST, echo_key(status)))
    with caplog.at_level(logging.INFO), pytest.raises(EquipmeError) as raised:
        client(hostile, api_key).get_json(LIST.lstrip("/"))
    assert f"HTTP {status}" in str(raised.value)
    assert api_key not in str(raised.value)
    assert api_key not in caplog.text
    if status in (400, 403, 404):
        assert "X-API-KEY: ***" in str(raised.value)


def test_standalone_tap_masks_a_key_echoed_by_the_api(
    hostile: HostileApi, api_key: str, tmp_path: Path, hostile_case: Case
):
    hostile_case(
        "tap-equipme (standalone) on a 403 echoing the key",
        "exit 1, one ERROR paragraph, the key masked in stdout and stderr",
    )
    hostile.program(Rule(LIST, echo_key(403)))
    run = runs.tap(tmp_path, hostile.base_url, api_key)
    assert run.returncode == 1, run.describe()
    assert api_key not in run.stdout + run.stderr
    assert any("X-API-KEY: ***" in line for line in run.error_lines()), run.describe()


def with_date(value: str) -> Callable[[Request, Callable[[], Reply]], Reply]:
    def answer(_request: Request, forward: Callable[[], Reply]) -> Reply:
        reply = forward()
        reply.headers["Date"] = value
        return reply

    return answer


@pytest.mark.parametrize("date", [FUTURE, PAST], ids=["future", "past"])
def test_a_server_clock_far_off_is_bounded_and_named(
    date: str,
    hostile: HostileApi,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
    hostile_case: Case,
):
    future = date == FUTURE
    hostile_case(
        f"Date header in the {'future (9999)' if future else 'past (1990)'}",
        "start time bounded by local clock + 5 min; warning names both clocks"
        if future
        else "used as is (re-reads, never misses); warning names both clocks",
    )
    hostile.program(Rule(LIST, with_date(date)))
    api = client(hostile, api_key)
    before = datetime.now(timezone.utc)
    with caplog.at_level(logging.WARNING):
        api.get_json(LIST.lstrip("/"), {"limit": 1})
    started = api.first_response_date
    assert started is not None
    if future:
        assert started <= datetime.now(timezone.utc) + MAX_CLOCK_SKEW
        assert started >= before
    else:
        assert started.year == 1990
    warnings = [r.getMessage() for r in caplog.records if "server's clock" in r.getMessage()]
    assert len(warnings) == 1
    assert ("9999" if future else "1990") in warnings[0]
    assert str(before.year) in warnings[0]


@pytest.mark.slow
def test_equipme_sync_with_a_server_clock_in_9999_keeps_a_sane_bookmark(
    hostile: HostileApi, api_key: str, tmp_path: Path, hostile_case: Case
):
    hostile_case(
        "equipme-sync: Date 9999 on every answer; then a stored bookmark in 9999",
        "exit 0; bookmark <= now + 5 min; a poisoned stored bookmark is ignored with a warning",
    )
    hostile.program(Rule("/", with_date(FUTURE)))
    first = runs.sync(tmp_path, hostile.base_url, api_key, page_size=25)
    assert first.returncode == 0, first.describe()
    ceiling = (datetime.now(timezone.utc) + MAX_CLOCK_SKEW).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert runs.bookmark(tmp_path) <= ceiling
    assert "9999" in first.stdout + first.stderr  # the warning naming the server's clock

    # A state poisoned by a version that trusted the server's clock.
    con = duckdb.connect(str(runs.warehouse_path(tmp_path)))
    try:
        raw = con.execute("SELECT state FROM _equipme_state").fetchone()[0]
        state = json.loads(raw) if isinstance(raw, str) else raw
        state["bookmarks"]["customers"]["replication_key_value"] = "9999-12-31T23:54:59Z"
        con.execute("UPDATE _equipme_state SET state = ?", [json.dumps(state)])
    finally:
        con.close()
    hostile.reset()
    second = runs.sync(tmp_path, hostile.base_url, api_key, page_size=25, sync_mode="incremental")
    assert second.returncode == 0, second.describe()
    now = datetime.now(timezone.utc)
    assert runs.bookmark(tmp_path) <= (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "lies in the future" in second.stdout + second.stderr
