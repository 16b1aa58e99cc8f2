"""CRC32-Castagnoli (the checksum of Prometheus's WAL records, chunk files and index sections).

``crc32c(data, crc=0)`` returns the finished checksum as a Python int; pass a previous result as
``crc`` to continue over a further piece (``crc32c(b, crc32c(a)) == crc32c(a + b)``).
"""

from __future__ import annotations

import numpy as np

from tsdb.storage.crc_kernels import CRC32C_TABLES, crc32c_many, crc32c_update

__all__ = ["crc32c", "crc32c_batch"]


def _as_u8(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    if isinstance(data, np.ndarray):
        arr = data if data.dtype == np.uint8 else data.view(np.uint8)
        return np.ascontiguousarray(arr.reshape(-1))
    return np.frombuffer(data, dtype=np.uint8)


def crc32c(data: bytes | bytearray | memoryview | np.ndarray, crc: int = 0) -> int:
    """CRC32-Castagnoli of ``data`` (bytes-like or a numpy array viewed as bytes), continuing from ``crc``."""
    return int(crc32c_update(CRC32C_TABLES, _as_u8(data), np.uint32(crc & 0xFFFFFFFF)))


def crc32c_batch(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """CRC32-Castagnoli of every piece ``data[offsets[i]:offsets[i+1]]``, as uint32[len(offsets)-1]."""
    offs = np.ascontiguousarray(offsets, dtype=np.int64)
    out = np.zeros(max(offs.shape[0] - 1, 0), dtype=np.uint32)
    crc32c_many(CRC32C_TABLES, _as_u8(data), offs, out)
    return out
