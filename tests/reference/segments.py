"""Pure-Python reference for tsdb.storage.chunks.segment_kernels: read one chunk record at a time."""

from __future__ import annotations

from tests.reference.crc import crc32c_ref


def ref_read_record(segment: bytes, offset: int, header_size: int) -> tuple[int, bytes] | str:
    """``(encoding, data)`` of the record at ``offset``, or why it cannot be read:
    ``outside``, ``bad length``, ``past end`` or ``checksum``."""
    if offset < header_size or offset >= len(segment):
        return "outside"
    length = shift = 0
    pos = offset
    while True:
        if pos >= len(segment) or pos >= offset + 5:
            return "bad length"
        byte = segment[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    if pos + 1 + length + 4 > len(segment):
        return "past end"
    body = segment[pos:pos + 1 + length]
    if crc32c_ref(body) != int.from_bytes(segment[pos + 1 + length:pos + 5 + length], "big"):
        return "checksum"
    return body[0], body[1:]
