"""Read a response body within a size cap and a whole-request deadline (streamed).

`request_timeout` bounds each socket read, not a request: a body that drips a byte a second
never times out, and `response.content` buffers whatever size the server sends (a gzip bomb
decompresses into it). `read_body` reads the raw stream in small pieces, counts the
*decompressed* bytes (urllib3 2.6+ decompresses at most one piece per read), and stops:

- past `max_bytes` (`ResponseTooLarge`, never buffering more than one piece past the cap);
- at the deadline (`DeadlineExceeded`): each socket wait is shortened to the time left.

Both are final (not retried): the same server would send the same body again.
"""

from __future__ import annotations

import contextlib
import time

import requests
import urllib3.exceptions

from tap_equipme.errors import EquipmeError

CHUNK_BYTES = 64 * 1024


class ResponseTooLarge(EquipmeError):
    """A response body exceeded `max_response_bytes`."""


class DeadlineExceeded(EquipmeError):
    """A request took longer than `request_deadline` in all."""


class BodyTransportError(Exception):
    """The connection broke while the body was read (truncated, reset, bad compression)."""


def read_body(
    response: requests.Response, *, max_bytes: int, deadline: float, deadline_s: float, what: str
) -> bytes:
    """Read a streamed (`stream=True`) response's body, decompressed, within the limits.

    Args:
        response: The response (its body not read yet).
        max_bytes: Most decompressed bytes accepted.
        deadline: `time.monotonic()` value by which the whole request must be done.
        deadline_s: The `request_deadline` setting (for messages).
        what: The request, for messages (`GET /v1/...`; no query, no key).

    Returns:
        The decompressed body.

    Raises:
        ResponseTooLarge: Past `max_bytes`.
        DeadlineExceeded: Past the deadline.
        BodyTransportError: If the connection failed mid-body (worth a retry).
    """
    declared = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    if declared.isdigit() and int(declared) > max_bytes and not encoded:
        response.close()
        raise ResponseTooLarge(_too_large(what, max_bytes, f"announced {int(declared):,} bytes"))
    raw = response.raw
    pieces: list[bytes] = []
    size = 0
    ok = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeadlineExceeded(_too_slow(what, size, deadline_s))
            _shorten_socket_wait(raw, left)
            try:
                piece = raw.read1(CHUNK_BYTES, decode_content=True)
            except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
                if deadline - time.monotonic() <= 0.01:
                    raise DeadlineExceeded(_too_slow(what, size, deadline_s)) from None
                raise BodyTransportError(f"read timed out ({type(exc).__name__})") from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise BodyTransportError(type(exc).__name__) from None
            if not piece:
                break
            size += len(piece)
            if size > max_bytes:
                raise ResponseTooLarge(_too_large(what, max_bytes, "sent more"))
            pieces.append(piece)
        ok = True
    finally:
        if ok:
            raw.release_conn()  # read to the end: the connection goes back to the pool
        else:
            response.close()  # abandoned mid-body: drop the connection
    return b"".join(pieces)


def _shorten_socket_wait(raw: urllib3.BaseHTTPResponse, left: float) -> None:
    """Make the next socket wait end by the deadline (never longer than it already is)."""
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError):
        current = sock.gettimeout()
        if current is None or current > left:
            sock.settimeout(max(left, 0.001))


def _too_large(what: str, max_bytes: int, detail: str) -> str:
    return (
        f"{what}: the response body is larger than `max_response_bytes` ({max_bytes:,} bytes, "
        f"counted after decompression; the API {detail}). Stopped reading it. Raise "
        "`max_response_bytes` if the API really sends pages that big (a smaller `page_size` "
        "also shrinks list pages)."
    )


def _too_slow(what: str, size: int, deadline_s: float) -> str:
    return (
        f"{what}: the response did not complete within `request_deadline` ({deadline_s:g} s; "
        f"{size:,} bytes read by then); the API is sending it too slowly or stalled. Raise "
        "`request_deadline` if the API is just slow."
    )
