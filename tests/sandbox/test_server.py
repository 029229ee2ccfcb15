from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tap_equipme.sandbox import Faults, SandboxServer

KEY = "server-test-key"


def _threads_named(port: int) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if f":{port}" in t.name]


def test_stop_returns_promptly_with_idle_keep_alive_connections_open() -> None:
    sessions = [requests.Session() for _ in range(5)]
    threads_before = set(threading.enumerate())
    sandbox = SandboxServer(customers=10, api_key=KEY).start()
    for session in sessions:
        session.headers["X-API-KEY"] = KEY
        assert session.get(f"{sandbox.base_url}/v1/sales/customers", timeout=5).ok
    assert len(set(threading.enumerate()) - threads_before) >= 6  # server + 5 connections
    started = time.perf_counter()
    sandbox.stop()
    assert time.perf_counter() - started < 2
    assert set(threading.enumerate()) - threads_before == set()
    for session in sessions:
        session.close()


def test_stop_interrupts_requests_that_are_being_slowed_down() -> None:
    sandbox = SandboxServer(customers=10, api_key=KEY, faults=Faults(slow_rate=1, slow_seconds=60))
    sandbox.start()
    caller = threading.Thread(
        target=lambda: _quietly_get(f"{sandbox.base_url}/v1/sales/customers"), daemon=True
    )
    caller.start()
    time.sleep(0.3)
    started = time.perf_counter()
    sandbox.stop()
    assert time.perf_counter() - started < 3
    caller.join(timeout=5)
    assert not caller.is_alive()


def _quietly_get(url: str) -> None:
    with contextlib.suppress(requests.RequestException):
        requests.get(url, headers={"X-API-KEY": KEY}, timeout=30).close()


def test_many_keep_alive_clients_are_served_at_once() -> None:
    with SandboxServer(customers=300, api_key=KEY) as sandbox:
        sandbox.control.set_faults(latency_ms=100)

        def fetch_pages(client: int) -> int:
            with requests.Session() as session:
                session.headers["X-API-KEY"] = KEY
                total = 0
                for offset in range(0, 300, 100):
                    response = session.get(
                        f"{sandbox.base_url}/v1/sales/customers",
                        params={"offset": offset, "limit": 100},
                        timeout=10,
                    )
                    total += len(response.json()["items"])
                return total

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=24) as pool:
            totals = list(pool.map(fetch_pages, range(24)))
        elapsed = time.perf_counter() - started
        stats = sandbox.control.stats()
    assert totals == [300] * 24
    assert elapsed < 3  # 72 requests x 100 ms serially would take 7.2 s
    assert stats["max_concurrent"] >= 12
    assert stats["requests"] == 72


def test_context_manager_serves_on_a_free_port_and_releases_it() -> None:
    with SandboxServer(customers=3, api_key=KEY) as sandbox:
        port = sandbox.port
        assert port > 0
        assert sandbox.base_url == f"http://127.0.0.1:{port}"
    assert _threads_named(port) == []
    with SandboxServer(customers=3, api_key=KEY, port=port) as again:
        assert again.port == port


def test_undeclared_methods_answer_405_error_responses(
    sandbox: SandboxServer, api_key: str
) -> None:
    for method in ("TRACE", "OPTIONS", "HEAD"):
        response = requests.request(
            method,
            f"{sandbox.base_url}/v1/sales/customers",
            headers={"X-API-KEY": api_key},
            timeout=5,
        )
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET, POST"
        if method != "HEAD":
            assert response.json()["errorCode"] == "MethodNotAllowed"
        else:
            assert response.content == b""
