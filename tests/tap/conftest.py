"""Fixtures of the tap tests: run the real tap in-process against the real sandbox."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tap_equipme.tap import TapEquipme

# Retry waits shrink to a thousandth in tests, so error paths take milliseconds.
FAST_BACKOFF = 0.001


@dataclass
class TapRun:
    """What one tap run wrote to stdout, parsed."""

    messages: list[dict[str, Any]]
    lines: list[str] = field(default_factory=list)

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.of_type("STATE")]

    @property
    def final_state(self) -> dict[str, Any]:
        return self.states[-1]

    @property
    def bookmark(self) -> str | None:
        return (
            self.final_state.get("bookmarks", {}).get("customers", {}).get("replication_key_value")
        )


RunTap = Callable[..., TapRun]


def _run(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> TapRun:
    out = io.StringIO()
    tap = TapEquipme(config=config, state=state, catalog=catalog, parse_env_config=False)
    try:
        with contextlib.redirect_stdout(out):
            tap.sync_all()
    finally:
        # Whatever happened, hand back what was written so far (tests read partial runs).
        _run.last_output = out.getvalue()  # type: ignore[attr-defined]
        tap.api_client.close()
    lines = out.getvalue().splitlines()
    return TapRun([json.loads(line) for line in lines], lines)


def partial_output() -> TapRun:
    """The messages of the last `run_tap` call, even if it raised."""
    lines = getattr(_run, "last_output", "").splitlines()
    return TapRun([json.loads(line) for line in lines], lines)


@pytest.fixture
def run_tap() -> RunTap:
    """Run the tap in-process (`sync_all`), return its parsed stdout."""
    return _run


@pytest.fixture
def last_output() -> Callable[[], TapRun]:
    """The stdout of the latest `run_tap` call, also when it raised."""
    return partial_output


@pytest.fixture
def config(tap_config: dict[str, Any]) -> dict[str, Any]:
    """The shared tap config plus fast retry waits."""
    return {**tap_config, "backoff_factor": FAST_BACKOFF}


@dataclass
class StubReply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class StubApi:
    """A tiny real HTTP server answering every GET with the next scripted reply."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.replies: list[StubReply] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.paths.append(self.path)
                stub.headers.append(dict(self.headers))
                reply = stub.replies.pop(0) if len(stub.replies) > 1 else stub.replies[0]
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.replies.append(StubReply(status, raw, headers or {}))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_api() -> Any:
    """A scripted real HTTP server on 127.0.0.1 (for answers the sandbox never gives)."""
    stub = StubApi()
    yield stub
    stub.close()
