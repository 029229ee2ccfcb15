"""A Singer message reader that leaves RECORD payloads as raw JSON text.

Parsing every record into Python dicts is the slowest part of a Python target. Three paths,
fastest first:

1. A RECORD line in singer-sdk's own layout (`{"type":"RECORD","stream":"s","record":...`) is
   recognised by its prefix and handed to the target whole, unparsed.
2. Any other RECORD line: only its envelope (type, stream, version) is decoded; the record
   stays a `msgspec.Raw` slice of the line.
3. The target decodes the record for singer-sdk's standard per-record path when a stream
   needs it (stream maps, flattening, validation).

Batches of 1 and 2 are parsed later by Arrow in one call. Every other message is decoded in
full, floats as floats.
"""

from __future__ import annotations

import io
import sys
import typing as t
from collections import Counter, defaultdict

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from typing_extensions import override


class _Envelope(msgspec.Struct):
    type: str
    stream: str | None = None
    record: msgspec.Raw = msgspec.Raw(b"null")
    version: int | None = None
    time_extracted: t.Any = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_RECORD_HEAD = b'{"type":"RECORD","stream":"'
_RECORD_KEY = b'","record":'
_HEAD_LENGTH = len(_RECORD_HEAD)
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
        self.record_line_handler: t.Callable[[bytes, bytes], bool] | None = None
        """Takes `(JSON-escaped stream name, whole line)` of a RECORD line in singer-sdk's
        layout (`{"type":"RECORD","stream":"...","record":...`); False to parse it instead."""

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
        take_line = None if isinstance(stream_in, io.TextIOBase) else self.record_line_handler
        try:
            for line in stream_in:
                # The hottest path: a RECORD line in singer-sdk's own layout is recognised by
                # its prefix and handed on whole, with no JSON parsing in Python at all.
                if take_line is not None and line.startswith(_RECORD_HEAD):
                    end = line.find(_RECORD_KEY, _HEAD_LENGTH)
                    if end > 0 and take_line(line[_HEAD_LENGTH:end], line):
                        records += 1
                        continue
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
