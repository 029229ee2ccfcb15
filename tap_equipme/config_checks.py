"""Checks of the tap's settings that a JSON Schema cannot express (pure, no I/O).

Each problem is one sentence that names the setting and never repeats the API key.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

MAX_PAGE_SIZE = 1000
MAX_METADATA_CONCURRENCY = 64
UNKNOWN_FIELDS_POLICIES = ("keep", "drop", "fail")
# `max_requests_per_second` bounds: slower than one request a minute is a mistake, not a limit.
MIN_REQUESTS_PER_SECOND = 1 / 60
MAX_REQUESTS_PER_SECOND = 100_000
# `max_response_bytes` below this cannot hold even an error body.
MIN_RESPONSE_BYTES = 1024
# Settings singer-sdk adds to every tap (stream maps, flattening, batching, ...) plus ones
# Meltano passes; they are not "unknown".
_SDK_SETTINGS = frozenset(
    {
        "stream_maps",
        "stream_map_config",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "batch_config",
        "add_record_metadata",
    }
)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    # singer-sdk reads a config file's JSON numbers with a fraction as Decimal.
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def parse_number(text: str) -> int | float | str:
    """Parse a setting's text from an environment variable as a number, if it is one.

    Args:
        text: The variable's value.

    Returns:
        An int, a float, or the text unchanged (validation then names the setting).
    """
    stripped = text.strip()
    for kind in (int, float):
        try:
            return kind(stripped)
        except ValueError:
            continue
    return text


def is_loopback_host(host: str) -> bool:
    """Whether a URL host is this machine (127.0.0.0/8, ::1 or localhost).

    Args:
        host: The host part of a URL (brackets of IPv6 literals removed).

    Returns:
        True for loopback hosts.
    """
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_url_problem(url: object) -> str | None:
    """Say what is wrong with `api_url`, or None.

    Args:
        url: The setting's value.

    Returns:
        One sentence naming the setting, or None.
    """
    if not isinstance(url, str) or not url.strip():
        return "`api_url` must be a URL such as https://api.equipme.io."
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return f"`api_url` is not a valid URL: {url!r}."
    if parts.scheme not in ("http", "https") or not host:
        return (
            "`api_url` must be an http(s) URL with a host, such as https://api.equipme.io, "
            f"not {url!r}."
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        return "`api_url` must not contain credentials, a query or a fragment."
    if parts.scheme == "http" and not is_loopback_host(host):
        return (
            f"`api_url` uses plain http to {host}: the API key would travel unencrypted. Use "
            "https (plain http is allowed only for loopback hosts: 127.0.0.0/8, ::1, localhost)."
        )
    return None


def parse_start_date(value: str) -> datetime:
    """Parse an ISO-8601 `start_date` (a date, or a date-time; naive means UTC).

    Args:
        value: The setting's value.

    Returns:
        An aware UTC datetime.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not read "Z"
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _range_problem(
    config: Mapping[str, Any], name: str, low: float, high: float | None, *, integer: bool
) -> str | None:
    if name not in config or config[name] is None:
        return None
    value = config[name]
    kind = "an integer" if integer else "a number"
    valid_type = _is_int(value) if integer else _is_number(value)
    upper = f" and {high:g}" if high is not None else ""
    if (
        not valid_type
        or not math.isfinite(value)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"between {low:g}{upper}" if high is not None else f">= {low:g}"
        return f"`{name}` must be {kind} {bounds}, not {value!r}."
    return None


def config_problems(config: Mapping[str, Any]) -> list[str]:
    """Every problem with the tap's settings, one sentence each.

    Args:
        config: The tap config.

    Returns:
        The problems (empty if the config is fine).
    """
    problems: list[str] = []
    key = config.get("api_key")
    if not isinstance(key, str) or not key.strip():
        problems.append(
            "`api_key` is required and must be a non-empty string (the Equipme API key)."
        )
    elif key != key.strip() or any(ord(char) < 32 or ord(char) == 127 for char in key):
        problems.append("`api_key` contains whitespace or control characters; paste the key alone.")
    if (problem := api_url_problem(config.get("api_url", "https://api.equipme.io"))) is not None:
        problems.append(problem)
    start_date = config.get("start_date")
    if start_date is not None:
        try:
            if not isinstance(start_date, str):
                raise TypeError
            parse_start_date(start_date)
        except (TypeError, ValueError):
            problems.append(
                f"`start_date` must be an ISO-8601 date-time such as 2024-01-31T00:00:00Z, "
                f"not {start_date!r}."
            )
    for name, low, high, integer in (
        ("page_size", 1, MAX_PAGE_SIZE, True),
        ("metadata_concurrency", 1, MAX_METADATA_CONCURRENCY, True),
        ("max_retries", 0, 100, True),
        ("request_timeout", 0.001, 3600, False),
        ("request_deadline", 0.001, 24 * 3600, False),
        ("max_response_bytes", MIN_RESPONSE_BYTES, None, True),
        ("lookback", 0, 60 * 24 * 30, False),
        ("backoff_factor", 0, 100, False),
        ("metadata_refresh_days", 0.000001, 3650, False),
        ("checkpoint_every_customers", 1, 10_000_000, True),
        ("checkpoint_interval_seconds", 0.001, 86_400, False),
        ("max_requests_per_second", MIN_REQUESTS_PER_SECOND, MAX_REQUESTS_PER_SECOND, False),
    ):
        if (problem := _range_problem(config, name, low, high, integer=integer)) is not None:
            problems.append(problem)
    for name in ("customer_numbers", "names"):
        value = config.get(name)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(item, str) for item in value)
        ):
            problems.append(f"`{name}` must be a list of strings, not {value!r}.")
    if (
        "active" in config
        and config["active"] is not None
        and not isinstance(config["active"], bool)
    ):
        problems.append(f"`active` must be true or false, not {config['active']!r}.")
    mode = config.get("sync_mode")
    if mode is not None and mode not in ("change_capture", "incremental"):
        problems.append(
            f"`sync_mode` must be 'change_capture' or 'incremental', not {mode!r} (use "
            "`full_refresh: true` for a full refresh)."
        )
    for name in ("full_refresh", "adaptive_rate_limit"):
        if name in config and not isinstance(config[name], bool):
            problems.append(f"`{name}` must be true or false, not {config[name]!r}.")
    policy = config.get("unknown_fields", "keep")
    if policy not in UNKNOWN_FIELDS_POLICIES:
        problems.append(
            f"`unknown_fields` must be one of {', '.join(UNKNOWN_FIELDS_POLICIES)}, not {policy!r}."
        )
    agent = config.get("user_agent")
    if agent is not None and (
        not isinstance(agent, str) or not agent.strip() or any(ord(c) < 32 for c in agent)
    ):
        problems.append("`user_agent` must be a non-empty single-line string.")
    return problems


def unknown_settings(config: Mapping[str, Any], schema: Mapping[str, Any]) -> Iterable[str]:
    """Names in the config that no setting declares (warned about, not refused).

    Args:
        config: The tap config.
        schema: The tap's config JSON Schema (with the SDK's built-in settings).

    Returns:
        The unknown names, sorted.
    """
    known = set(schema.get("properties", {})) | _SDK_SETTINGS
    return sorted(name for name in config if name not in known)
