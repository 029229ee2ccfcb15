"""HTTP access to the Equipme API: one pooled session, retries, error mapping.

The API key goes only into the `X-API-KEY` header of this session, which sends it only to the
configured origin (`origin.KeyedSession`). No URL, log line or exception message built here
contains it (an error body that echoes it is redacted), and nothing here logs headers. Every
body is read within `max_response_bytes` and every request within `request_deadline`
(`body.read_body`).
"""

from __future__ import annotations

import decimal
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import msgspec
import requests

from tap_equipme.errors import EquipmeRequestError, EquipmeRetriesExhausted, client_error
from tap_equipme.http.body import BodyTransportError, read_body
from tap_equipme.http.origin import KeyedSession, origin_of
from tap_equipme.http.rate_limiter import RateLimiter
from tap_equipme.http.request_progress import ProgressLog
from tap_equipme.http.request_stats import RequestStats
from tap_equipme.http.retry import RetryPolicy
from tap_equipme.http.server_clock import ServerClock

logger = logging.getLogger("tap-equipme")

# Money-like numbers stay exact: floats decode as Decimal (the message writer keeps them).
_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)
# Transport failures worth a retry (a truncated body surfaces as ChunkedEncodingError).
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
ShapeCheck = Callable[[Any], str | None]
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""`max_response_bytes` default: a list page of 1,000 customers is about 1 MB (see docs)."""
DEFAULT_REQUEST_DEADLINE_S = 300.0
"""`request_deadline` default, in seconds."""


def list_page_problem(body: Any) -> str | None:
    """Say what is wrong with a list page body, or None if it has `items` and `total`.

    Args:
        body: The decoded JSON body.

    Returns:
        A short description of the problem, or None.
    """
    if not isinstance(body, dict):
        return f"a list page must be a JSON object, got {type(body).__name__}"
    if not isinstance(body.get("items"), list):
        return "a list page has no 'items' array"
    total = body.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        return "a list page has no valid 'total'"
    return None


def array_problem(body: Any) -> str | None:
    """Say what is wrong with a body that must be a JSON array of objects, or None.

    Args:
        body: The decoded JSON body.

    Returns:
        A short description of the problem, or None.
    """
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        return "expected a JSON array of objects"
    return None


class ApiClient:
    """A pooled, retrying JSON client for one API base URL and key (thread-safe for GETs)."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        timeout: float,
        policy: RetryPolicy,
        user_agent: str,
        pool_size: int,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE_S,
    ) -> None:
        """Initialize the client.

        Args:
            api_url: Base URL, with or without a path prefix or trailing slash.
            api_key: The API key (sent only in the `X-API-KEY` header).
            timeout: Seconds to wait for connect and for each read.
            policy: Retry budgets and wait scaling.
            user_agent: The User-Agent header.
            pool_size: Keep-alive connections kept per host (>= request concurrency).
            sleep: How to wait between retries (tests may pass a fake).
            limiter: The run's request-rate controller (default: adaptive, unthrottled until
                the first 429, at most `pool_size` requests in flight).
            max_response_bytes: Largest response body accepted (decompressed bytes).
            request_deadline: Seconds one request may take in all (headers and body).
        """
        self.base_url = api_url.rstrip("/") + "/"
        self._origin = origin_of(self.base_url)
        self.timeout = timeout
        self.policy = policy
        self._sleep = sleep
        self._key = api_key
        self.max_response_bytes = max_response_bytes
        self.request_deadline = request_deadline
        self.session = KeyedSession(
            self.base_url, api_key, user_agent=user_agent, pool_size=pool_size
        )
        self.clock = ServerClock()
        self.limiter = limiter or RateLimiter(max_concurrency=pool_size)
        self.stats = RequestStats(rate_limiter=self.limiter)
        self._progress = ProgressLog(self.stats, self.limiter)

    def url_for(self, href: str) -> str:
        """Resolve an API href (`v1/x`, `/v1/x` or an absolute URL) against the base URL.

        Args:
            href: The href from a link, or a path.

        Returns:
            The absolute URL.

        Raises:
            EquipmeRequestError: If an absolute href points at another host (the API key
                must never travel there).
        """
        if "://" in href or href.startswith("//"):
            absolute = urljoin(self.base_url, href)
            if origin_of(absolute) != self._origin:
                msg = (
                    f"The API returned a link to another host ({origin_of(absolute)}); the tap "
                    f"only sends requests to the configured `api_url` origin ({self._origin})."
                )
                raise EquipmeRequestError(msg)
            return absolute
        return self.base_url + href.lstrip("/")

    def get_json(
        self,
        href: str,
        params: Mapping[str, Any] | None = None,
        *,
        shape_problem: ShapeCheck | None = None,
        missing_ok: bool = False,
        kind: str = "other",
    ) -> Any:
        """GET a JSON resource, retrying transient failures.

        Args:
            href: Path or href relative to the base URL.
            params: Query parameters.
            shape_problem: Checks the decoded body; a problem counts as a bad body (retried).
            missing_ok: Return None on 403 / 404 instead of failing (a deleted resource).
            kind: What the request is for in the run's `stats` ("list", "metadata", "other").

        Returns:
            The decoded JSON body, or None (403 / 404 with `missing_ok`).

        Raises:
            EquipmeAuthError: On 401.
            EquipmeAccessError: On 403 / 404 unless `missing_ok`.
            EquipmeRequestError: On 400 and other client errors.
            EquipmeRetriesExhausted: When retries run out.
            EquipmeError: A redirect off the origin, a body past `max_response_bytes`, a
                request past `request_deadline` (not retried).
        """
        url = self.url_for(href)
        path = urlsplit(url).path
        failures = 0
        rate_limited = 0
        while True:
            permit = self.limiter.acquire()
            deadline = time.monotonic() + self.request_deadline
            try:
                response = self.session.get(
                    url,
                    params=params,
                    # The headers must come within the deadline too (a stall before them).
                    timeout=(self.timeout, min(self.timeout, self.request_deadline)),
                    stream=True,
                )
            except _TRANSIENT as exc:
                self.limiter.on_answer(permit, throttled=False)
                self.stats.record(kind, None)
                problem = f"{type(exc).__name__} (no complete response)"
            except BaseException:
                self.limiter.on_answer(permit, throttled=False)
                raise
            else:
                status = response.status_code
                pause = 0.0
                if status == 429:
                    pause = self.policy.rate_limit_seconds(
                        response.headers.get("Retry-After"), rate_limited
                    )
                # Before anything that may raise: every permit is answered exactly once.
                self.limiter.on_answer(permit, throttled=status == 429, pause_s=pause)
                self.clock.note(response.headers.get("Date"))
                self.stats.record(kind, status)
                self._progress.tick()
                if status == 429:
                    if rate_limited >= self.policy.max_rate_limit_retries:
                        msg = (
                            f"GET {path} was still rate limited (HTTP 429) after "
                            f"{rate_limited} waits; the API asks for fewer requests: set a lower "
                            "`max_requests_per_second` or run the tap later."
                        )
                        raise EquipmeRetriesExhausted(msg)
                    rate_limited += 1
                    logger.info("GET %s: rate limited (429), waiting %.2f s", path, pause)
                    self.stats.add_wait(pause)
                    self._sleep(pause)
                    continue
                try:
                    content = read_body(
                        response,
                        max_bytes=self.max_response_bytes,
                        deadline=deadline,
                        deadline_s=self.request_deadline,
                        what=f"GET {path}",
                    )
                except BodyTransportError as exc:
                    content = None
                    problem = f"{exc} (no complete response)"
                if content is None:
                    pass
                elif 200 <= status < 300:
                    body, bad_body = _decode(status, content, shape_problem)
                    if bad_body is None:
                        return body
                    problem = bad_body
                elif status >= 500 or status == 408:
                    problem = f"HTTP {status}"
                elif status in (403, 404) and missing_ok:
                    return None
                else:
                    raise client_error(path, status, content, secret=self._key)
            if failures >= self.policy.max_retries:
                msg = (
                    f"GET {path} on {self._origin} failed after {failures + 1} attempts "
                    f"(`max_retries` is {self.policy.max_retries}); last problem: {problem}. "
                    "If every request fails, check `api_url` and the network."
                )
                raise EquipmeRetriesExhausted(msg)
            wait = self.policy.backoff_seconds(failures)
            failures += 1
            logger.warning("GET %s: %s; retry %d in %.2f s", path, problem, failures, wait)
            self.stats.add_wait(wait)
            self._sleep(wait)

    @property
    def first_response_date(self) -> datetime | None:
        """When the run started by the server's clock, bounded by ours (`ServerClock`)."""
        return self.clock.started

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()


def _decode(
    status: int, content: bytes, shape_problem: ShapeCheck | None
) -> tuple[Any, str | None]:
    try:
        body = _DECODER.decode(content)
    except msgspec.DecodeError as exc:
        return None, f"HTTP {status} with invalid JSON ({exc})"
    except RecursionError:
        return None, f"HTTP {status} with JSON nested too deep to decode"
    problem = shape_problem(body) if shape_problem else None
    if problem:
        return None, f"HTTP {status} with an unexpected body: {problem}"
    return body, None
