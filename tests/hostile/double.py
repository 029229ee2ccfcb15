"""A hostile API double over real HTTP: a programmable front for the sandbox, and a recorder.

`HostileApi` listens on 127.0.0.1 and forwards every request to the real sandbox (so a run
sees a valid API) unless a programmed `Rule` matches it; a rule answers with any status,
headers and body, after a stall, dripping the body, or by rewriting the sandbox's answer.
`Recorder` listens on another loopback address (127.0.0.2: another host for the tap) and
records everything that reaches it, answering a plausible empty list page, so a test can
prove the API key never arrived there.
"""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

FORWARDED_HEADERS = ("Content-Type", "Date", "Retry-After")


@dataclass
class Reply:
    """What the double sends back."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stall_s: float = 0.0
    """Seconds to wait before the status line (a stall before headers)."""
    drip_s: float = 0.0
    """Seconds between body bytes (0: the body at once)."""
    content_length: int | None = None
    """The Content-Length to announce (None: the body's real length; -1: none, close)."""
    stream_bytes: int = 0
    """Send this many filler bytes after `body` without buffering them (a huge body)."""

    @classmethod
    def json(cls, value: Any, status: int = 200, **kwargs: Any) -> Reply:
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        return cls(status, headers, json.dumps(value).encode(), **kwargs)


@dataclass
class Request:
    """One request as the double saw it."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


Forward = Callable[[], Reply]
"""Fetches the sandbox's own answer to the current request."""


@dataclass
class Rule:
    """Answer requests whose path starts with `path` (and `when` accepts), `times` times."""

    path: str
    answer: Callable[[Request, Forward], Reply]
    when: Callable[[Request], bool] = lambda _request: True
    times: int | None = None
    """How many requests the rule answers (None: all)."""
    used: int = 0


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Recorder:
    """An HTTP listener that records every request (on another loopback host)."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        self.requests: list[Request] = []
        self.rules: list[Rule] = []
        self.upstream: str | None = None
        self.upstream_key: str | None = None
        self._lock = threading.Lock()
        self._server = _Server((host, 0), self._handler())
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Recorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.rules.clear()

    def program(self, *rules: Rule) -> None:
        with self._lock:
            self.rules.extend(rules)

    def keys_received(self) -> list[str]:
        """Every X-API-KEY value that reached this listener."""
        return [
            value
            for request in self.requests
            for name, value in request.headers.items()
            if name.lower() == "x-api-key"
        ]

    def _answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            rule = next(
                (
                    r
                    for r in self.rules
                    if request.path.startswith(r.path)
                    and r.when(request)
                    and (r.times is None or r.used < r.times)
                ),
                None,
            )
            if rule is not None:
                rule.used += 1
        if rule is not None:
            return rule.answer(request, lambda: self._forward(request))
        if self.upstream is None:
            return Reply.json({"items": [], "total": 0})
        return self._forward(request)

    def _forward(self, request: Request) -> Reply:
        assert self.upstream is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() == "x-api-key"}
        response = requests.get(
            self.upstream + request.path,
            params=request.query,
            headers=headers,
            timeout=30,
        )
        kept = {k: response.headers[k] for k in FORWARDED_HEADERS if k in response.headers}
        return Reply(response.status_code, kept, response.content)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        double = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                request = Request(parts.path, parse_qs(parts.query), dict(self.headers.items()))
                try:
                    reply = double._answer(request)
                except Exception as exc:
                    reply = Reply.json({"errorDescription": f"double: {exc}"}, status=599)
                try:
                    self._send(reply)
                except (TimeoutError, BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _send(self, reply: Reply) -> None:
                if reply.stall_s:
                    time.sleep(reply.stall_s)
                self.send_response_only(reply.status)
                names = {name.lower() for name in reply.headers}
                if "date" not in names:
                    self.send_header("Date", self.date_time_string())
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                length = reply.content_length
                total = len(reply.body) + reply.stream_bytes
                if length is None:
                    length = total
                if length >= 0:
                    self.send_header("Content-Length", str(length))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if reply.drip_s:
                    for index in range(len(reply.body)):
                        self.wfile.write(reply.body[index : index + 1])
                        self.wfile.flush()
                        time.sleep(reply.drip_s)
                else:
                    self.wfile.write(reply.body)
                filler = b" " * 65536
                left = reply.stream_bytes
                while left > 0:
                    piece = filler[: min(left, len(filler))]
                    self.wfile.write(piece)
                    left -= len(piece)
                if length != total:
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


class HostileApi(Recorder):
    """The API the tap is configured with: forwards to the sandbox unless a rule matches."""

    def __init__(self, upstream: str, api_key: str, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.upstream = upstream.rstrip("/")
        self.upstream_key = api_key


def gzip_bomb(decompressed_bytes: int) -> bytes:
    """A gzip body that decompresses into that many spaces (about 1,000 : 1)."""
    out = gzip.compress(b" " * min(decompressed_bytes, 1 << 20), compresslevel=9)
    if decompressed_bytes <= 1 << 20:
        return out
    # Concatenated gzip members decompress to the concatenation of their contents.
    return out * (decompressed_bytes >> 20)
