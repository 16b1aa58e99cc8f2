"""Stream frames of remote-read's ``STREAMED_XOR_CHUNKS`` answer, written and read in one place.

A frame is ``uvarint(len(message)) | big-endian CRC32-Castagnoli(message) | message`` (Prometheus's
``ChunkedWriter``/``ChunkedReader``). The server writes them with :func:`frame`, the client splits an
answer with :func:`split_frames`.
"""

from __future__ import annotations

from collections.abc import Iterator

from tsdb.errors import CorruptionError
from tsdb.storage.crc import crc32c

MAX_FRAME_BYTES = 50 << 20
"""Largest message a reader accepts in one frame (Prometheus's default chunked-read limit)."""


def frame(message: bytes) -> bytes:
    """One stream frame: uvarint length, big-endian CRC32-Castagnoli of ``message``, ``message``."""
    size, header = len(message), bytearray()
    while size >= 0x80:
        header.append((size & 0x7F) | 0x80)
        size >>= 7
    header.append(size)
    return bytes(header) + crc32c(message).to_bytes(4, "big") + message


def split_frames(body: bytes, max_frame_bytes: int = MAX_FRAME_BYTES, source: str = "stream") -> Iterator[bytes]:
    """The messages of the frames in ``body``, in order; :class:`CorruptionError` naming ``source`` and the
    byte offset for a truncated frame, a frame past ``max_frame_bytes`` or a CRC mismatch."""
    pos, end = 0, len(body)
    while pos < end:
        start = pos
        size = shift = 0
        while True:
            if pos >= end or shift > 63:
                raise CorruptionError("truncated frame length", source, start)
            byte = body[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        if size > max_frame_bytes:
            raise CorruptionError(f"frame of {size} bytes is larger than the limit of {max_frame_bytes}",
                                  source, start)
        if pos + 4 + size > end:
            raise CorruptionError("truncated frame", source, start)
        crc = int.from_bytes(body[pos:pos + 4], "big")
        message = bytes(body[pos + 4:pos + 4 + size])
        if crc32c(message) != crc:
            raise CorruptionError("frame CRC32C mismatch", source, start)
        yield message
        pos += 4 + size
