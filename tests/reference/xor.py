"""Pure-Python reference XOR chunk encoder/decoder (Prometheus ``chunkenc/xor.go``), bit by bit.

Obviously-correct rather than fast: a bit list writer and a bit-index reader over Python ints.
Values are handled as uint64 bit patterns (Python ints).
"""

from __future__ import annotations

import numpy as np

MASK64 = (1 << 64) - 1


class RefCorruptionError(Exception):
    """The reference decoder found a truncated or malformed chunk."""


class BitWriter:
    """A model of Prometheus's ``bstream`` writer: bytes plus ``count``, the free bits of the last byte.

    Like Go's, ``write_byte`` always appends a fresh byte after the one it fills, so a stream that ends
    on a byte boundary after whole-byte writes keeps an empty trailing byte (it is part of the chunk).
    """

    def __init__(self) -> None:
        self.stream = bytearray()
        self.count = 0

    def write_bit(self, bit: int) -> None:
        if self.count == 0:
            self.stream.append(0)
            self.count = 8
        if bit:
            self.stream[-1] |= 1 << (self.count - 1)
        self.count -= 1

    def write_byte(self, byte: int) -> None:
        if self.count == 0:
            self.stream.append(0)
            self.count = 8
        self.stream[-1] |= byte >> (8 - self.count)
        self.stream.append((byte << self.count) & 0xFF)

    def write(self, value: int, nbits: int) -> None:
        """Write the low ``nbits`` of ``value``, MSB first: whole bytes first, then single bits (as Go)."""
        bits = [(value >> k) & 1 for k in range(nbits - 1, -1, -1)]
        while len(bits) >= 8:
            self.write_byte(int("".join(map(str, bits[:8])), 2))
            bits = bits[8:]
        for bit in bits:
            self.write_bit(bit)

    def to_bytes(self) -> bytes:
        return bytes(self.stream)


class BitReader:
    """Read bits MSB-first from bytes; reading past the end raises RefCorruptionError."""

    def __init__(self, data: bytes, bitpos: int = 0) -> None:
        self.data = data
        self.pos = bitpos

    def read(self, nbits: int) -> int:
        if self.pos + nbits > 8 * len(self.data):
            raise RefCorruptionError("truncated")
        x = 0
        for _ in range(nbits):
            byte = self.data[self.pos >> 3]
            x = (x << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return x


def _uvarint(u: int) -> list[int]:
    out = []
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return out


def _clz(x: int) -> int:
    return 64 - x.bit_length()


def _ctz(x: int) -> int:
    return (x & -x).bit_length() - 1


def encode_ref(ts: list[int] | np.ndarray, vbits: list[int] | np.ndarray) -> bytes:
    """Encode samples (int ms, uint64 value bits) into one XOR chunk payload."""
    ts_l = [int(t) for t in ts]
    v_l = [int(v) for v in vbits]
    w = BitWriter()
    w.stream += len(ts_l).to_bytes(2, "big")  # the count header is stored, not streamed
    leading, trailing = 0xFF, 0
    t_prev = v_prev = tdelta = 0
    for i, (t, v) in enumerate(zip(ts_l, v_l, strict=True)):
        if i == 0:
            zig = ((t << 1) ^ (t >> 63)) & MASK64
            for b in _uvarint(zig):
                w.write(b, 8)
            w.write(v, 64)
        else:
            d = (t - t_prev) & MASK64
            if i == 1:
                for b in _uvarint(d):
                    w.write(b, 8)
            else:
                dod = (d - tdelta) & MASK64
                if dod >= 1 << 63:
                    dod -= 1 << 64
                if dod == 0:
                    w.write(0, 1)
                elif -(2**13 - 1) <= dod <= 2**13:
                    w.write(0b10, 2)
                    w.write(dod & 0x3FFF, 14)
                elif -(2**16 - 1) <= dod <= 2**16:
                    w.write(0b110, 3)
                    w.write(dod & 0x1FFFF, 17)
                elif -(2**19 - 1) <= dod <= 2**19:
                    w.write(0b1110, 4)
                    w.write(dod & 0xFFFFF, 20)
                else:
                    w.write(0b1111, 4)
                    w.write(dod & MASK64, 64)
            tdelta = d
            x = v ^ v_prev
            if x == 0:
                w.write(0, 1)
            else:
                w.write(1, 1)
                lz, tz = min(_clz(x), 31), _ctz(x)
                if leading != 0xFF and lz >= leading and tz >= trailing:
                    w.write(0, 1)
                    w.write(x >> trailing, 64 - leading - trailing)
                else:
                    leading, trailing = lz, tz
                    w.write(1, 1)
                    w.write(lz, 5)
                    w.write((64 - lz - tz) & 63, 6)
                    w.write(x >> tz, 64 - lz - tz)
        t_prev, v_prev = t, v
    return w.to_bytes()


def _read_uvarint(r: BitReader) -> int:
    x = shift = 0
    for k in range(10):
        b = r.read(8)
        if b < 0x80:
            if k == 9 and b > 1:
                raise RefCorruptionError("varint overflow")
            return x | (b << shift)
        x |= (b & 0x7F) << shift
        shift += 7
    raise RefCorruptionError("varint overflow")


def decode_ref(data: bytes) -> tuple[list[int], list[int]]:
    """Decode one chunk payload into (timestamps, uint64 value bits); RefCorruptionError when malformed."""
    r = BitReader(data)
    n = r.read(16)
    ts: list[int] = []
    vs: list[int] = []
    t = v = tdelta = leading = trailing = 0
    for i in range(n):
        if i == 0:
            zig = _read_uvarint(r)
            t = (zig >> 1) ^ -(zig & 1)
            v = r.read(64)
        else:
            if i == 1:
                tdelta = _read_uvarint(r)
            else:
                prefix = 0
                for _ in range(4):
                    bit = r.read(1)
                    prefix = (prefix << 1) | bit
                    if bit == 0:
                        break
                sizes = {0b0: 0, 0b10: 14, 0b110: 17, 0b1110: 20, 0b1111: 64}
                sz = sizes[prefix]
                dod = r.read(sz) if sz else 0
                if sz and sz < 64 and dod > 1 << (sz - 1):
                    dod -= 1 << sz
                tdelta = (tdelta + dod) & MASK64
            t = t + tdelta
            t = ((t + 2**63) & MASK64) - 2**63
            if r.read(1):
                if r.read(1):
                    leading = r.read(5)
                    mbits = r.read(6) or 64
                    trailing = 64 - leading - mbits
                    if trailing < 0:
                        raise RefCorruptionError("bad width")
                v ^= r.read(64 - leading - trailing) << trailing
        ts.append(t)
        vs.append(v)
    return ts, vs
