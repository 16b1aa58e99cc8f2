"""Reading a whole HTTP body within a size limit.

Every endpoint that takes a body reads it with :func:`read_body`, and every client that must bound what
it receives (scrapes) with :func:`read_stream`: a single ``read(n)`` returns only what the network has
delivered so far, so a large body would be cut short. The body is streamed into one buffer (pre-sized
from ``Content-Length`` when that is the length of the stream), checked against the limit while it
arrives, and either returned whole or refused with an error that maps to an HTTP status.
"""

from __future__ import annotations

import asyncio

from aiohttp import StreamReader, web
from aiohttp.http_exceptions import HttpProcessingError

from tsdb.errors import InvalidArgumentError, TsdbError


class BodyTooLargeError(TsdbError, ValueError):
    """The request body is larger than the endpoint accepts (HTTP 413)."""


class IncompleteBodyError(InvalidArgumentError):
    """The body ended before its declared length, or the client went away while sending (HTTP 400)."""


async def read_body(request: web.Request, max_bytes: int) -> bytearray:
    """The complete body of ``request``; at most ``max_bytes`` bytes.

    Raises :class:`BodyTooLargeError` as soon as the declared or received size passes ``max_bytes`` and
    :class:`IncompleteBodyError` when the stream ends early or breaks. Nothing partial is ever returned.
    """
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise BodyTooLargeError(f"request body of {declared} bytes is larger than the limit of {max_bytes} bytes")
    if request.headers.get("Content-Encoding", "").lower() in _DECODED_BY_AIOHTTP:
        declared = None  # aiohttp inflates these: the stream is longer than Content-Length
    return await read_stream(request.content, max_bytes, declared)


async def read_stream(stream: StreamReader, max_bytes: int, length: int | None = None) -> bytearray:
    """Everything ``stream`` delivers until its end; exactly ``length`` bytes when given.

    Raises as :func:`read_body` does.
    """
    try:
        if length is not None:
            return await _read_declared(stream, length)
        return await _read_chunked(stream, max_bytes)
    except (HttpProcessingError, ConnectionError, asyncio.IncompleteReadError) as err:
        raise IncompleteBodyError(f"body incomplete: {err}") from err


_DECODED_BY_AIOHTTP = frozenset({"gzip", "deflate", "br", "zstd"})


async def _read_declared(stream: StreamReader, length: int) -> bytearray:
    """Fill a buffer of exactly ``length`` bytes from the stream."""
    buf = bytearray(length)
    view = memoryview(buf)
    pos = 0
    while pos < length:
        chunk = await stream.readany()
        if not chunk:
            raise IncompleteBodyError(f"body ended after {pos} of {length} bytes (Content-Length)")
        end = pos + len(chunk)
        if end > length:  # the HTTP parser never delivers past Content-Length; refuse rather than overrun
            raise IncompleteBodyError(f"body longer than its Content-Length of {length} bytes")
        view[pos:end] = chunk
        pos = end
    view.release()
    return buf


async def _read_chunked(stream: StreamReader, max_bytes: int) -> bytearray:
    """Accumulate a body of unknown length (chunked transfer encoding), refusing it past ``max_bytes``."""
    buf = bytearray()
    while True:
        chunk = await stream.readany()
        if not chunk:
            return buf
        if len(buf) + len(chunk) > max_bytes:
            raise BodyTooLargeError(f"body is larger than the limit of {max_bytes} bytes")
        buf += chunk
