"""``SandboxServer``: the sandbox's parts wired together, served from a background thread."""

from __future__ import annotations

import threading
from types import TracebackType

from tap_equipme.sandbox.api import EquipmeApi
from tap_equipme.sandbox.control import SandboxControl
from tap_equipme.sandbox.drift import Drift
from tap_equipme.sandbox.faults import FaultInjector, Faults
from tap_equipme.sandbox.handler import SandboxHttpServer
from tap_equipme.sandbox.hooks import Hooks
from tap_equipme.sandbox.stats import Stats
from tap_equipme.sandbox.store import Store

HREF_STYLES = {"noslash": "", "slash": "/"}


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
        self._httpd: SandboxHttpServer | None = None
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
        self._httpd = SandboxHttpServer((self.host, self.port), self)
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
