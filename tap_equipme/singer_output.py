"""A fast Singer message writer: msgspec encoding, buffered RECORD lines.

singer-sdk's default writer turns every message into a dict with `dataclasses.asdict` (a
deep copy of each record) and encodes it with the standard `json` module; its msgspec writer
still flushes stdout after every message. This writer encodes RECORD messages straight from
their fields in singer-sdk's own layout (`{"type":"RECORD","stream":...,"record":...}`, which
`target-duckdb-lake` reads without parsing) and flushes stdout only after non-RECORD messages
(SCHEMA, STATE, ACTIVATE_VERSION), so a STATE line never waits in a buffer.
"""

from __future__ import annotations

import datetime
import sys
import typing as t

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage
from typing_extensions import override


def _encode_extra(obj: t.Any) -> t.Any:
    return obj.isoformat(sep="T") if isinstance(obj, datetime.datetime) else str(obj)


_ENCODER = msgspec.json.Encoder(enc_hook=_encode_extra, decimal_format="number")


class FastSingerWriter(GenericSingerWriter[bytes, Message]):
    """Writes Singer messages to stdout as compact JSON lines (msgspec)."""

    def __init__(self) -> None:
        """Initialize the writer."""
        super().__init__()
        self._buffer = bytearray(256)

    @override
    def serialize_message(self, message: Message) -> bytes:
        if type(message) is RecordMessage:
            payload: dict[str, t.Any] = {
                "type": "RECORD",
                "stream": message.stream,
                "record": message.record,
            }
            if message.version is not None:
                payload["version"] = message.version
            if message.time_extracted is not None:
                payload["time_extracted"] = message.time_extracted
        else:
            payload = message.to_dict()
        _ENCODER.encode_into(payload, self._buffer)
        self._buffer.extend(b"\n")
        return bytes(self._buffer)

    @override
    def write_message(self, message: Message) -> None:
        line = self.format_message(message)
        out = getattr(sys.stdout, "buffer", None)
        if out is None:  # stdout replaced by a text stream (e.g. captured in tests)
            sys.stdout.write(line.decode())
            return
        out.write(line)
        if type(message) is not RecordMessage:
            out.flush()
