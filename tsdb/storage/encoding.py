"""Go's ``encoding/binary`` varints as Prometheus's files and records use them: uvarint, zig-zag varint.

Scalar helpers (:func:`put_uvarint`, :func:`read_uvarint`, ...) for the few per record or section, and
numpy ones (:func:`zigzag`, :func:`encode_uvarints`) for whole columns. The numba kernels (WAL records,
XOR chunks) carry their own inlined copies; everything else uses these.
"""

from __future__ import annotations

import mmap

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

__all__ = ["encode_uvarints", "put_uvarint", "put_varint", "read_uvarint", "read_varint", "zigzag"]


def put_uvarint(out: bytearray, value: int) -> None:
    """Append ``value`` (0 <= value < 2**64) as a uvarint."""
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def put_varint(out: bytearray, value: int) -> None:
    """Append a signed int64 as a zig-zag varint."""
    put_uvarint(out, ((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF)


def read_uvarint(buf: bytes | memoryview | mmap.mmap, pos: int, end: int) -> tuple[int, int]:
    """Decode a uvarint at ``buf[pos]``; return (value, next position). ``ValueError`` if truncated."""
    value = shift = 0
    while pos < end:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if shift >= 63 and value >= 1 << 64:
                raise ValueError("uvarint overflows 64 bits")
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("uvarint longer than 10 bytes")
    raise ValueError("truncated uvarint")


def read_varint(buf: bytes | memoryview | mmap.mmap, pos: int, end: int) -> tuple[int, int]:
    """Decode a zig-zag varint (int64) at ``buf[pos]``; return (value, next position)."""
    u, pos = read_uvarint(buf, pos, end)
    return (u >> 1) ^ -(u & 1), pos


def zigzag(values: I64) -> U64:
    """Zig-zag map of int64 values onto uint64 (as Go's PutVarint)."""
    v = np.asarray(values, dtype=np.int64)
    return ((v << np.int64(1)) ^ (v >> np.int64(63))).view(np.uint64)


def encode_uvarints(values: U64, starts: I64) -> tuple[npt.NDArray[np.uint8], I64]:
    """Uvarint-encode ``values``; return the bytes and the byte offset of each group ``starts[i]:starts[i+1]``."""
    v = np.asarray(values, dtype=np.uint64)
    sizes = np.ones(v.shape[0], dtype=np.int64)
    for k in range(1, 10):
        sizes += v >= np.uint64(1 << (7 * k))
    pos = np.zeros(v.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=pos[1:])
    out = np.zeros(int(pos[-1]), dtype=np.uint8)
    for k in range(int(sizes.max()) if v.shape[0] else 0):
        m = sizes > k
        byte = (v[m] >> np.uint64(7 * k)) & np.uint64(0x7F)
        byte |= np.where(sizes[m] > k + 1, np.uint64(0x80), np.uint64(0))
        out[pos[:-1][m] + k] = byte.astype(np.uint8)
    return out, pos[starts]
