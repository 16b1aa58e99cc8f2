"""WAL record types: bit-exact round-trips, malformed input, and the segment-parsing kernel vs its reference."""

from __future__ import annotations

import contextlib
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.records import decode_samples_body_ref, encode_samples_body_ref, scan_segment_ref
from tsdb.errors import CorruptionError, InvalidArgumentError
from tsdb.labels import Labels
from tsdb.storage.crc import crc32c
from tsdb.storage.crc_kernels import CRC32C_TABLES
from tsdb.storage.encoding import zigzag
from tsdb.storage.wal import records
from tsdb.storage.wal.records_kernels import decode_samples_body, encode_samples_body, scan_segment

STALE = 0x7FF0000000000002
I64 = st.integers(-(2**63), 2**63 - 1)
REF = st.integers(0, 2**63 - 1)
VALUE_BITS = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([STALE, 0x7FF8000000000001, 0xFFF8000000000000,
                                                                   0x8000000000000000, 0x7FF0000000000000]))


def _bits(values: np.ndarray) -> np.ndarray:
    return values.view(np.uint64)


@given(st.lists(st.tuples(REF, I64, VALUE_BITS), max_size=60))
def test_samples_round_trip_bit_exact(rows: list[tuple[int, int, int]]) -> None:
    refs = np.array([r for r, _, _ in rows], dtype=np.int64)
    ts = np.array([t for _, t, _ in rows], dtype=np.int64)
    values = np.array([v for _, _, v in rows], dtype=np.uint64).view(np.float64)
    rec = records.decode(records.encode_samples(refs, ts, values))
    assert isinstance(rec, records.SamplesRecord)
    assert rec.refs.dtype == np.int64 and rec.ts.dtype == np.int64 and rec.values.dtype == np.float64
    np.testing.assert_array_equal(rec.refs, refs)
    np.testing.assert_array_equal(rec.ts, ts)
    np.testing.assert_array_equal(_bits(rec.values), _bits(values))


def test_records_are_prometheus_bytes() -> None:
    """Golden bytes worked out by hand from Prometheus's tsdb/record encodings (types 1, 2, 3)."""
    assert records.encode_series([1], [Labels({"a": "b"})]).hex() == "01" "0000000000000001" "01" "0161" "0162"
    assert records.encode_samples(np.array([1, 0]), np.array([2, 1]), np.array([1.0, -2.0])).hex() == (
        "02" "0000000000000001" "0000000000000002"
        "00" "00" "3ff0000000000000"  # first sample: deltas 0, 0
        "01" "01" "c000000000000000")  # second: ref -1 and ts -1 zigzag to 1
    assert records.encode_samples(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)) == b"\x02"
    assert records.encode_tombstones([7], [0], [100]).hex() == "03" "0000000000000007" "00" "c801"
    assert records.encode_tombstones([], [], []) == b"\x03"
    assert records.encode_series([], []) == b"\x01"
    n = 1000  # typical scrape batch: one sample per series, same timestamp: 10 bytes per sample
    raw = records.encode_samples(np.arange(100, 100 + n), np.full(n, 1_700_000_000_000), np.zeros(n))
    assert len(raw) == 17 + 10 * 64 + 11 * (n - 64)  # ref deltas >= 64 take two varint bytes
    extreme = np.array([-(2**63), 2**63 - 1], dtype=np.int64)
    rec = records.decode_samples(records.encode_samples(extreme, extreme[::-1].copy(), np.zeros(2)))
    np.testing.assert_array_equal(rec.refs, extreme)
    np.testing.assert_array_equal(rec.ts, extreme[::-1])


@given(st.lists(st.tuples(st.integers(0, 2**64 - 1),
                          st.dictionaries(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8),
                                          max_size=5)), max_size=10))
def test_series_round_trip(rows: list[tuple[int, dict[str, str]]]) -> None:
    refs = [r for r, _ in rows]
    labels = [Labels(d) for _, d in rows]
    rec = records.decode(records.encode_series(refs, labels))
    assert isinstance(rec, records.SeriesRecord)
    assert rec.refs.dtype == np.uint64 and rec.refs.tolist() == refs
    assert rec.labels == labels


@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), I64, I64), max_size=20))
def test_tombstones_round_trip(rows: list[tuple[int, int, int]]) -> None:
    rec = records.decode(records.encode_tombstones([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]))
    assert isinstance(rec, records.TombstonesRecord)
    assert list(zip(rec.refs.tolist(), rec.mints.tolist(), rec.maxts.tolist(), strict=True)) == rows


def test_encoders_reject_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="2 refs but 1"):
        records.encode_series([1, 2], [Labels({"a": "b"})])
    with pytest.raises(InvalidArgumentError, match="uint64"):
        records.encode_series([-1], [Labels({"a": "b"})])
    with pytest.raises(InvalidArgumentError, match="equal length"):
        records.encode_samples(np.zeros(2, np.int64), np.zeros(3, np.int64), np.zeros(2))
    with pytest.raises(InvalidArgumentError, match="lengths differ"):
        records.encode_tombstones([1], [1, 2], [3])


def _valid_records() -> list[bytes]:
    return [
        records.encode_series([1, 2**63], [Labels({"__name__": "up", "job": "a"}), Labels({"x": "é"})]),
        records.encode_samples(np.array([1, 5, 3]), np.array([10, -20, 2**40]), np.array([1.0, np.nan, -0.0])),
        records.encode_tombstones([7], [0], [100]),
    ]


@given(st.data())
def test_decode_never_crashes_on_mutations(data: st.DataObject) -> None:
    """Truncations and byte flips either decode or raise CorruptionError (never anything else)."""
    raw = bytearray(data.draw(st.sampled_from(_valid_records())))
    cut = data.draw(st.integers(0, len(raw)))
    raw = raw[:cut] if data.draw(st.booleans()) else raw
    if raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    with contextlib.suppress(CorruptionError):
        records.decode(bytes(raw))


def test_decode_rejects_bogus_counts_without_allocating() -> None:
    for bogus in (b"\x01" + bytes(8) + b"\xff\xff\xff\xff\x0f",  # 2**32 labels claimed
                  b"\x01" + bytes(8) + b"\xff" * 11,  # label count varint overflows
                  b"\x01" + bytes(8) + b"\x01\x01a\xff\xff\xff\x0f",  # label value longer than the record
                  b"\x02" + bytes(16) + b"\xff" * 10 + b"\x02" + bytes(8),  # 10th varint byte > 1
                  b"\x02" + bytes(16) + b"\x80" * 11 + bytes(8),  # varint longer than 10 bytes
                  b"\x02" + bytes(16) + b"\x00\x00" + bytes(7),  # value cut short
                  b"\x02" + bytes(16) + b"\x00",  # time delta missing
                  b"\x03" + bytes(8) + b"\x00",  # maxt missing
                  b"\x03" + bytes(7),
                  b"", b"\x09", b"\x02\x01"):
        with pytest.raises(CorruptionError):
            records.decode(bogus)


def test_decode_series_rejects_duplicate_labels_and_bad_utf8() -> None:
    body = b"\x01" + bytes(8) + b"\x02" + b"\x01a\x01b" * 2
    with pytest.raises(CorruptionError, match="malformed series"):
        records.decode(body)
    body = b"\x01" + bytes(8) + b"\x01" + b"\x01a\x01\xff"
    with pytest.raises(CorruptionError, match="malformed series"):
        records.decode(body)
    with pytest.raises(CorruptionError, match="malformed series"):
        records.decode(records.encode_series([1], [Labels({"a": "b"})]) + b"\x00")


def test_samples_decode_rate() -> None:
    """Replay rate of SAMPLES decoding (printed; no assertion on time)."""
    n = 100_000
    rng = np.random.default_rng(1)
    refs = rng.integers(0, 50_000, n).astype(np.int64)
    ts = 1_700_000_000_000 + rng.integers(0, 60_000, n).astype(np.int64)
    raw = records.encode_samples(refs, ts, rng.random(n))
    records.decode_samples(raw)
    t0 = time.perf_counter()
    for _ in range(20):
        records.decode_samples(raw)
    elapsed = time.perf_counter() - t0
    print(f"SAMPLES decode: {20 * n / elapsed / 1e6:.1f}M samples/s, {len(raw) / n:.1f} bytes/sample")


# -- the SAMPLES payload kernels against their references -------------------------------------------
@pytest.mark.kernel
@given(st.lists(st.tuples(I64, I64, VALUE_BITS), max_size=30))
def test_encode_samples_body_matches_reference(rows: list[tuple[int, int, int]]) -> None:
    refs = np.array([r for r, _, _ in rows], dtype=np.int64)
    ts = np.array([t for _, t, _ in rows], dtype=np.int64)
    bits = np.array([v for _, _, v in rows], dtype=np.uint64)
    raw = records.encode_samples(refs, ts, bits.view(np.float64))
    want = encode_samples_body_ref(refs.tolist(), ts.tolist(), bits.tolist())
    assert raw[17:] == want
    out = np.zeros(len(rows) * 28 + 3, dtype=np.uint8)
    end = encode_samples_body(zigzag(refs - refs[0] if len(rows) else refs),
                              zigzag(ts - ts[0] if len(rows) else ts), bits, out, 3)
    assert out[3:end].tobytes() == want


@pytest.mark.kernel
@given(st.binary(max_size=120), st.integers(0, 5))
def test_decode_samples_body_matches_reference_on_any_bytes(data: bytes, start: int) -> None:
    start = min(start, len(data))
    drefs, dts, bits, err, err_pos = decode_samples_body(np.frombuffer(data, np.uint8), start)
    got = list(zip(drefs.tolist(), dts.tolist(), bits.tolist(), strict=True))
    assert (got, int(err), int(err_pos)) == decode_samples_body_ref(data, start)


@pytest.mark.kernel
@given(st.lists(st.tuples(I64, I64, VALUE_BITS), min_size=1, max_size=30), st.data())
def test_decode_samples_body_matches_reference_on_mutated_records(rows: list[tuple[int, int, int]],
                                                                  data: st.DataObject) -> None:
    body = bytearray(encode_samples_body_ref([r for r, _, _ in rows], [t for _, t, _ in rows],
                                             [v for _, _, v in rows]))
    if data.draw(st.booleans()):
        body = body[: data.draw(st.integers(0, len(body)))]
    if body and data.draw(st.booleans()):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    drefs, dts, bits, err, err_pos = decode_samples_body(np.frombuffer(bytes(body), np.uint8), 0)
    got = list(zip(drefs.tolist(), dts.tolist(), bits.tolist(), strict=True))
    assert (got, int(err), int(err_pos)) == decode_samples_body_ref(bytes(body), 0)


# -- the segment-parsing kernel against its reference ------------------------------------------------
def _frag(kind: int, body: bytes, crc: int | None = None) -> bytes:
    c = crc32c(body) if crc is None else crc
    return bytes([kind]) + len(body).to_bytes(2, "big") + c.to_bytes(4, "big") + body


def _kernel(data: bytes, page: int) -> tuple[list[tuple[int, bytes, bool]], int, int, int, bool]:
    fs, fl, rend, roff, snappy, err, err_off, good_end, torn = scan_segment(np.frombuffer(data, np.uint8), page,
                                                                              CRC32C_TABLES)
    out, lo = [], 0
    for r in range(len(rend)):
        body = b"".join(data[int(fs[f]):int(fs[f]) + int(fl[f])] for f in range(lo, int(rend[r])))
        out.append((int(roff[r]), body, bool(snappy[r])))
        lo = int(rend[r])
    return out, int(err), int(err_off), int(good_end), bool(torn)


def _segment(bodies: list[bytes], page: int, flags: list[int] | None = None) -> bytes:
    """Fragments written the way the WAL writer does (pad when under 8 bytes remain in a page); ``flags[i]``
    is or-ed into the type byte of every fragment of record ``i``."""
    out = bytearray()
    for i, body in enumerate(bodies):
        flag = flags[i] if flags else 0
        first = True
        while True:
            rem = page - len(out) % page
            if rem < 8:
                out += bytes(rem)
                rem = page
            chunk, body = body[: rem - 7], body[rem - 7:]
            last = not body
            out += _frag(((1 if last else 2) if first else (4 if last else 3)) | flag, chunk)
            first = False
            if last:
                break
    return bytes(out)


@pytest.mark.kernel
@given(st.lists(st.binary(max_size=200), max_size=8), st.sampled_from([16, 64, 128]), st.data())
def test_scan_segment_matches_reference(bodies: list[bytes], page: int, data: st.DataObject) -> None:
    flags = data.draw(st.lists(st.sampled_from([0, 0x08]), min_size=len(bodies), max_size=len(bodies)))
    seg = bytearray(_segment(bodies, page, flags))
    mutation = data.draw(st.sampled_from(["none", "cut", "flip", "garbage"]))
    if mutation == "cut" and seg:
        seg = seg[: data.draw(st.integers(0, len(seg)))]
    elif mutation == "flip" and seg:
        i = data.draw(st.integers(0, len(seg) - 1))
        seg[i] ^= 1 << data.draw(st.integers(0, 7))
    elif mutation == "garbage":
        seg += data.draw(st.binary(max_size=40))
    expected = scan_segment_ref(bytes(seg), page)
    assert _kernel(bytes(seg), page) == expected
    if mutation == "none":
        assert [(b, f) for _, b, f in expected[0]] == [(b, f == 0x08) for b, f in zip(bodies, flags, strict=True)]
        assert expected[1] == 0


@pytest.mark.kernel
def test_scan_segment_error_kinds() -> None:
    ok = _frag(1, b"abc")
    cases = [
        (ok + _frag(3, b"x"), 6, False),  # MIDDLE without FIRST
        (_frag(2, b"a") + ok, 6, False),  # FULL inside a record
        (ok + _frag(1, b"x", crc=1) + ok, 4, False),  # bad CRC in the middle
        (ok + _frag(1, b"x", crc=1), 4, True),  # bad CRC of the very last bytes: torn
        (ok + b"\x0d" + bytes(10), 5, False),  # unknown type with the snappy flag
        (ok + b"\x11" + bytes(10), 5, False),  # a FULL fragment with the zstd flag: not supported
        (ok + b"\x08" + bytes(10), 5, False),  # the snappy flag on a padding byte
        (ok + b"\x00\x01" + ok, 7, False),  # non-zero padding
        (ok + _frag(2, b"ab"), 3, True),  # ends inside a multi-fragment record
        (ok + ok[:5], 1, True),
        (ok + ok[:9], 2, True),
        (ok + bytes([1, 0, 200, 0, 0, 0, 0]), 8, False),  # fragment longer than the page: corruption
    ]
    for seg, code, torn in cases:
        expected = scan_segment_ref(seg, 64)
        got = _kernel(seg, 64)
        assert got == expected
        assert (got[1], got[4]) == (code, torn), seg
        assert got[3] == (0 if seg[0] == 2 else len(ok))


@pytest.mark.kernel
def test_damaged_first_fragment_is_not_returned_as_a_record() -> None:
    """FIRST turned into FULL (the CRC covers data only): the partial record is dropped with the error."""
    ok = _frag(1, b"abc")
    seg = bytearray(_segment([b"abc", b"y" * 100], 64))
    first = len(ok)
    assert seg[first] == 2
    seg[first] = 1
    got = _kernel(bytes(seg), 64)
    assert got == scan_segment_ref(bytes(seg), 64)
    assert got[0] == [(0, b"abc", False)] and got[1] == 6 and got[2] == got[3] == first


def test_decode_series_sorts_labels_written_out_of_order() -> None:
    """A writer need not sort (or may write empty values): decoding goes through the checking constructor."""
    body = b"\x01" + (5).to_bytes(8, "big") + b"\x03" + b"\x01b\x012" + b"\x01a\x011" + b"\x01c\x00"
    rec = records.decode(body)
    assert isinstance(rec, records.SeriesRecord)
    assert rec.refs.tolist() == [5] and rec.labels == [Labels({"a": "1", "b": "2"})]
    two = records.encode_series([1, 2], [Labels({"job": "x", "a": "1"}), Labels({"job": "y"})])
    rec = records.decode(two)
    assert isinstance(rec, records.SeriesRecord)
    assert rec.labels == [Labels({"a": "1", "job": "x"}), Labels({"job": "y"})]
