"""HTTP plumbing: a threaded HTTP/1.1 server with raw socket control for injected faults."""

from __future__ import annotations

import contextlib
import hmac
import socket
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from typing_extensions import override

from tap_equipme.sandbox.api import ROUTE_TEMPLATES, Response, error_response, match_route
from tap_equipme.sandbox.api_error import ApiError
from tap_equipme.sandbox.faults import Decision
from tap_equipme.sandbox.query import parse_list_query

if TYPE_CHECKING:
    from tap_equipme.sandbox.api import EquipmeApi
    from tap_equipme.sandbox.drift import Drift
    from tap_equipme.sandbox.faults import FaultInjector
    from tap_equipme.sandbox.hooks import Hooks
    from tap_equipme.sandbox.stats import Stats


class Sandbox(Protocol):
    """What the HTTP layer needs of the sandbox (a protocol: the handler never imports it)."""

    api_key: str
    api: EquipmeApi
    hooks: Hooks
    injector: FaultInjector
    stats: Stats
    drift: Drift
    wake: threading.Event


HOOK_PREFIX = "/_sandbox/"
_FAULT_MESSAGES = {
    429: ("TooManyRequests", "Rate limit exceeded; retry later."),
    500: ("InternalServerError", "An unexpected error occurred."),
    502: ("BadGateway", "The upstream service answered badly."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
}


class SandboxHttpServer(ThreadingHTTPServer):
    """Threaded server that remembers its open connections so ``stop`` can close them."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, SandboxRequestHandler)

    def close_connections(self) -> None:
        """Shut every open client connection so its handler thread ends."""
        with self.connections_lock:
            open_connections = list(self.connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """One client connection: keep-alive requests routed to the hooks or the emulated API."""

    protocol_version = "HTTP/1.1"
    server_version = "equipme-sandbox"
    sys_version = ""
    timeout = 120  # idle keep-alive connections end eventually even if a client forgets them
    server: SandboxHttpServer

    @override
    def setup(self) -> None:
        """Disable Nagle (each answer is one write) and register the connection."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    @override
    def finish(self) -> None:
        """Unregister the connection; a client that already hung up is not an error."""
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    @override
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stats hook is the request log."""

    def __getattr__(self, name: str) -> Any:
        # Every method (TRACE, OPTIONS, HEAD, ...) reaches the router, which answers 405
        # ErrorResponses for methods a route does not declare, as a real API does.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    # ----- plumbing ----------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, response: Response, truncate: bool = False) -> None:
        body = response.body or b""
        status = HTTPStatus(response.status)
        head = [
            f"HTTP/1.1 {status.value} {status.phrase}",
            f"Date: {self.date_time_string()}",
            "Server: equipme-sandbox",
        ]
        if response.body is not None:
            head.append("Content-Type: application/json; charset=utf-8")
        if status.value != 204:
            head.append(f"Content-Length: {len(body)}")
        head += [f"{name}: {value}" for name, value in response.headers.items()]
        if self.close_connection or truncate:
            head.append("Connection: close")
        if self.command == "HEAD":
            body = b""  # a HEAD answer announces its length but carries no body
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        if truncate:
            # Full Content-Length announced, only part of the body sent, then hang up.
            self.close_connection = True
            payload = payload[: len(payload) - max(1, len(body) // 2)]
        self.wfile.write(payload)

    def _serve(self) -> None:
        try:
            path, _, query = self.path.partition("?")
            body = self._read_body()
            if path.startswith(HOOK_PREFIX):
                self._send(self.server.sandbox.hooks.handle(self.command, path, body))
            else:
                self._serve_api(path, query, body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            failure = ApiError(500, "InternalServerError", "The sandbox failed; see its stderr.")
            with contextlib.suppress(OSError):
                self._send(error_response(failure))

    def _authorised(self) -> bool:
        given = self.headers.get("X-API-KEY")  # header names are case-insensitive
        expected = self.server.sandbox.api_key
        return given is not None and hmac.compare_digest(given.encode(), expected.encode())

    def _serve_api(self, path: str, query: str, body: bytes) -> None:
        sandbox = self.server.sandbox
        route = match_route(path)
        route_label = f"{self.command} {ROUTE_TEMPLATES[route[0]] if route else path}"
        is_list = route is not None and route[0] == "customers" and self.command == "GET"
        epoch = sandbox.stats.started()
        wake = sandbox.wake  # set by stop() and by a reset: ends injected waits early
        decision = Decision()
        recorded = False

        def record(status: int | None) -> None:
            # Counted before the answer leaves, so a client that reads the stats right
            # after its answer always finds its own request in them.
            nonlocal recorded
            recorded = True
            sandbox.stats.finished(epoch, route_label, status, decision.kinds)

        try:
            if is_list:
                sandbox.stats.list_query(epoch, query)
            decision = sandbox.injector.decide(path)
            if decision.delay_s:
                wake.wait(decision.delay_s)
            if decision.drop:
                record(None)
                self.close_connection = True
                return
            response = self._api_response(decision, path, query, body)
            if is_list and response.status == 200:
                request = parse_list_query(parse_qs(query, keep_blank_values=True))
                sandbox.drift.list_served(request.list_filter, request.offset, request.limit)
            if decision.slow_s:
                wake.wait(decision.slow_s)
            record(response.status)
            self._send(response, truncate=decision.truncate)
        finally:
            if not recorded:
                record(500)  # the request failed inside the sandbox (answered 500)

    def _api_response(self, decision: Decision, path: str, query: str, body: bytes) -> Response:
        if decision.status is not None:
            code, description = _FAULT_MESSAGES[decision.status]
            response = error_response(ApiError(decision.status, code, description))
            if decision.retry_after is not None:
                response.headers["Retry-After"] = decision.retry_after
            return response
        if not self._authorised():
            return error_response(
                ApiError(401, "Unauthorized", "Missing or invalid API key (header X-API-KEY).")
            )
        return self.server.sandbox.api.handle(self.command, path, query, body)
