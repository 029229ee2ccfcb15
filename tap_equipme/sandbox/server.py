"""The sandbox HTTP server: stdlib threads, HTTP/1.1 keep-alive, raw socket control for faults."""

from __future__ import annotations

import contextlib
import hmac
import socket
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from tap_equipme.sandbox.api import (
    ROUTE_TEMPLATES,
    EquipmeApi,
    Response,
    error_response,
    match_route,
)
from tap_equipme.sandbox.control import SandboxControl
from tap_equipme.sandbox.drift import Drift
from tap_equipme.sandbox.errors import ApiError
from tap_equipme.sandbox.faults import Decision, FaultInjector, Faults
from tap_equipme.sandbox.hooks import Hooks
from tap_equipme.sandbox.query import parse_list_query
from tap_equipme.sandbox.stats import Stats
from tap_equipme.sandbox.store import Store

HOOK_PREFIX = "/_sandbox/"
HREF_STYLES = {"noslash": "", "slash": "/"}
_FAULT_MESSAGES = {
    429: ("TooManyRequests", "Rate limit exceeded; retry later."),
    500: ("InternalServerError", "An unexpected error occurred."),
    502: ("BadGateway", "The upstream service answered badly."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
}


class _HttpServer(ThreadingHTTPServer):
    """Threaded server that remembers its open connections so ``stop`` can close them."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def close_connections(self) -> None:
        """Shut every open client connection so its handler thread ends."""
        with self.connections_lock:
            open_connections = list(self.connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "equipme-sandbox"
    sys_version = ""
    timeout = 120  # idle keep-alive connections end eventually even if a client forgets them
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

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
        status: int | None = None
        decision = Decision()
        try:
            if is_list:
                sandbox.stats.list_query(epoch, query)
            decision = sandbox.injector.decide(path)
            if decision.delay_s:
                wake.wait(decision.delay_s)
            if decision.drop:
                self.close_connection = True
                return
            response = self._api_response(decision, path, query, body)
            if is_list and response.status == 200:
                request = parse_list_query(parse_qs(query, keep_blank_values=True))
                sandbox.drift.list_served(request.list_filter, request.offset, request.limit)
            if decision.slow_s:
                wake.wait(decision.slow_s)
            self._send(response, truncate=decision.truncate)
            status = response.status
        finally:
            sandbox.stats.finished(epoch, route_label, status, decision.kinds)

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


class SandboxServer:
    """A live Equipme API double on 127.0.0.1 (see docs/ARCHITECTURE.md, "Sandbox")."""

    def __init__(
        self,
        customers: int = 1000,
        seed: int = 1,
        api_key: str = "sandbox-key",
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        href_style: str = "noslash",
        prerender: bool = False,
    ) -> None:
        if href_style not in HREF_STYLES:
            raise ValueError(
                f"href_style must be one of {sorted(HREF_STYLES)}, not {href_style!r}."
            )
        if not api_key:
            raise ValueError("api_key must not be empty.")
        self.api_key = api_key
        self.host = host
        self.port = port
        self.store = Store(customers, seed, href_prefix=HREF_STYLES[href_style])
        if prerender:
            # Benchmarks of a client want the steady state from the first request on.
            self.store.prerender()
        self.api = EquipmeApi(self.store)
        self.injector = FaultInjector(faults)
        self.stats = Stats()
        self.drift = Drift(self.store)
        self.hooks = Hooks(
            self.store, self.injector, self.stats, self.drift, on_reset=self.wake_waiting
        )
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def wake_waiting(self) -> None:
        """End every injected delay now (requests then answer at once)."""
        woken, self.wake = self.wake, threading.Event()
        woken.set()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (no trailing slash); valid once started."""
        return f"http://{self.host}:{self.port}"

    @property
    def control(self) -> SandboxControl:
        """A client of the test hooks."""
        return SandboxControl(self.base_url)

    def start(self) -> SandboxServer:
        """Bind, serve in a background thread, and return once connections are accepted."""
        if self._httpd is not None:
            return self
        self.stopping.clear()
        self.wake = threading.Event()
        self._httpd = _HttpServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"equipme-sandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end every connection and in-flight sleep, join all threads."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self.stopping.set()
        self.wake.set()
        httpd.shutdown()
        thread.join()
        httpd.close_connections()
        httpd.server_close()  # joins the handler threads (block_on_close)
        self._httpd = None
        self._thread = None

    def serve_forever(self) -> None:
        """Block until ``stop`` is called from another thread or a signal handler."""
        self.start()
        while not self.stopping.wait(0.5):
            pass
        self.stop()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
