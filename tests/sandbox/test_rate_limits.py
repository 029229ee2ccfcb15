"""The sandbox's rate limits: fixed window beside the token bucket, and a mid-run change."""

from __future__ import annotations

import pytest
import requests

from tap_equipme.sandbox import SandboxControlError, SandboxServer
from tap_equipme.sandbox.limits import FixedWindow, TokenBucket

LIST = "/v1/sales/customers?limit=1"


def _statuses(sandbox: SandboxServer, api_key: str, count: int) -> list[int]:
    with requests.Session() as session:
        session.headers["X-API-KEY"] = api_key
        return [
            session.get(f"{sandbox.base_url}{LIST}", timeout=10).status_code for _ in range(count)
        ]


def test_a_fixed_window_admits_n_per_window_and_announces_the_rest_of_it() -> None:
    window = FixedWindow(rate=2.0, window_s=5.0, now=100.0)
    assert [window.admit(100.0 + i / 10) for i in range(10)] == [None] * 10
    assert window.admit(101.5) == pytest.approx(3.5)
    assert window.admit(105.0) is None, "a new window admits again"


def test_retuning_a_bucket_keeps_its_tokens_instead_of_refilling_it() -> None:
    bucket = TokenBucket(rate=10.0, now=0.0)
    for _ in range(10):
        assert bucket.admit(0.0) is None
    assert bucket.admit(0.0) is not None
    bucket.retune(50.0, 1.0, now=0.0)
    assert bucket.admit(0.0) is not None, "a rate change is not a free burst"
    assert bucket.admit(0.1) is None  # 5 tokens earned in 0.1 s at the new rate


def test_fixed_window_answers_429_with_retry_after_until_the_window_ends(
    sandbox: SandboxServer, api_key: str
) -> None:
    sandbox.control.set_faults(
        rate_limit_per_s=1, rate_limit_shape="fixed_window", rate_limit_window_s=5
    )
    with requests.Session() as session:
        session.headers["X-API-KEY"] = api_key
        answers = [session.get(f"{sandbox.base_url}{LIST}", timeout=10) for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 5


def test_the_rate_limit_hook_changes_the_rate_mid_run_and_keeps_other_faults(
    sandbox: SandboxServer, api_key: str
) -> None:
    sandbox.control.set_faults(rate_limit_per_s=3, latency_ms=1)
    assert _statuses(sandbox, api_key, 5).count(429) >= 2
    faults = sandbox.control.set_rate_limit(1000)
    assert faults["latency_ms"] == 1
    assert faults["rate_limit_per_s"] == 1000
    # The emptied bucket was not refilled by the change: it earns tokens at the new rate.
    assert _statuses(sandbox, api_key, 5) == [200] * 5
    sandbox.control.set_rate_limit(None)
    assert sandbox.control.stats()["faults_injected"].get("rate_limit", 0) >= 2


def test_the_rate_limit_hook_refuses_unknown_fields_naming_them(sandbox: SandboxServer) -> None:
    with pytest.raises(SandboxControlError, match="rate_limit_shape"):
        sandbox.control.set_rate_limit(5, shape="leaky")
    with pytest.raises(SandboxControlError, match="burst"):
        sandbox.control._call("POST", "rate_limit", {"rate_limit_per_s": 5, "burst": 3})


def test_throttle_rate_answers_429_at_random_whatever_the_rate(
    sandbox: SandboxServer, api_key: str
) -> None:
    sandbox.control.set_faults(throttle_rate=0.3, retry_after_seconds=2, seed=5)
    with requests.Session() as session:
        session.headers["X-API-KEY"] = api_key
        answers = [session.get(f"{sandbox.base_url}{LIST}", timeout=10) for _ in range(60)]
    refused = [a for a in answers if a.status_code == 429]
    assert 6 <= len(refused) <= 30, "about 30% refused, not tied to any rate limit"
    assert all(a.headers["Retry-After"] == "2" for a in refused)
    assert sandbox.control.stats()["faults_injected"].get("throttle", 0) == len(refused)
    with pytest.raises(SandboxControlError, match="throttle_rate"):
        sandbox.control.set_faults(throttle_rate=1.5)
