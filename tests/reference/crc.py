"""Pure-Python reference CRC32-Castagnoli: bit at a time, obviously correct."""

from __future__ import annotations


def crc32c_ref(data: bytes, crc: int = 0) -> int:
    """CRC32-Castagnoli of ``data`` continuing from the finished checksum ``crc``."""
    c = crc ^ 0xFFFFFFFF
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF
