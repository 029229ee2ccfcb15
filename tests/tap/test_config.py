"""Config validation: every bad value fails before any request, naming the setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_equipme.config_checks import api_url_problem, config_problems
from tap_equipme.tap import TapEquipme

GOOD = {"api_key": "k-123", "api_url": "https://api.equipme.io"}


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ({"api_key": ""}, "api_key"),
        ({"api_key": "   "}, "api_key"),
        ({"api_key": "key\nX-Evil: 1"}, "api_key"),
        ({"api_url": "not a url"}, "api_url"),
        ({"api_url": "ftp://api.equipme.io"}, "api_url"),
        ({"api_url": "http://api.equipme.io"}, "api_url"),
        ({"api_url": "http://10.0.0.1:8080"}, "api_url"),
        ({"api_url": "https://user:pw@api.equipme.io"}, "api_url"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1001}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"start_date": "2024-13-01T00:00:00Z"}, "start_date"),
        ({"metadata_concurrency": 0}, "metadata_concurrency"),
        ({"metadata_concurrency": 65}, "metadata_concurrency"),
        ({"request_timeout": 0}, "request_timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"lookback": -5}, "lookback"),
        ({"request_timeout": float("nan")}, "request_timeout"),
        ({"names": "Acme"}, "names"),
        ({"customer_numbers": [1, 2]}, "customer_numbers"),
        ({"active": "yes"}, "active"),
        ({"full_refresh": "true"}, "full_refresh"),
        ({"user_agent": "a\r\nb"}, "user_agent"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(override, setting):
    with pytest.raises(ConfigValidationError) as caught:
        TapEquipme(config={**GOOD, **override}, parse_env_config=False)
    errors = " ".join(caught.value.errors)
    assert setting in errors


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8787",
        "http://127.5.6.7",
        "http://localhost:9000/",
        "http://[::1]:8080/prefix/",
        "https://api.equipme.io",
        "https://gateway.example.com/equipme/",
    ],
)
def test_https_and_loopback_http_urls_are_accepted(url):
    assert api_url_problem(url) is None


def test_a_good_config_has_no_problems():
    config = {
        **GOOD,
        "start_date": "2024-01-31T00:00:00Z",
        "page_size": 1,
        "metadata_concurrency": 1,
        "names": ["A"],
        "customer_numbers": ["C-1"],
        "active": False,
        "lookback": 0,
        "max_retries": 0,
    }
    assert config_problems(config) == []


def test_the_api_key_never_appears_in_validation_errors():
    secret = "sandbox-key-7f3a9c1e-DO-NOT-LEAK"
    with pytest.raises(ConfigValidationError) as caught:
        TapEquipme(config={"api_key": secret, "api_url": "http://evil.example.com", "page_size": 0})
    assert secret not in " ".join(caught.value.errors)
    assert len(caught.value.errors) >= 2


def test_unknown_settings_are_a_warning_not_an_error(caplog):
    TapEquipme(config={**GOOD, "no_such_setting": 1}, parse_env_config=False)
    assert "no_such_setting" in caplog.text


def _cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tap_equipme.tap", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_cli_refuses_a_bad_config_before_any_request(tmp_path, sandbox, api_key):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_key": api_key, "api_url": sandbox.base_url, "page_size": 0}))
    sandbox.control.clear_stats()

    result = _cli(["--config", str(config)])

    assert result.returncode != 0
    assert "page_size" in result.stderr
    assert "Traceback" not in result.stderr
    assert api_key not in result.stderr + result.stdout
    assert result.stdout == ""
    assert sandbox.control.stats()["requests"] == 0


def test_cli_reads_settings_from_tap_equipme_environment_variables(sandbox, api_key):
    env = {
        "TAP_EQUIPME_API_KEY": api_key,
        "TAP_EQUIPME_API_URL": sandbox.base_url,
        "TAP_EQUIPME_PAGE_SIZE": "50",
        "TAP_EQUIPME_METADATA_CONCURRENCY": "2",
    }
    result = _cli(["--config", "ENV"], env)

    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    customers = [m for m in records if m["type"] == "RECORD" and m["stream"] == "customers"]
    assert len(customers) == len(sandbox.control.snapshot()["customers"])
    assert api_key not in result.stdout + result.stderr
    assert any("limit=50" in query for query in sandbox.control.stats()["queries"])


def test_numeric_environment_variables_are_parsed_and_bad_ones_named(sandbox, api_key):
    env = {
        "TAP_EQUIPME_API_KEY": api_key,
        "TAP_EQUIPME_API_URL": sandbox.base_url,
        "TAP_EQUIPME_REQUEST_TIMEOUT": "2.5",
        "TAP_EQUIPME_LOOKBACK": "0",
        "TAP_EQUIPME_PAGE_SIZE": "lots",
    }
    result = _cli(["--config", "ENV"], env)

    assert result.returncode != 0
    assert "`page_size` must be an integer" in result.stderr
    assert "`request_timeout` must" not in result.stderr
    assert "`lookback` must" not in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.control.stats()["requests"] == 0


def test_cli_failure_is_one_clear_line_and_a_non_zero_exit(tmp_path, sandbox, api_key):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_key": "bad-key-999", "api_url": sandbox.base_url}))

    result = _cli(["--config", str(config)])

    assert result.returncode == 1
    assert "`api_key`" in result.stderr
    assert "bad-key-999" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
