"""The plumbing between the tap and the target processes of `equipme-sync`.

`RecordRelay` copies the tap's stdout into the target's stdin in large chunks, counting RECORD
messages per stream on the way with `bytes.count` (no JSON parsing), and forwards only
complete lines: a tap killed in the middle of a line cannot hand the target half a message.
`StderrTail` drains a child's stderr in a thread (so a chatty child never blocks on a full
pipe), keeps its last lines with the API key redacted, and can echo them.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import threading
import typing as t

REDACTED = "********"
_RECORD_HEAD = b'{"type":"RECORD","stream":"'
_SCHEMA_STREAM = re.compile(rb'^\{"type":"SCHEMA","stream":"((?:[^"\\]|\\.)*)"', re.MULTILINE)
_CHUNK = 1 << 20
# The tap logs its request figures once a run as this prefix and a JSON object
# (`tap_equipme/client.py`, `RequestStats.as_dict()`); the summary shows them.
REQUESTS_LINE = "Requests this run: "


def redact(text: str, secrets: t.Iterable[str]) -> str:
    """Return `text` with every non-empty secret replaced by a fixed mask.

    Args:
        text: Any text that may contain a secret.
        secrets: The values to hide.

    Returns:
        The redacted text.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class StderrTail:
    """Drains a binary stream in a daemon thread and keeps its last lines, redacted."""

    def __init__(
        self,
        name: str,
        stream: t.IO[bytes],
        secrets: t.Sequence[str] = (),
        *,
        keep: int = 40,
        echo: t.TextIO | None = None,
    ) -> None:
        """Start draining.

        Args:
            name: Label for echoed lines (`tap`, `target`).
            stream: The child's stderr pipe.
            secrets: Values to redact from every kept or echoed line.
            keep: How many last lines to keep.
            echo: Where to echo each line as it arrives (None: do not echo).
        """
        self.name = name
        self._stream = stream
        self._secrets = [s for s in secrets if s]
        self._lines: collections.deque[str] = collections.deque(maxlen=keep)
        self.warnings: collections.deque[str] = collections.deque(maxlen=keep)
        """WARNING log lines (redacted), e.g. unknown settings: shown even on success."""
        self.request_stats: dict[str, t.Any] = {}
        """The tap's last `Requests this run: {...}` figures (empty if it logged none)."""
        self._echo = echo
        self._thread = threading.Thread(target=self._drain, name=f"{name}-stderr", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        for raw in iter(self._stream.readline, b""):
            line = redact(raw.decode("utf-8", "replace").rstrip("\r\n"), self._secrets)
            self._lines.append(line)
            if "| WARNING " in line or line.startswith("WARNING"):
                self.warnings.append(line)
            _, marker, payload = line.partition(REQUESTS_LINE)
            if marker:
                with contextlib.suppress(ValueError):
                    figures = json.loads(payload)
                    if isinstance(figures, dict):
                        self.request_stats = figures
            if self._echo is not None:
                self._echo.write(f"[{self.name}] {line}\n")
                self._echo.flush()
        self._stream.close()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the stream is closed (the child exited and its pipe drained).

        Args:
            timeout: Seconds to wait at most.
        """
        self._thread.join(timeout)

    def last_lines(self, count: int = 20) -> list[str]:
        """Return the last lines read, redacted.

        Args:
            count: How many lines at most.

        Returns:
            The lines, oldest first.
        """
        return list(self._lines)[-count:]


class RecordRelay:
    """Copies complete Singer lines from the tap's stdout to the target's stdin, counting."""

    def __init__(self, source: t.IO[bytes], sink: t.IO[bytes]) -> None:
        """Prepare (call `start`).

        Args:
            source: The tap's stdout.
            sink: The target's stdin.
        """
        self._source = source
        self._sink = sink
        self._patterns: dict[str, bytes] = {}
        self.records: dict[str, int] = {}
        """RECORD messages forwarded so far, per stream (read from any thread)."""
        self.bytes_forwarded = 0
        self.dropped_partial_line = False
        """True if the tap's output ended in the middle of a line (that line was dropped)."""
        self.sink_broken = False
        """True if the target stopped reading (its stdin pipe broke)."""
        self._thread = threading.Thread(target=self._run, name="record-relay", daemon=True)

    def start(self) -> None:
        """Start relaying in a daemon thread."""
        self._thread.start()

    def is_alive(self) -> bool:
        """Return whether the relay still runs (the tap's stdout is open)."""
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the end of the tap's output.

        Args:
            timeout: Seconds to wait at most.
        """
        self._thread.join(timeout)

    def _count(self, block: bytes) -> None:
        if b'"type":"SCHEMA"' in block:
            for match in _SCHEMA_STREAM.finditer(block):
                name = match.group(1).decode("utf-8", "replace")
                self._patterns.setdefault(name, _RECORD_HEAD + match.group(1) + b'"')
                self.records.setdefault(name, 0)
        for name, pattern in self._patterns.items():
            found = block.count(pattern)
            if found:
                self.records[name] += found

    def _run(self) -> None:
        fd_in = self._source.fileno()
        pending = b""
        try:
            while True:
                chunk = os.read(fd_in, _CHUNK)
                if not chunk:
                    break
                cut = chunk.rfind(b"\n")
                if cut < 0:
                    pending += chunk
                    continue
                block = pending + chunk[: cut + 1]
                pending = chunk[cut + 1 :]
                self._count(block)
                if not self.sink_broken:
                    self._write(block)
            self.dropped_partial_line = bool(pending.strip())
        finally:
            self._source.close()

    def _write(self, block: bytes) -> None:
        try:
            self._sink.write(block)
            self._sink.flush()
            self.bytes_forwarded += len(block)
        except (BrokenPipeError, ValueError, OSError):
            # The target is gone; keep draining the tap so it is never blocked on a full
            # pipe (the pipeline stops it and reports the target's failure).
            self.sink_broken = True

    def close_sink(self) -> None:
        """Close the target's stdin (end of input), ignoring a broken pipe."""
        with contextlib.suppress(OSError):
            self._sink.close()
