"""numba kernels decoding a remote-write 1.0 ``WriteRequest`` (protobuf wire format) into arrays.

The decoder walks the wire format once to count and validate, then once to fill preallocated arrays,
so a request becomes columnar arrays without a Python loop per sample. Unknown fields are skipped as
protobuf requires. On malformed input the kernels return a negative error code and the byte offset.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsdb._numba import njit

OK = 0
ERR_TRUNCATED = -1
ERR_VARINT = -2
ERR_WIRE_TYPE = -3
ERR_LENGTH = -4
ERR_FIELD = -5

WIRE_VARINT = 0
WIRE_I64 = 1
WIRE_LEN = 2
WIRE_I32 = 5


@njit
def read_varint(buf: np.ndarray, pos: int, end: int) -> tuple[Any, int]:
    """Decode a base-128 varint at ``pos``; returns (value as uint64 bits in int64, new pos) or (0, -1)."""
    result = np.uint64(0)
    shift = 0
    while pos < end:
        b = buf[pos]
        pos += 1
        if shift == 63 and b > 1:
            return 0, -1
        result |= np.uint64(b & 0x7F) << np.uint64(shift)
        if b < 0x80:
            return np.int64(result), pos
        shift += 7
        if shift > 63:
            return 0, -1
    return 0, -1


@njit
def skip_field(buf: np.ndarray, pos: int, end: int, wire: int) -> int:
    """Skip one field's payload of wire type ``wire``; returns the new pos or a negative error."""
    if wire == WIRE_VARINT:
        _, pos = read_varint(buf, pos, end)
        return pos if pos >= 0 else ERR_VARINT
    if wire == WIRE_I64:
        return pos + 8 if pos + 8 <= end else ERR_TRUNCATED
    if wire == WIRE_I32:
        return pos + 4 if pos + 4 <= end else ERR_TRUNCATED
    if wire == WIRE_LEN:
        length, pos = read_varint(buf, pos, end)
        if pos < 0:
            return ERR_VARINT
        if length < 0 or length > end - pos:
            return ERR_LENGTH
        return pos + length
    return ERR_WIRE_TYPE


@njit
def read_fixed64(buf: np.ndarray, pos: int) -> np.uint64:
    value = np.uint64(0)
    for i in range(7, -1, -1):
        value = (value << np.uint64(8)) | np.uint64(buf[pos + i])
    return value


@njit
def decode_write_request(buf: np.ndarray, fill: bool, series_label_start: np.ndarray,
                         series_label_count: np.ndarray, series_sample_start: np.ndarray,
                         series_sample_count: np.ndarray, series_histograms: np.ndarray,
                         series_key_start: np.ndarray, series_key_end: np.ndarray,
                         label_name_off: np.ndarray, label_name_len: np.ndarray, label_value_off: np.ndarray,
                         label_value_len: np.ndarray, sample_ts: np.ndarray, sample_bits: np.ndarray,
                         counts: np.ndarray) -> tuple[int, int]:
    """Decode (``fill=True``) or just count (``fill=False``) a WriteRequest.

    ``counts`` receives [series, labels, samples, metadata]. Per series: first label index and count,
    first sample index and count, the number of native histograms (not stored), and the byte span of its
    label fields when they are contiguous on the wire (``key_end`` -1 otherwise). Per label: byte
    offsets and lengths of name and value in ``buf``. Per sample: timestamp and value bits.
    Returns (status, error offset).
    """
    end = len(buf)
    pos = 0
    n_series = 0
    n_labels = 0
    n_samples = 0
    n_meta = 0
    while pos < end:
        tag, npos = read_varint(buf, pos, end)
        if npos < 0:
            return ERR_VARINT, pos
        field = tag >> 3
        wire = tag & 7
        if field == 1 and wire == WIRE_LEN:
            length, npos = read_varint(buf, npos, end)
            if npos < 0:
                return ERR_VARINT, pos
            if length < 0 or length > end - npos:
                return ERR_LENGTH, pos
            ts_end = npos + length
            if fill:
                series_label_start[n_series] = n_labels
                series_sample_start[n_series] = n_samples
            labels_here = 0
            samples_here = 0
            hists_here = 0
            key_start = npos
            key_end = npos
            p = npos
            while p < ts_end:
                ttag, q = read_varint(buf, p, ts_end)
                if q < 0:
                    return ERR_VARINT, p
                tfield = ttag >> 3
                twire = ttag & 7
                if (tfield == 1 or tfield == 2) and twire == WIRE_LEN:
                    mlen, q = read_varint(buf, q, ts_end)
                    if q < 0:
                        return ERR_VARINT, p
                    if mlen < 0 or mlen > ts_end - q:
                        return ERR_LENGTH, p
                    m_end = q + mlen
                    name_off = q
                    name_len = 0
                    value_off = q
                    value_len = 0
                    ts = np.int64(0)
                    bits = np.uint64(0)
                    while q < m_end:
                        mtag, r = read_varint(buf, q, m_end)
                        if r < 0:
                            return ERR_VARINT, q
                        mfield = mtag >> 3
                        mwire = mtag & 7
                        if tfield == 1 and (mfield == 1 or mfield == 2) and mwire == WIRE_LEN:
                            slen, r2 = read_varint(buf, r, m_end)
                            if r2 < 0:
                                return ERR_VARINT, r
                            if slen < 0 or slen > m_end - r2:
                                return ERR_LENGTH, r
                            if mfield == 1:
                                name_off = r2
                                name_len = slen
                            else:
                                value_off = r2
                                value_len = slen
                            q = r2 + slen
                        elif tfield == 2 and mfield == 1 and mwire == WIRE_I64:
                            if r + 8 > m_end:
                                return ERR_TRUNCATED, r
                            bits = read_fixed64(buf, r)
                            q = r + 8
                        elif tfield == 2 and mfield == 2 and mwire == WIRE_VARINT:
                            v, r2 = read_varint(buf, r, m_end)
                            if r2 < 0:
                                return ERR_VARINT, r
                            ts = v
                            q = r2
                        else:
                            q = skip_field(buf, r, m_end, mwire)
                            if q < 0:
                                return q, r
                    if tfield == 1:
                        if labels_here == 0:
                            key_start = p
                        elif key_end != p:
                            key_end = -1
                        if key_end >= 0:
                            key_end = m_end
                        if fill:
                            label_name_off[n_labels] = name_off
                            label_name_len[n_labels] = name_len
                            label_value_off[n_labels] = value_off
                            label_value_len[n_labels] = value_len
                        n_labels += 1
                        labels_here += 1
                    else:
                        if fill:
                            sample_ts[n_samples] = ts
                            sample_bits[n_samples] = bits
                        n_samples += 1
                        samples_here += 1
                    p = m_end
                else:
                    if tfield == 4:
                        hists_here += 1
                    p2 = skip_field(buf, q, ts_end, twire)
                    if p2 < 0:
                        return p2, q
                    p = p2
            if fill:
                series_label_count[n_series] = labels_here
                series_sample_count[n_series] = samples_here
                series_histograms[n_series] = hists_here
                series_key_start[n_series] = key_start
                series_key_end[n_series] = key_end
            n_series += 1
            pos = ts_end
        else:
            if field == 3 and wire == WIRE_LEN:
                n_meta += 1
            elif field == 0:
                return ERR_FIELD, pos
            p2 = skip_field(buf, npos, end, wire)
            if p2 < 0:
                return p2, npos
            pos = p2
    counts[0] = n_series
    counts[1] = n_labels
    counts[2] = n_samples
    counts[3] = n_meta
    return OK, 0
