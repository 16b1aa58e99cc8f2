"""numba kernels of the WAL: parsing a segment into records, and SAMPLES record payloads to and from arrays.

The segment format is specified in ``docs/format/wal.md`` (pages of ``page_size`` bytes holding fragments
``type:u8 | length:u16 BE | crc32c:u32 BE | data``; a 0 type byte pads the rest of the page with zeros).
The kernel walks the whole segment once and reports where every fragment's data lies, which fragments
form which record, which records are snappy-compressed (flag bit ``0x08`` of the type byte, as Prometheus
writes it) and the first error (if any) with enough detail for the caller to tell a torn tail (the
segment simply ends too early) from corruption.
"""

from __future__ import annotations

import numpy as np

from tsdb._numba import njit
from tsdb.storage.crc_kernels import crc32c_update

HEADER_SIZE = 7

FRAG_PAD = 0
FRAG_FULL = 1
FRAG_FIRST = 2
FRAG_MIDDLE = 3
FRAG_LAST = 4
TYPE_MASK = 0x07
SNAPPY_FLAG = 0x08
"""Set in the type byte of every fragment of a record whose data is snappy-compressed (block format)."""

# Error codes returned by scan_segment (0 = the whole segment parsed cleanly).
ERR_NONE = 0
ERR_EOF_HEADER = 1  # the segment ends inside a fragment header
ERR_EOF_DATA = 2  # the segment ends inside a fragment's data
ERR_EOF_RECORD = 3  # the segment ends after a FIRST/MIDDLE fragment
ERR_CRC = 4  # a fragment's checksum does not match its data
ERR_TYPE = 5  # unknown fragment type or flag bits other than snappy set (e.g. zstd)
ERR_SEQUENCE = 6  # fragment types out of order (MIDDLE without FIRST, FULL inside a record, ...)
ERR_PADDING = 7  # page padding holds non-zero bytes
ERR_PAGE = 8  # a fragment crosses a page boundary
ERR_CODEC = 9  # a record flagged as snappy-compressed does not decompress (found when read, not by the kernel)

ERROR_NAMES = ("ok", "segment ends inside a fragment header", "segment ends inside fragment data",
               "segment ends inside a multi-fragment record", "checksum mismatch",
               "unknown fragment type or unsupported compression flags", "fragment types out of order",
               "non-zero bytes in page padding", "fragment crosses a page boundary",
               "record flagged as snappy-compressed does not decompress")


@njit
def _grow(arr: np.ndarray, n: int) -> np.ndarray:
    if n < arr.shape[0]:
        return arr
    out = np.empty(arr.shape[0] * 2, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@njit
def scan_segment(buf: np.ndarray, page_size: int, tables: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int, int, bool]:
    """Parse the segment bytes ``buf`` (uint8[]).

    Returns ``(frag_start, frag_len, rec_end, rec_off, rec_snappy, err, err_off, good_end, torn)``:
    record ``r`` is the concatenation of the data of fragments ``rec_end[r-1]:rec_end[r]`` (``rec_end[-1]``
    taken as 0), each being ``buf[frag_start[f]:frag_start[f]+frag_len[f]]``; ``rec_off[r]`` is the byte
    offset of the record's first fragment header; ``rec_snappy[r]`` is 1 when its last fragment carries
    the snappy flag (the record's bytes are then snappy-compressed, as Prometheus's reader decides).
    ``err`` is an ``ERR_*`` code for the first problem found (parsing stops there), ``err_off`` the offset
    of the offending fragment (or the broken record's start for ``ERR_EOF_RECORD``), ``good_end`` the offset
    just past the last complete record, and ``torn`` is True when the problem is the segment ending early
    (a write cut short), i.e. nothing but the broken record lies between ``good_end`` and the end of ``buf``.
    """
    n = buf.shape[0]
    cap = 64
    frag_start = np.empty(cap, dtype=np.int64)
    frag_len = np.empty(cap, dtype=np.int64)
    rec_end = np.empty(cap, dtype=np.int64)
    rec_off = np.empty(cap, dtype=np.int64)
    rec_snappy = np.empty(cap, dtype=np.uint8)
    nf = 0
    nr = 0
    pos = 0
    in_rec = False
    rec_start = 0
    good_end = 0
    err = ERR_NONE
    err_off = 0
    torn = False
    while pos < n:
        page_rem = page_size - pos % page_size
        head = buf[pos]
        if head == FRAG_PAD:
            end = min(pos + page_rem, n)
            bad = False
            for k in range(pos + 1, end):
                if buf[k] != 0:
                    bad = True
                    break
            if bad:
                err = ERR_PADDING
                err_off = pos
                break
            pos = end
            continue
        if pos + HEADER_SIZE > n:
            err = ERR_EOF_HEADER
            err_off = pos
            torn = True
            break
        if page_rem < HEADER_SIZE:
            err = ERR_PAGE
            err_off = pos
            break
        t = head & TYPE_MASK
        flags = head & 0xF8
        if t == FRAG_PAD or t > FRAG_LAST or (flags != 0 and flags != SNAPPY_FLAG):
            err = ERR_TYPE
            err_off = pos
            break
        length = int((np.int64(buf[pos + 1]) << 8) | np.int64(buf[pos + 2]))
        want = ((np.uint32(buf[pos + 3]) << np.uint32(24)) | (np.uint32(buf[pos + 4]) << np.uint32(16))
                | (np.uint32(buf[pos + 5]) << np.uint32(8)) | np.uint32(buf[pos + 6]))
        start = pos + HEADER_SIZE
        end = start + length
        if HEADER_SIZE + length > page_rem:
            # checked before the end of data: a bogus length is corruption, not a torn write
            err = ERR_PAGE
            err_off = pos
            break
        if end > n:
            err = ERR_EOF_DATA
            err_off = pos
            torn = True
            break
        if crc32c_update(tables, buf[start:end], np.uint32(0)) != want:
            err = ERR_CRC
            err_off = pos
            torn = end == n
            break
        if (t in (FRAG_FULL, FRAG_FIRST)) == in_rec:
            err = ERR_SEQUENCE
            err_off = pos
            if not in_rec and nr > 0 and pos == good_end and pos % page_size == 0:
                # A MIDDLE/LAST right after a record that ended on a page boundary: that record is
                # most likely a FIRST/MIDDLE whose type byte was damaged (the CRC covers data only).
                # Do not return it as a complete record.
                nr -= 1
                good_end = rec_off[nr]
                err_off = good_end
            break
        frag_start = _grow(frag_start, nf)
        frag_len = _grow(frag_len, nf)
        frag_start[nf] = start
        frag_len[nf] = length
        nf += 1
        if t in (FRAG_FULL, FRAG_FIRST):
            rec_start = pos
            in_rec = True
        if t in (FRAG_FULL, FRAG_LAST):
            rec_end = _grow(rec_end, nr)
            rec_off = _grow(rec_off, nr)
            rec_snappy = _grow(rec_snappy, nr)
            rec_end[nr] = nf
            rec_off[nr] = rec_start
            rec_snappy[nr] = 1 if head & SNAPPY_FLAG else 0
            nr += 1
            in_rec = False
            good_end = end
        pos = end
    if err == ERR_NONE and in_rec:
        err = ERR_EOF_RECORD
        err_off = rec_start
        torn = True
    if err != ERR_NONE:
        # fragments of a broken record are not part of any complete record: drop them
        nf = int(rec_end[nr - 1]) if nr > 0 else 0
    return (frag_start[:nf], frag_len[:nf], rec_end[:nr], rec_off[:nr], rec_snappy[:nr], err, err_off, good_end,
            torn)


# -- SAMPLES record payloads (Prometheus's record.Samples encoding) ---------------------------------
# Error codes of decode_samples_body (0 = the body decoded cleanly).
SAMPLES_OK = 0
SAMPLES_ERR_VARINT = 1  # a varint runs past the end of the record
SAMPLES_ERR_OVERFLOW = 2  # a varint is longer than 10 bytes or overflows 64 bits
SAMPLES_ERR_VALUE = 3  # the record ends inside a sample's 8-byte value

SAMPLES_ERROR_NAMES = ("ok", "varint runs past the end of the record", "varint overflows 64 bits",
                       "record ends inside a sample value")


@njit
def _read_uvarint(buf: np.ndarray, pos: int, end: int) -> tuple[np.uint64, int, int]:
    """Read a uvarint at ``pos`` (not past ``end``); returns ``(value, new pos, error code)``."""
    result = np.uint64(0)
    shift = 0
    while True:
        if pos >= end:
            return np.uint64(0), pos, SAMPLES_ERR_VARINT
        b = buf[pos]
        pos += 1
        if shift == 63 and b > 1:
            return np.uint64(0), pos, SAMPLES_ERR_OVERFLOW
        result |= np.uint64(b & 0x7F) << np.uint64(shift)
        if b < 0x80:
            return result, pos, SAMPLES_OK
        shift += 7
        if shift > 63:
            return np.uint64(0), pos, SAMPLES_ERR_OVERFLOW


@njit
def decode_samples_body(buf: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Decode the per-sample part of a SAMPLES record: ``buf[start:]`` (uint8[]) holds, per sample,
    ``zigzag varint ref delta | zigzag varint time delta | value bits u64 BE``.

    Returns ``(ref_deltas int64[], time_deltas int64[], value_bits uint64[], err, err_pos)``; on an error
    (``SAMPLES_ERR_*``) the arrays hold the samples decoded before it and ``err_pos`` is the offset in ``buf``
    of the broken sample. Allocation is bounded by the input: a sample takes at least 10 bytes.
    """
    end = buf.shape[0]
    cap = max(0, (end - start) // 10)
    drefs = np.empty(cap, dtype=np.int64)
    dts = np.empty(cap, dtype=np.int64)
    vals = np.empty(cap, dtype=np.uint64)
    pos = start
    n = 0
    while pos < end:
        sample_pos = pos
        if buf[pos] < 0x80:  # fast path: one-byte varints are the common case (small deltas)
            u = np.uint64(buf[pos])
            pos += 1
        else:
            u, pos, err = _read_uvarint(buf, pos, end)
            if err != SAMPLES_OK:
                return drefs[:n], dts[:n], vals[:n], err, sample_pos
        dref = np.int64(u >> np.uint64(1))
        if u & np.uint64(1):
            dref = ~dref
        if pos < end and buf[pos] < 0x80:
            u = np.uint64(buf[pos])
            pos += 1
        else:
            u, pos, err = _read_uvarint(buf, pos, end)
            if err != SAMPLES_OK:
                return drefs[:n], dts[:n], vals[:n], err, sample_pos
        dt = np.int64(u >> np.uint64(1))
        if u & np.uint64(1):
            dt = ~dt
        if pos + 8 > end:
            return drefs[:n], dts[:n], vals[:n], SAMPLES_ERR_VALUE, sample_pos
        v = np.uint64(0)
        for k in range(8):
            v = (v << np.uint64(8)) | np.uint64(buf[pos + k])
        pos += 8
        # n < cap holds: every decoded sample consumed at least 10 bytes
        drefs[n] = dref
        dts[n] = dt
        vals[n] = v
        n += 1
    return drefs[:n], dts[:n], vals[:n], SAMPLES_OK, pos


@njit
def _put_uvarint(out: np.ndarray, pos: int, value: np.uint64) -> int:
    while value >= np.uint64(0x80):
        out[pos] = np.uint8((value & np.uint64(0x7F)) | np.uint64(0x80))
        value >>= np.uint64(7)
        pos += 1
    out[pos] = np.uint8(value)
    return pos + 1


@njit
def encode_samples_body(zz_refs: np.ndarray, zz_ts: np.ndarray, value_bits: np.ndarray,
                        out: np.ndarray, start: int) -> int:
    """Write the per-sample part of a SAMPLES record into ``out[start:]``; returns the end offset.

    ``zz_refs``/``zz_ts`` (uint64[]) are the zigzag-encoded deltas from the first sample, ``value_bits``
    (uint64[]) the raw float64 bits. ``out`` must have room for ``28`` bytes per sample after ``start``.
    """
    pos = start
    for i in range(zz_refs.shape[0]):
        pos = _put_uvarint(out, pos, zz_refs[i])
        pos = _put_uvarint(out, pos, zz_ts[i])
        v = value_bits[i]
        for k in range(8):
            out[pos + k] = np.uint8((v >> np.uint64(56 - 8 * k)) & np.uint64(0xFF))
        pos += 8
    return pos
