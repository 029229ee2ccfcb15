"""singer-sdk's standard tap tests, run against a live sandbox.

The SDK builds its test class at import time from a config, so the sandbox's address is
fixed here (a port free at import) and the server runs for this module's tests only: started
and stopped by a module fixture, so no server thread outlives the tests (an atexit stop
would come after Python waits for the server's threads, and hang on keep-alive sockets).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_tap_test_class

from tap_equipme.sandbox import SandboxServer
from tap_equipme.tap import TapEquipme

_API_KEY = "sandbox-key-7f3a9c1e-DO-NOT-LEAK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_PORT = _free_port()


@pytest.fixture(scope="module", autouse=True)
def _live_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(customers=60, seed=11, api_key=_API_KEY, port=_PORT) as server:
        yield server


TestTapEquipme = get_tap_test_class(
    TapEquipme,
    config={
        "api_key": _API_KEY,
        "api_url": f"http://127.0.0.1:{_PORT}",
        "page_size": 25,
        "metadata_concurrency": 4,
        "backoff_factor": 0.001,
    },
)
