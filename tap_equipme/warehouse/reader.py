"""A Singer message reader that leaves RECORD payloads as raw JSON text.

Parsing every record into Python dicts is the slowest part of a Python target. This reader
decodes only the envelope of a RECORD line (type, stream, version) and hands the record on as
a `msgspec.Raw` slice of the line; the target either appends it to a batch as it is (the fast
path, parsed later by Arrow in one call) or decodes it for singer-sdk's standard path (stream
maps, validation). Every other message is decoded in full, floats as floats.
"""

from __future__ import annotations

import sys
import typing as t
from collections import Counter, defaultdict

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class _Envelope(msgspec.Struct):
    type: str
    stream: str | None = None
    record: msgspec.Raw = msgspec.Raw(b"null")
    version: int | None = None
    time_extracted: t.Any = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_MESSAGE = msgspec.json.Decoder()


class LazyRecordReader(GenericSingerReader[str]):
    """Reads Singer messages; RECORD payloads stay raw (`msgspec.Raw`) until needed."""

    default_input = sys.stdin

    def __init__(self) -> None:
        """Initialize the reader."""
        super().__init__()
        self.on_failure: list[t.Callable[[BaseException], None]] = []
        """Called with the exception if reading or handling a message fails."""
        self.raw_record_handler: t.Callable[[str | None, msgspec.Raw, int | None], bool] | None = (
            None
        )
        """Takes `(stream, raw record, version)`; returns False to get the standard path."""

    @override
    def deserialize_json(self, line: str | bytes) -> dict:
        """Decode a whole message.

        Args:
            line: One JSON line.

        Returns:
            The message.

        Raises:
            InvalidInputLine: If the line is not a JSON object.
        """
        try:
            message = _MESSAGE.decode(line)
        except msgspec.DecodeError as exc:
            msg = f"Unable to parse an input line as JSON ({exc}): {line[:200]!r}"
            raise InvalidInputLine(msg) from exc
        if not isinstance(message, dict):
            msg = f"An input line is not a JSON object: {line[:200]!r}"
            raise InvalidInputLine(msg)
        return message

    @override
    def process_lines(
        self,
        file_input: t.IO[str] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        """Read every message and dispatch it, RECORD payloads left raw.

        Args:
            file_input: Messages, one per line (text or binary).
            callbacks: Message type -> handler.

        Returns:
            Count of messages per type.
        """
        stream_in: t.Any = file_input or self.default_input
        stream_in = getattr(stream_in, "buffer", stream_in)  # bytes avoid a decode step
        stats: dict[str, int] = defaultdict(int)
        records = 0
        decode = _ENVELOPE.decode
        take_raw = self.raw_record_handler
        try:
            for line in stream_in:
                try:
                    envelope = decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    if not line.strip():
                        continue
                    self.deserialize_json(line)  # the full decoder gives the clearer message
                    msg = f"Invalid Singer message ({exc}): {line[:200]!r}"
                    raise InvalidInputLine(msg) from exc
                kind = envelope.type
                if kind == "RECORD":
                    records += 1
                    # The hot path: one call per record, no dict built.
                    if take_raw is not None and take_raw(
                        envelope.stream, envelope.record, envelope.version
                    ):
                        continue
                    message: dict = {
                        "type": "RECORD",
                        "stream": envelope.stream,
                        "record": envelope.record,
                        "version": envelope.version,
                        "time_extracted": envelope.time_extracted,
                    }
                else:
                    message = self.deserialize_json(line)
                    stats[kind] += 1
                if callback := callbacks.get(kind):
                    callback(message)
                else:
                    self._process_unknown_message(message)
        except BaseException as exc:
            for handler in self.on_failure:
                handler(exc)
            raise
        stats["RECORD"] = records
        return Counter(**stats)
