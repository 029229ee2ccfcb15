"""Redirects: the API key never reaches another origin; the same origin is followed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tap_equipme.errors import EquipmeRequestError
from tap_equipme.http.api_client import ApiClient
from tap_equipme.http.origin import ForeignOriginError, KeyedSession, origin_of
from tap_equipme.http.retry import RetryPolicy

from . import runs
from .double import HostileApi, Recorder, Reply, Rule

LIST = "/v1/sales/customers"
Case = Callable[[str, str], None]


def client(api: HostileApi, key: str) -> ApiClient:
    return ApiClient(
        api.base_url,
        key,
        timeout=5,
        policy=RetryPolicy(max_retries=1, backoff_factor=0.01),
        user_agent="hostile-test",
        pool_size=2,
    )


def redirect(status: int, location: str) -> Callable[..., Reply]:
    return lambda _request, _forward: Reply(status, {"Location": location})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_refused_before_the_key_travels(
    status: int, hostile: HostileApi, foreign: Recorder, api_key: str, hostile_case: Case
):
    hostile_case(
        f"redirect {status} to another host",
        "refused: error names the new origin; nothing reached it",
    )
    hostile.program(Rule(LIST, redirect(status, f"{foreign.base_url}{LIST}?limit=1")))
    with pytest.raises(ForeignOriginError, match=r"another origin, http://127\.0\.0\.2:"):
        client(hostile, api_key).get_json(LIST.lstrip("/"), {"limit": 1})
    assert foreign.requests == []


def test_a_redirect_to_another_port_of_the_same_host_is_refused(
    hostile: HostileApi, api_key: str, hostile_case: Case
):
    hostile_case("redirect to another port, same host", "refused; nothing reached that port")
    other_port = Recorder("127.0.0.1").start()
    try:
        hostile.program(Rule(LIST, redirect(302, f"{other_port.base_url}{LIST}")))
        with pytest.raises(ForeignOriginError, match=str(other_port.port)):
            client(hostile, api_key).get_json(LIST.lstrip("/"), {"limit": 1})
        assert other_port.requests == []
    finally:
        other_port.stop()


def test_a_scheme_relative_location_to_another_host_is_refused(
    hostile: HostileApi, foreign: Recorder, api_key: str, hostile_case: Case
):
    hostile_case("scheme-relative Location (//other-host/...)", "refused; nothing reached it")
    location = f"//{foreign.host}:{foreign.port}{LIST}"
    hostile.program(Rule(LIST, redirect(307, location)))
    with pytest.raises(ForeignOriginError, match=r"127\.0\.0\.2"):
        client(hostile, api_key).get_json(LIST.lstrip("/"), {"limit": 1})
    assert foreign.requests == []


def test_a_relative_redirect_within_the_origin_is_followed(
    hostile: HostileApi, foreign: Recorder, api_key: str, hostile_case: Case
):
    hostile_case("relative redirect within the origin", "followed; the answer is read")
    hostile.program(Rule("/old/customers", redirect(301, f"{LIST}?limit=2&offset=0")))
    page = client(hostile, api_key).get_json("old/customers", {"limit": 2})
    assert len(page["items"]) == 2
    assert [r.path for r in hostile.requests] == ["/old/customers", LIST]
    assert all(r.headers.get("X-API-KEY") == api_key for r in hostile.requests)


def test_a_redirect_loop_within_the_origin_ends_in_a_clear_error(
    hostile: HostileApi, api_key: str, hostile_case: Case
):
    hostile_case("redirect loop within the origin", "error: 'redirected more than 5 times'")
    hostile.program(Rule(LIST, redirect(302, f"{LIST}?again=1")))
    with pytest.raises(EquipmeRequestError, match="redirected more than 5 times"):
        client(hostile, api_key).get_json(LIST.lstrip("/"), {"limit": 1})
    assert len(hostile.requests) == 6


def test_an_https_to_http_downgrade_is_another_origin(
    hostile: HostileApi, api_key: str, hostile_case: Case
):
    # No TLS server here: the session is configured for https on the double's host and port,
    # and a request (as a redirect's Location would make) goes to plain http there.
    hostile_case(
        "https -> http downgrade (same host and port)",
        "refused before sending (origin = scheme, host, port)",
    )
    https_url = hostile.base_url.replace("http://", "https://")
    assert origin_of(https_url) != origin_of(hostile.base_url)
    session = KeyedSession(https_url, api_key, user_agent="t", pool_size=1)
    with pytest.raises(ForeignOriginError, match=r"http://127\.0\.0\.1"):
        session.get(f"{hostile.base_url}{LIST}", timeout=5)
    assert hostile.requests == []


def test_quality_check_api_total_refuses_a_redirect_to_another_host(
    hostile: HostileApi, foreign: Recorder, api_key: str, hostile_case: Case
):
    from tap_equipme.pipeline.quality import QualityError, api_total

    hostile_case("DAG check api_total: 302 to another host", "QualityError names the origin")
    hostile.program(Rule(LIST, redirect(302, f"{foreign.base_url}{LIST}")))
    with pytest.raises(QualityError, match=r"127\.0\.0\.2") as raised:
        api_total({"api_url": hostile.base_url, "api_key": api_key}, timeout=5)
    assert api_key not in str(raised.value)
    assert foreign.requests == []


@pytest.mark.slow
def test_equipme_sync_refuses_a_redirect_and_leaves_the_warehouse_untouched(
    hostile: HostileApi, foreign: Recorder, api_key: str, tmp_path: Path, hostile_case: Case
):
    hostile_case(
        "equipme-sync: 302 to another host on the list endpoint",
        "exit 1 naming the origin; warehouse and bookmark unchanged; foreign host got nothing",
    )
    first = runs.sync(tmp_path, hostile.base_url, api_key, page_size=25)
    assert first.returncode == 0, first.describe()
    before = runs.warehouse(tmp_path)
    bookmarks = runs.bookmarks(tmp_path)
    assert len(before["customers"]) == 40

    hostile.program(Rule(LIST, redirect(302, f"{foreign.base_url}{LIST}")))
    second = runs.sync(tmp_path, hostile.base_url, api_key, page_size=25, full_refresh=True)

    assert second.returncode != 0, second.describe()
    assert "127.0.0.2" in second.stdout + second.stderr
    assert api_key not in second.stdout + second.stderr
    after = runs.warehouse(tmp_path)
    assert after["customers"] == before["customers"]
    assert after["metadata"] == before["metadata"]
    # The bookmark. (The failed run's loader may store the state the tap was given again,
    # without `run_stats` and empty child entries: not about HTTP, reported separately.)
    assert runs.bookmarks(tmp_path)["customers"] == bookmarks["customers"]
    assert foreign.requests == []


def test_tap_refuses_a_redirect_of_the_metadata_endpoint(
    hostile: HostileApi, foreign: Recorder, api_key: str, tmp_path: Path, hostile_case: Case
):
    # Standalone tap: under equipme-sync a tap failing after its customer records leaves the
    # target stuck after SIGTERM (a pipeline bug, not about HTTP; reported separately).
    hostile_case(
        "tap-equipme: 302 to another host on the metadata endpoint",
        "exit 1, one ERROR line naming the origin; foreign host got nothing",
    )
    hostile.program(
        Rule(
            f"{LIST}/",
            redirect(302, f"{foreign.base_url}{LIST}"),
            when=lambda r: r.path.endswith("/metadata"),
        )
    )
    run = runs.tap(tmp_path, hostile.base_url, api_key, page_size=25, full_refresh=True)
    assert run.returncode == 1, run.describe()
    refused = [line for line in run.error_lines() if "redirect (HTTP 302)" in line]
    assert len(refused) == 1, run.describe()
    assert "/metadata" in refused[0]
    assert "127.0.0.2" in refused[0]
    assert api_key not in run.stdout + run.stderr
    assert foreign.requests == []


def test_only_the_origin_module_puts_the_key_into_a_request():
    # The one rule holds only if nothing else sends the key: no other module of the package
    # (the sandbox, which receives it, aside) spells the header name in code.
    import ast

    package = Path(__file__).resolve().parents[2] / "tap_equipme"
    spelled = []
    for source in package.rglob("*.py"):
        if "sandbox" in source.parts:
            continue
        tree = ast.parse(source.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        spelled += [
            source.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.lower() == "x-api-key"
            and id(node) not in docstrings
        ]
    assert spelled == ["origin.py"]
