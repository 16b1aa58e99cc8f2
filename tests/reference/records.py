"""Pure-Python reference of :func:`tsdb.storage.wal.records_kernels.scan_segment` (WAL segment parsing)."""

from __future__ import annotations

from tests.reference.crc import crc32c_ref

# error codes, mirrored from the kernel module (the reference must not import the kernel's logic)
OK, EOF_HEADER, EOF_DATA, EOF_RECORD, CRC, TYPE, SEQUENCE, PADDING, PAGE = range(9)


def scan_segment_ref(data: bytes, page_size: int) -> tuple[list[tuple[int, bytes, bool]], int, int, int, bool]:
    """``(records as (offset, bytes, snappy flag of the last fragment), err, err_off, good_end, torn)`` of one
    segment's bytes."""
    out: list[tuple[int, bytes, bool]] = []
    pos, good_end, n = 0, 0, len(data)
    current: list[bytes] | None = None
    start = 0
    while pos < n:
        rem = page_size - pos % page_size
        if data[pos] == 0:
            end = min(pos + rem, n)
            if any(data[pos:end]):
                return out, PADDING, pos, good_end, False
            pos = end
            continue
        if pos + 7 > n:
            return out, EOF_HEADER, pos, good_end, True
        if rem < 7:
            return out, PAGE, pos, good_end, False
        kind, flags = data[pos] & 0x07, data[pos] & 0xF8
        if kind == 0 or kind > 4 or flags not in (0, 0x08):
            return out, TYPE, pos, good_end, False
        length = int.from_bytes(data[pos + 1:pos + 3], "big")
        crc = int.from_bytes(data[pos + 3:pos + 7], "big")
        if 7 + length > rem:
            return out, PAGE, pos, good_end, False
        if pos + 7 + length > n:
            return out, EOF_DATA, pos, good_end, True
        body = data[pos + 7:pos + 7 + length]
        if crc32c_ref(body) != crc:
            return out, CRC, pos, good_end, pos + 7 + length == n
        if (kind in (1, 2)) == (current is not None):
            if current is None and out and pos == good_end and pos % page_size == 0:
                # the previous record ended on a page boundary: probably a damaged FIRST/MIDDLE
                dropped_start = out.pop()[0]
                return out, SEQUENCE, dropped_start, dropped_start, False
            return out, SEQUENCE, pos, good_end, False
        if kind in (1, 2):
            current, start = [], pos
        assert current is not None
        current.append(body)
        pos += 7 + length
        if kind in (1, 4):
            out.append((start, b"".join(current), flags == 0x08))
            current = None
            good_end = pos
    if current is not None:
        return out, EOF_RECORD, start, good_end, True
    return out, OK, 0, good_end, False


# -- SAMPLES record payloads (Prometheus record.Samples) ------------------------------------------
SAMPLES_OK, SAMPLES_VARINT, SAMPLES_OVERFLOW, SAMPLES_VALUE = range(4)
_MASK = (1 << 64) - 1


def _wrap(x: int) -> int:
    """A Python int as the int64 with the same low 64 bits."""
    x &= _MASK
    return x - (1 << 64) if x >= 1 << 63 else x


def encode_samples_body_ref(refs: list[int], ts: list[int], value_bits: list[int]) -> bytes:
    """Per-sample part of a SAMPLES record: zigzag varint deltas from the first sample, value bits BE."""
    out = bytearray()
    for ref, t, bits in zip(refs, ts, value_bits, strict=True):
        for delta in (_wrap(ref - refs[0]), _wrap(t - ts[0])):
            u = ((delta << 1) ^ (delta >> 63)) & _MASK
            while u >= 0x80:
                out.append(u & 0x7F | 0x80)
                u >>= 7
            out.append(u)
        out += bits.to_bytes(8, "big")
    return bytes(out)


def decode_samples_body_ref(data: bytes, start: int) -> tuple[list[tuple[int, int, int]], int, int]:
    """``(samples as (ref delta, time delta, value bits), err, err_pos)`` of ``data[start:]``."""
    out: list[tuple[int, int, int]] = []
    pos = start
    while pos < len(data):
        sample_pos = pos
        deltas = []
        for _ in range(2):
            u, shift = 0, 0
            while True:
                if pos >= len(data):
                    return out, SAMPLES_VARINT, sample_pos
                b = data[pos]
                pos += 1
                if shift == 63 and b > 1:
                    return out, SAMPLES_OVERFLOW, sample_pos
                u |= (b & 0x7F) << shift
                if b < 0x80:
                    break
                shift += 7
            deltas.append(~(u >> 1) if u & 1 else u >> 1)
        if pos + 8 > len(data):
            return out, SAMPLES_VALUE, sample_pos
        out.append((deltas[0], deltas[1], int.from_bytes(data[pos:pos + 8], "big")))
        pos += 8
    return out, SAMPLES_OK, pos
