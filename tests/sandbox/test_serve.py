from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

CLI = [sys.executable, "-m", "tap_equipme.sandbox.serve"]


@contextmanager
def running(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [*CLI, "--port", "0", "--customers", "25", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline().strip()
        assert first_line.startswith("Equipme sandbox listening on http://127.0.0.1:"), first_line
        yield process, first_line.rsplit(" ", 1)[1]
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_its_url_serves_and_exits_0_on_signal(stop_signal: signal.Signals) -> None:
    with running("--api-key", "cli-key") as (process, url):
        response = requests.get(
            f"{url}/v1/sales/customers", headers={"X-API-KEY": "cli-key"}, timeout=5
        )
        assert response.json()["total"] == 25
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0


def test_cli_takes_the_key_from_the_environment() -> None:
    with running("--no-prerender", env={"EQUIPME_SANDBOX_API_KEY": "env-key"}) as (process, url):
        ok = requests.get(f"{url}/v1/sales/customers", headers={"X-API-KEY": "env-key"}, timeout=5)
        default = requests.get(
            f"{url}/v1/sales/customers", headers={"X-API-KEY": "sandbox-key"}, timeout=5
        )
        assert (ok.status_code, default.status_code) == (200, 401)
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_cli_fault_flags_and_href_style_reach_the_server() -> None:
    with running("--outage-after", "1", "--href-style", "slash") as (process, url):
        headers = {"X-API-KEY": "sandbox-key"}
        first = requests.get(f"{url}/v1/sales/customers", headers=headers, timeout=5)
        second = requests.get(f"{url}/v1/sales/customers", headers=headers, timeout=5)
        assert first.json()["self"]["href"].startswith("/v1/")
        assert second.status_code == 503
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--port", "0", "--error-rate", "1.5"], "error_rate"),
        (["--port", "0", "--latency-ms", "-5"], "latency_ms"),
        (["--port", "70000"], "--port"),
        (["--port", "0", "--customers", "-1"], "--customers"),
        (["--port", "0", "--href-style", "absolute"], "--href-style"),
    ],
)
def test_cli_refuses_bad_flags_with_a_clear_error(flags: list[str], named: str) -> None:
    result = subprocess.run([*CLI, *flags], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_reports_a_port_in_use_without_a_traceback() -> None:
    with running() as (process, url):
        port = url.rsplit(":", 1)[1]
        result = subprocess.run(
            [*CLI, "--port", port, "--customers", "1"], capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
        assert "Traceback" not in result.stderr
        process.terminate()
        assert process.wait(timeout=10) == 0
