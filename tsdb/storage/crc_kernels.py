"""CRC32-Castagnoli numba kernel (slicing-by-8).

The tables are built once at import in numpy; the kernel processes 8 bytes per step using eight
256-entry lookup tables (the classic slicing-by-8 scheme), then finishes byte by byte.
"""

from __future__ import annotations

import numpy as np

from tsdb._numba import njit

CASTAGNOLI_POLY_REFLECTED = 0x82F63B78


def _make_tables() -> np.ndarray:
    """Eight 256-entry uint32 tables for reflected CRC32-Castagnoli slicing-by-8."""
    tables = np.zeros((8, 256), dtype=np.uint32)
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ CASTAGNOLI_POLY_REFLECTED if crc & 1 else crc >> 1
        tables[0, i] = crc
    for i in range(256):
        crc = int(tables[0, i])
        for k in range(1, 8):
            crc = (crc >> 8) ^ int(tables[0, crc & 0xFF])
            tables[k, i] = crc
    return tables


CRC32C_TABLES = _make_tables()


@njit
def crc32c_update(tables: np.ndarray, data: np.ndarray, crc: np.uint32) -> np.uint32:
    """Continue a CRC32-Castagnoli over ``data`` (uint8[]) from the finalised value ``crc``.

    ``crc`` is a finished CRC (as returned by a previous call, 0 to start); the result is finished too.
    """
    c = np.uint32(crc) ^ np.uint32(0xFFFFFFFF)
    n = data.shape[0]
    i = 0
    while i + 8 <= n:
        lo = (np.uint32(data[i]) | (np.uint32(data[i + 1]) << np.uint32(8))
              | (np.uint32(data[i + 2]) << np.uint32(16)) | (np.uint32(data[i + 3]) << np.uint32(24))) ^ c
        c = (tables[7, lo & np.uint32(0xFF)] ^ tables[6, (lo >> np.uint32(8)) & np.uint32(0xFF)]
             ^ tables[5, (lo >> np.uint32(16)) & np.uint32(0xFF)] ^ tables[4, lo >> np.uint32(24)]
             ^ tables[3, data[i + 4]] ^ tables[2, data[i + 5]]
             ^ tables[1, data[i + 6]] ^ tables[0, data[i + 7]])
        i += 8
    while i < n:
        c = tables[0, (c ^ np.uint32(data[i])) & np.uint32(0xFF)] ^ (c >> np.uint32(8))
        i += 1
    return c ^ np.uint32(0xFFFFFFFF)


@njit
def crc32c_many(tables: np.ndarray, data: np.ndarray, offsets: np.ndarray, out: np.ndarray) -> None:
    """Write into ``out[i]`` the CRC32-Castagnoli of ``data[offsets[i]:offsets[i+1]]`` for every i."""
    for k in range(offsets.shape[0] - 1):
        out[k] = crc32c_update(tables, data[offsets[k]:offsets[k + 1]], np.uint32(0))
