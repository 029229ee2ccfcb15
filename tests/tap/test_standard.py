"""singer-sdk's standard tap tests, run against a live sandbox.

The SDK builds its test class at import time from a config, so this module starts a sandbox
of its own at import (stopped at interpreter exit).
"""

from __future__ import annotations

import atexit

from singer_sdk.testing import get_tap_test_class

from tap_equipme.sandbox import SandboxServer
from tap_equipme.tap import TapEquipme

_API_KEY = "sandbox-key-7f3a9c1e-DO-NOT-LEAK"
_SERVER = SandboxServer(customers=60, seed=11, api_key=_API_KEY, port=0).start()
atexit.register(_SERVER.stop)

TestTapEquipme = get_tap_test_class(
    TapEquipme,
    config={
        "api_key": _API_KEY,
        "api_url": _SERVER.base_url,
        "page_size": 25,
        "metadata_concurrency": 4,
        "backoff_factor": 0.001,
    },
)
