"""The one rule for the API key: it is sent only to the configured origin.

Every HTTP client of the package that sends the key (the tap's `ApiClient`, the pipeline's
and the DAG's quality check `api_total`) builds its session here. `KeyedSession`:

- puts the key in the `X-API-KEY` header, and refuses to send any request that carries it to
  an origin (scheme, host, port) other than the configured `api_url`'s: a redirect to another
  host, to another port of the same host, or from https to http ends in `ForeignOriginError`
  naming the new origin, before a byte goes there. requests itself strips only
  `Authorization` across hosts, never a custom header;
- follows a redirect within the origin (a moved path), at most `MAX_REDIRECTS` in a row (a
  loop ends in a clear `EquipmeRequestError`).

Refusing rather than following without the key: a list or metadata endpoint that redirects
elsewhere is either misconfigured or hostile; following it keyless would read data from a host
nobody configured (and answer with its 401, which the user would then chase as a key problem).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from tap_equipme.errors import EquipmeRequestError

API_KEY_HEADER = "X-API-KEY"
MAX_REDIRECTS = 5
"""Redirects within the origin followed in a row; more is treated as a loop."""
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ForeignOriginError(EquipmeRequestError):
    """A request with the API key would have gone to another origin (refused, never sent)."""


def origin_of(url: str) -> str:
    """The origin of a URL: `scheme://host:port` (lower case, default port spelled out).

    Args:
        url: An absolute URL.

    Returns:
        The origin; user info, path, query and fragment are left out.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


class KeyedSession(requests.Session):
    """A pooled session that carries the API key and never lets it leave the origin."""

    def __init__(self, api_url: str, api_key: str, *, user_agent: str, pool_size: int) -> None:
        """Initialize the session.

        Args:
            api_url: The configured base URL; its origin is the only one the key goes to.
            api_key: The API key (sent only in the `X-API-KEY` header).
            user_agent: The User-Agent header.
            pool_size: Keep-alive connections kept per host (>= request concurrency).
        """
        super().__init__()
        self.origin = origin_of(api_url)
        self.max_redirects = MAX_REDIRECTS
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(1, pool_size), max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers.update(
            {API_KEY_HEADER: api_key, "Accept": "application/json", "User-Agent": user_agent}
        )

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send a request, following redirects only within the origin.

        requests' own redirect handling is switched off: it buffers each redirect's body
        whole and would send the key wherever `Location` points. Here a redirect's body is
        never read (its connection is dropped), its target is resolved against the current
        URL (relative and scheme-relative `Location`s included) and refused off the origin.

        Args:
            request: The prepared request.
            **kwargs: As `requests.Session.send` (`allow_redirects` is honoured here).

        Returns:
            The final response.

        Raises:
            ForeignOriginError: If the request or a redirect would carry the key elsewhere.
            EquipmeRequestError: If redirects within the origin exceed `MAX_REDIRECTS`.
        """
        self._check_origin(request, None)
        follow = kwargs.pop("allow_redirects", True)
        response = super().send(request, allow_redirects=False, **kwargs)
        hops = 0
        while follow and response.is_redirect:
            location = self.get_redirect_target(response) or ""
            status = response.status_code
            response.close()  # the redirect's body is never read
            hops += 1
            path = urlsplit(str(request.url)).path
            if hops > MAX_REDIRECTS:
                msg = (
                    f"GET {path} was redirected more than {MAX_REDIRECTS} times within "
                    f"{self.origin} (a redirect loop?); check `api_url`."
                )
                raise EquipmeRequestError(msg)
            following = request.copy()
            following.prepare_url(urljoin(str(request.url), location), None)
            self._check_origin(following, (path, status))
            request = following
            response = super().send(request, allow_redirects=False, **kwargs)
        return response

    def _check_origin(
        self, request: requests.PreparedRequest, redirect: tuple[str, int] | None
    ) -> None:
        target = origin_of(str(request.url))
        if target == self.origin:
            return
        request.headers.pop(API_KEY_HEADER, None)
        if redirect is None:
            msg = (
                f"Refused to send the API key to {target}: the tap sends it only to the "
                f"configured `api_url` origin ({self.origin})."
            )
        else:
            msg = (
                f"The API answered GET {redirect[0]} with a redirect (HTTP {redirect[1]}) to "
                f"another origin, {target}; the tap sends the API key only to the configured "
                f"`api_url` origin ({self.origin}) and did not follow it. If the API really "
                "moved, set `api_url` to its new address."
            )
        raise ForeignOriginError(msg)
