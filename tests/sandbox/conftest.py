from __future__ import annotations

from collections.abc import Iterator

import pytest

from tap_equipme.sandbox import SandboxServer

from .helpers import Api


@pytest.fixture
def api(sandbox: SandboxServer, api_key: str) -> Iterator[Api]:
    client = Api(sandbox, api_key)
    yield client
    client.close()
