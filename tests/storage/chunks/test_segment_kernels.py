"""The segment locate/gather kernels against a record-at-a-time reference, on valid and damaged segments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.crc import crc32c_ref
from tests.reference.segments import ref_read_record
from tsdb.storage.chunks.segment_kernels import (
    LOCATE_BAD_LENGTH,
    LOCATE_OK,
    LOCATE_OUTSIDE,
    LOCATE_PAST_END,
    gather_chunks,
    locate_chunks,
)
from tsdb.storage.crc_kernels import CRC32C_TABLES

pytestmark = pytest.mark.kernel

HEADER = 8
LOCATE_REASONS = {LOCATE_OUTSIDE: "outside", LOCATE_BAD_LENGTH: "bad length", LOCATE_PAST_END: "past end"}


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _segment(records: list[tuple[int, bytes]]) -> tuple[bytearray, list[int]]:
    seg = bytearray(b"\x01" * HEADER)
    offsets = []
    for enc, data in records:
        offsets.append(len(seg))
        body = bytes([enc]) + data
        seg += _uvarint(len(data)) + body + crc32c_ref(body).to_bytes(4, "big")
    return seg, offsets


def _kernel_read(segment: bytes, offset: int) -> tuple[int, bytes] | str:
    arr = np.frombuffer(segment, dtype=np.uint8)
    positions = np.empty(1, dtype=np.int64)
    lengths = np.empty(1, dtype=np.int64)
    bad, code = locate_chunks(arr, np.array([offset], dtype=np.int64), HEADER, positions, lengths)
    if bad >= 0:
        return LOCATE_REASONS[code]
    assert code == LOCATE_OK
    data = np.empty(int(lengths[0]), dtype=np.uint8)
    encodings = np.empty(1, dtype=np.uint8)
    if gather_chunks(arr, positions, lengths, CRC32C_TABLES, data, np.zeros(1, dtype=np.int64), encodings) >= 0:
        return "checksum"
    return int(encodings[0]), data.tobytes()


records = st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=300)), min_size=1, max_size=6)


@given(records, st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=3),
       st.lists(st.integers(-2, 2100), max_size=6))
def test_kernels_match_reference_on_damaged_segments(recs: list[tuple[int, bytes]], damage: list[tuple[int, int]],
                                                     probes: list[int]) -> None:
    seg, offsets = _segment(recs)
    for where, byte in damage:
        seg[where % len(seg)] = byte
    for offset in offsets + probes:
        assert _kernel_read(bytes(seg), offset) == ref_read_record(bytes(seg), offset, HEADER)


@given(records)
def test_batch_gathers_every_record_in_order(recs: list[tuple[int, bytes]]) -> None:
    seg, offsets = _segment(recs)
    arr = np.frombuffer(bytes(seg), dtype=np.uint8)
    n = len(offsets)
    positions = np.empty(n, dtype=np.int64)
    lengths = np.empty(n, dtype=np.int64)
    order = np.arange(n, dtype=np.int64)[::-1].copy()  # any order of refs
    assert locate_chunks(arr, np.asarray(offsets, dtype=np.int64)[order], HEADER, positions, lengths) == (-1, 0)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    data = np.empty(int(starts[-1]), dtype=np.uint8)
    encodings = np.empty(n, dtype=np.uint8)
    assert gather_chunks(arr, positions, lengths, CRC32C_TABLES, data, starts, encodings) == -1
    for k, i in enumerate(order.tolist()):
        assert (int(encodings[k]), data[starts[k]:starts[k + 1]].tobytes()) == recs[i]
