from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import pytest
import requests

from tap_equipme.sandbox import Faults, SandboxControlError, SandboxServer

LIST = "/v1/sales/customers"


def _get(
    sandbox: SandboxServer, api_key: str, path: str = LIST, timeout: float = 10
) -> requests.Response:
    return requests.get(
        f"{sandbox.base_url}{path}", headers={"X-API-KEY": api_key}, timeout=timeout
    )


def _outcome(sandbox: SandboxServer, api_key: str) -> str:
    try:
        response = _get(sandbox, api_key, f"{LIST}?limit=5")
        response.json()
    except requests.RequestException as exc:
        return type(exc).__name__
    return str(response.status_code)


def test_latency_and_jitter_delay_each_request(sandbox: SandboxServer, api_key: str) -> None:
    sandbox.control.set_faults(latency_ms=150, jitter_ms=100)
    for _ in range(3):
        started = time.perf_counter()
        assert _get(sandbox, api_key).status_code == 200
        elapsed = time.perf_counter() - started
        assert 0.15 <= elapsed < 1.0  # generous: CI machines are busy
    assert sandbox.control.stats()["faults_injected"]["latency"] == 3


def test_latency_applies_to_api_routes_only(sandbox: SandboxServer) -> None:
    sandbox.control.set_faults(latency_ms=3000, error_rate=1.0)
    started = time.perf_counter()
    sandbox.control.stats()
    assert time.perf_counter() - started < 1.5


def test_concurrent_requests_overlap_their_latency(sandbox: SandboxServer, api_key: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sandbox.control.set_faults(latency_ms=500)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: _get(sandbox, api_key).status_code, range(8)))
    elapsed = time.perf_counter() - started
    assert statuses == [200] * 8
    assert elapsed < 2.5  # serial would take 4 s
    assert sandbox.control.stats()["max_concurrent"] >= 4


@pytest.mark.parametrize("style", ["seconds", "http-date", "none"])
def test_rate_limit_answers_429_with_the_configured_retry_after(
    sandbox: SandboxServer, api_key: str, style: str
) -> None:
    sandbox.control.set_faults(rate_limit_per_s=2, retry_after=style, retry_after_seconds=3)
    responses = [_get(sandbox, api_key) for _ in range(6)]
    limited = [r for r in responses if r.status_code == 429]
    assert responses[0].status_code == 200
    assert len(limited) >= 3
    header = limited[0].headers.get("Retry-After")
    if style == "seconds":
        assert header == "3"
    elif style == "http-date":
        assert header is not None
        assert parsedate_to_datetime(header).tzinfo is not None
    else:
        assert header is None
    assert limited[0].json()["errorCode"] == "TooManyRequests"
    assert sandbox.control.stats()["by_status"]["429"] == len(limited)


def test_rate_limit_refills_over_time(sandbox: SandboxServer, api_key: str) -> None:
    sandbox.control.set_faults(rate_limit_per_s=5)
    statuses = [_get(sandbox, api_key).status_code for _ in range(10)]
    assert 429 in statuses
    time.sleep(0.5)
    assert _get(sandbox, api_key).status_code == 200


def test_error_rate_one_answers_only_5xx_error_responses(
    sandbox: SandboxServer, api_key: str
) -> None:
    sandbox.control.set_faults(error_rate=1.0, seed=3)
    statuses = set()
    for _ in range(30):
        response = _get(sandbox, api_key)
        statuses.add(response.status_code)
        assert set(response.json()) == {"errorCode", "errorDescription", "data"}
    assert statuses == {500, 502, 503}


def test_dropped_connections_close_without_an_answer(sandbox: SandboxServer, api_key: str) -> None:
    sandbox.control.set_faults(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        _get(sandbox, api_key)
    assert sandbox.control.stats()["by_status"] == {"dropped": 1}


def test_truncated_bodies_announce_more_than_they_send(
    sandbox: SandboxServer, api_key: str
) -> None:
    sandbox.control.set_faults(truncate_rate=1.0)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        _get(sandbox, api_key)
    assert sandbox.control.stats()["faults_injected"] == {"truncate": 1}


def test_slow_answers_outlast_a_client_timeout(sandbox: SandboxServer, api_key: str) -> None:
    sandbox.control.set_faults(slow_rate=1.0, slow_seconds=1.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _get(sandbox, api_key, timeout=0.3)


def test_outage_after_n_requests_answers_503(sandbox: SandboxServer, api_key: str) -> None:
    sandbox.control.set_faults(outage_after=3)
    statuses = [_get(sandbox, api_key).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 503, 503, 503]


def test_only_paths_limits_faults_to_matching_paths(sandbox: SandboxServer, api_key: str) -> None:
    sandbox.control.set_faults(error_rate=1.0, only_paths=r"/metadata$")
    assert _get(sandbox, api_key).status_code == 200
    assert _get(sandbox, api_key, f"{LIST}/1/metadata").status_code >= 500
    assert _get(sandbox, api_key, f"{LIST}/1").status_code == 200


def test_fault_sequence_is_deterministic_under_a_seed(sandbox: SandboxServer, api_key: str) -> None:
    mix = {"error_rate": 0.3, "drop_rate": 0.1, "truncate_rate": 0.1}
    runs = []
    for seed in (7, 7, 8):
        sandbox.control.set_faults(**mix, seed=seed)
        runs.append([_outcome(sandbox, api_key) for _ in range(30)])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert "200" in runs[0]
    assert len(set(runs[0])) >= 3


def test_clear_faults_restores_normal_answers(sandbox: SandboxServer, api_key: str) -> None:
    sandbox.control.set_faults(error_rate=1.0)
    sandbox.control.clear_faults()
    assert _get(sandbox, api_key).status_code == 200


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"error_rate": 2}, "error_rate"),
        ({"retry_after": "soon"}, "retry_after"),
        ({"only_paths": "("}, "only_paths"),
        ({"latency": 5}, "latency"),
        ({"rate_limit_per_s": 0}, "rate_limit_per_s"),
    ],
)
def test_invalid_fault_settings_are_refused_naming_the_setting(
    sandbox: SandboxServer, fields: dict[str, object], named: str
) -> None:
    with pytest.raises(SandboxControlError, match=named):
        sandbox.control.set_faults(**fields)


def test_faults_given_to_the_constructor_apply_from_the_start(api_key: str) -> None:
    with SandboxServer(customers=5, api_key=api_key, faults=Faults(outage_after=0)) as sandbox:
        assert _get(sandbox, api_key).status_code == 503


def test_injector_decisions_including_jitter_repeat_exactly_under_a_seed() -> None:
    from tap_equipme.sandbox.faults import FaultInjector

    faults = Faults(jitter_ms=50, error_rate=0.2, drop_rate=0.1, slow_rate=0.1, seed=11)

    def decisions(seed: int) -> list[tuple[float, int | None, bool, float]]:
        injector = FaultInjector(Faults(**{**faults.to_dict(), "seed": seed}))
        return [
            (d.delay_s, d.status, d.drop, d.slow_s)
            for d in (injector.decide("/v1/sales/customers") for _ in range(200))
        ]

    first = decisions(11)
    assert first == decisions(11)
    assert first != decisions(12)
    errors = sum(1 for _, status, _, _ in first if status is not None)
    assert 20 <= errors <= 60  # about 20 % of 200
    assert len({delay for delay, _, _, _ in first}) > 150  # jitter varies per request
