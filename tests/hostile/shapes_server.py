"""A programmable Equipme API for bad shapes: serves exactly the items a test hands it.

The sandbox is deliberately strict and always answers the spec's shapes; this server answers
whatever a test puts in it, over real HTTP (stdlib `http.server` in a daemon thread):

- `GET /v1/sales/customers?offset&limit` -> `{"items": [...], "total": N, "self": {...}}`,
  a slice of `customers` (any JSON values, or `Raw` text spliced in verbatim, e.g. JSON
  nested 10,000 deep that Python's own encoder would refuse to write);
- `GET /v1/sales/customers/{id}/metadata` -> `metadata[id]` (a list, or `Raw`), else `[]`;
  the `{id}` segment is matched as text, so a string or float id gets its own answer.

A list request with `createdAfter` answers no items (every customer is older than any
bookmark), so change capture reads the metadata of listed customers only through its
rolling window; the tests use full refreshes where that matters. Requests without the
expected `X-API-KEY` answer 401. `requests` records the path and query of each request.

Test modules cannot import each other under `--import-mode=importlib`; load this file with
`importlib` (see `test_bad_shapes.py`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LIST_PATH = "/v1/sales/customers"


@dataclass(frozen=True)
class Raw:
    """JSON text served as it is (in place of one item, or of a whole metadata body)."""

    text: str


def encode(value: Any) -> str:
    """JSON text of a value whose parts may be `Raw`.

    Args:
        value: A JSON-able value, a `Raw`, or a list / dict holding some.

    Returns:
        The JSON text.
    """
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{encode(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def nested(depth: int) -> Raw:
    """Objects nested `depth` levels deep around a number (`{"a":{"a":...1}}`), as raw text."""
    return Raw('{"a":' * depth + "1" + "}" * depth)


class ShapesServer:
    """The programmable API (a context manager; `base_url` once started)."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.customers: list[Any] = []
        self.metadata: dict[str, Any] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self, customers: list[Any], metadata: dict[Any, Any] | None = None) -> None:
        """Replace what the API answers.

        Args:
            customers: The listing's items, in order.
            metadata: Customer id (as it appears in the URL) -> metadata body.
        """
        with self._lock:
            self.customers = list(customers)
            self.metadata = {str(k): v for k, v in (metadata or {}).items()}
            self.requests = []

    def __enter__(self) -> ShapesServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str]:
        with self._lock:
            self.requests.append(f"{path}?{'&'.join(f'{k}={v[0]}' for k, v in query.items())}")
            if path == LIST_PATH:
                items = [] if "createdAfter" in query else self.customers
                offset = int(query.get("offset", ["0"])[0])
                limit = int(query.get("limit", ["100"])[0])
                page = {
                    "items": Raw(encode(items[offset : offset + limit])),
                    "total": len(items),
                    "self": {"href": f"{LIST_PATH}?offset={offset}&limit={limit}"},
                }
                return 200, encode(page)
            prefix, suffix = f"{LIST_PATH}/", "/metadata"
            if path.startswith(prefix) and path.endswith(suffix):
                return 200, encode(self.metadata.get(path[len(prefix) : -len(suffix)], []))
        return 404, json.dumps({"title": "Not Found", "status": 404})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("X-API-KEY") != server.api_key:
                    status, body = 401, json.dumps({"title": "Unauthorized", "status": 401})
                else:
                    parts = urlsplit(self.path)
                    status, body = server._answer(parts.path, parse_qs(parts.query))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows the test's own output

        return Handler
