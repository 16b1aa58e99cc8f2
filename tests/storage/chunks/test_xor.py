"""XOR chunk kernels against the pure-Python reference: byte-exact encoding, bit-exact round trips, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.xor import RefCorruptionError, decode_ref, encode_ref
from tsdb.errors import CorruptionError, InvalidArgumentError
from tsdb.storage.chunks.xor import (
    XORChunk,
    chunk_offsets,
    chunk_offsets_many,
    decode_chunk,
    decode_chunks,
    encode_chunk,
    encode_chunks,
)

pytestmark = pytest.mark.kernel

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
STALE = 0x7FF0000000000002
SPECIAL_BITS = [
    STALE,
    0x7FF8000000000001,  # quiet NaN with a payload
    0xFFF8000000000000,  # negative NaN
    0x7FF0000000000000,  # +Inf
    0xFFF0000000000000,  # -Inf
    0x8000000000000000,  # -0.0
    0x0000000000000000,
    0x0000000000000001,  # smallest subnormal
    0x7FEFFFFFFFFFFFFF,  # largest finite
]

value_bits = st.one_of(
    st.sampled_from(SPECIAL_BITS),
    st.integers(0, 2**64 - 1),
    st.floats(allow_nan=False).map(lambda f: int(np.float64(f).view(np.uint64))),
    st.integers(-(10**6), 10**6).map(lambda k: int(np.float64(k / 100).view(np.uint64))),
    st.integers(0, 10**6).map(lambda k: int(np.float64(k * 1024).view(np.uint64))),
)

# Timestamp deltas: regular scrape intervals with jitter, bucket edges, and huge jumps either way.
BUCKET_EDGES = [0, 1, -1, 8191, 8192, 8193, -8191, -8192, 65535, 65536, 65537, -65535, -65536, 524287,
                524288, 524289, -524287, -524288, 2**31, -(2**31), 2**62, -(2**62)]
deltas = st.one_of(
    st.integers(14_990, 15_010),
    st.integers(-(2**20), 2**20),
    st.sampled_from(BUCKET_EDGES).map(lambda d: 15_000 + d),
    st.integers(I64_MIN // 4, I64_MAX // 4),
    st.integers(I64_MIN, I64_MAX),  # timestamps then wrap around int64, as Go's arithmetic does
)


@st.composite
def series(draw: st.DrawFn, min_size: int = 1, max_size: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """(ts int64[], value bits uint64[]) for one chunk; timestamps may wrap around int64 like Go's."""
    n = draw(st.integers(min_size, max_size))
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    kind = draw(st.sampled_from(["random", "constant", "regular"]))
    t0 = draw(st.one_of(st.integers(I64_MIN, I64_MAX), st.integers(0, 2**41), st.integers(-(2**41), 0)))
    if kind == "regular":
        step = draw(st.integers(1, 60_000))
        ds = [step + draw(st.integers(-5, 5)) for _ in range(n - 1)]
    else:
        ds = draw(st.lists(deltas, min_size=n - 1, max_size=n - 1))
    ts = np.array(np.cumsum(np.array([t0, *ds], dtype=object)), dtype=object)
    ts = np.array([((int(t) + 2**63) % 2**64) - 2**63 for t in ts], dtype=np.int64)
    if kind == "constant":
        vb = np.full(n, draw(value_bits), dtype=np.uint64)
    else:
        vb = np.array(draw(st.lists(value_bits, min_size=n, max_size=n)), dtype=np.uint64)
    return ts, vb


def assert_bits_equal(a: np.ndarray, b: np.ndarray) -> None:
    assert a.view(np.uint64).tolist() == b.view(np.uint64).tolist()


@given(series())
def test_encode_matches_reference_bytes(s: tuple[np.ndarray, np.ndarray]) -> None:
    ts, vb = s
    assert encode_chunk(ts, vb.view(np.float64)) == encode_ref(ts, vb)


@given(series())
def test_round_trip_bit_exact(s: tuple[np.ndarray, np.ndarray]) -> None:
    ts, vb = s
    data = encode_chunk(ts, vb.view(np.float64))
    got_ts, got_v = decode_chunk(data)
    assert got_ts.tolist() == ts.tolist()
    assert_bits_equal(got_v, vb)
    ref_ts, ref_v = decode_ref(data)
    assert ref_ts == ts.tolist()
    assert ref_v == vb.tolist()
    chunk = XORChunk(data)
    assert (chunk.num_samples, chunk.min_time, chunk.max_time) == (len(ts), ts[0], ts[-1])


@given(st.lists(series(min_size=0, max_size=40), min_size=1, max_size=8))
def test_many_chunks_per_call(chunks: list[tuple[np.ndarray, np.ndarray]]) -> None:
    ts = np.concatenate([c[0] for c in chunks])
    vb = np.concatenate([c[1] for c in chunks])
    offsets = np.concatenate([[0], np.cumsum([len(c[0]) for c in chunks])]).astype(np.int64)
    data, chunk_offs = encode_chunks(ts, vb.view(np.float64), offsets)
    for i, (cts, cvb) in enumerate(chunks):
        assert data[chunk_offs[i]:chunk_offs[i + 1]].tobytes() == encode_ref(cts, cvb)
    got_ts, got_v, sample_offs = decode_chunks(data, chunk_offs)
    assert sample_offs.tolist() == offsets.tolist()
    assert got_ts.tolist() == ts.tolist()
    assert_bits_equal(got_v, vb)


def test_length_one_and_empty_chunks() -> None:
    ts = np.array([5, -7, 1_700_000_000_000], dtype=np.int64)
    vals = np.array([1.5, np.nan, -0.0])
    offsets = np.array([0, 1, 1, 2, 3], dtype=np.int64)
    data, chunk_offs = encode_chunks(ts, vals, offsets)
    assert data[chunk_offs[1]:chunk_offs[2]].tobytes() == b"\x00\x00"
    got_ts, got_v, sample_offs = decode_chunks(data, chunk_offs)
    assert sample_offs.tolist() == offsets.tolist()
    assert got_ts.tolist() == ts.tolist()
    assert_bits_equal(got_v, vals)


def test_known_bytes() -> None:
    """Two samples, hand-checked: count 2, zigzag(1000)=2000 varint d0 0f, 1.0 raw, delta 15000, same value."""
    data = encode_chunk(np.array([1000, 16000]), np.array([1.0, 1.0]))
    assert data == bytes.fromhex("0002" "d00f" "3ff0000000000000" "9875" "00")


def test_trailing_empty_byte_like_prometheus() -> None:
    """Go's bstream leaves an empty byte after whole bytes written on a byte boundary (kept in the chunk)."""
    one = encode_chunk(np.array([1000]), np.array([1.0]))
    assert one == bytes.fromhex("0001" "d00f" "3ff0000000000000" "00")
    assert decode_chunk(one)[0].tolist() == [1000]
    # XOR delta 1: '11' + 5 + 6 control bits + 33 significant bits = 46 bits, unaligned: no extra byte.
    two = encode_chunk(np.array([1000, 16000]), np.array([1, 2], dtype=np.uint64).view(np.float64))
    assert len(two) == 2 + 2 + 8 + 2 + 6
    # A value delta with 16 significant bits starting on a byte boundary: the stream ends aligned.
    vb = np.array([0, 0xFFFF << 40, 0xFFFF << 40, 0], dtype=np.uint64)
    ts = np.array([0, 1, 2, 3], dtype=np.int64)
    data = encode_chunk(ts, vb.view(np.float64))
    assert data == encode_ref(ts, vb)


def test_sixty_four_bit_dod_bucket() -> None:
    ts = np.array([0, 1, 2, 2 + 2**40, 2 + 2**40 - 2**50], dtype=np.int64)
    vals = np.zeros(5)
    data = encode_chunk(ts, vals)
    assert data == encode_ref(ts, vals.view(np.uint64))
    assert decode_chunk(data)[0].tolist() == ts.tolist()


def test_stale_marker_and_nan_payloads_survive() -> None:
    vb = np.array(SPECIAL_BITS * 3, dtype=np.uint64)
    ts = np.arange(vb.shape[0], dtype=np.int64) * 15_000
    chunk = XORChunk.from_samples(ts, vb.view(np.float64))
    assert_bits_equal(chunk.decode()[1], vb)


def test_xorchunk_api() -> None:
    ts = np.arange(10, dtype=np.int64) * 15_000 - 50_000
    vals = np.linspace(0, 1, 10)
    chunk = XORChunk.from_samples(ts, vals)
    assert XORChunk.ENCODING == 1
    assert chunk.encoding == 1
    assert chunk.num_samples == len(chunk) == 10
    assert chunk.min_time == -50_000
    assert chunk.max_time == ts[-1]
    assert XORChunk(chunk.data()) == chunk
    got_ts, got_v = chunk.decode()
    assert got_ts.tolist() == ts.tolist()
    assert_bits_equal(got_v, vals)
    assert "10 samples" in repr(chunk)
    with pytest.raises(CorruptionError):
        XORChunk(b"\x00")
    with pytest.raises(InvalidArgumentError):
        _ = XORChunk(b"\x00\x00").min_time


def test_encode_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="65535"):
        encode_chunk(np.arange(70_000), np.zeros(70_000))
    with pytest.raises(InvalidArgumentError, match="samples but values"):
        encode_chunk(np.arange(3), np.zeros(2))
    with pytest.raises(InvalidArgumentError, match="non-decreasing"):
        encode_chunks(np.arange(3), np.zeros(3), np.array([0, 2, 1]))
    with pytest.raises(InvalidArgumentError, match="non-decreasing"):
        decode_chunks(np.zeros(4, dtype=np.uint8), np.array([0, 5]))


def test_max_samples_per_chunk() -> None:
    ts = np.arange(65_535, dtype=np.int64) * 15_000
    vals = np.arange(65_535, dtype=np.float64)
    data = encode_chunk(ts, vals)
    assert XORChunk(data).num_samples == 65_535
    assert decode_chunk(data)[0].tolist() == ts.tolist()


# ------------------------------------------------------------------------------------------ corruption


def _decode_or_corruption(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Decode; return None on CorruptionError (any other exception fails the test)."""
    try:
        return decode_chunk(data)
    except CorruptionError as err:
        assert err.offset is not None
        assert 0 <= err.offset <= len(data)
        return None


def _ref_decodes(data: bytes) -> tuple[list[int], list[int]] | None:
    try:
        return decode_ref(data)
    except RefCorruptionError:
        return None


@given(series(max_size=60))
def test_every_truncation_is_corruption(s: tuple[np.ndarray, np.ndarray]) -> None:
    ts, vb = s
    data = encode_chunk(ts, vb.view(np.float64))
    for cut in range(len(data)):
        got = _decode_or_corruption(data[:cut])
        ref = _ref_decodes(data[:cut])
        # Dropping only zero padding bits can still decode; then it must agree with the reference.
        assert (got is None) == (ref is None)
        if got is not None and ref is not None:
            assert got[0].tolist() == ref[0]
            assert got[1].view(np.uint64).tolist() == ref[1]


@given(series(max_size=60), st.data())
def test_random_byte_flips_never_crash(s: tuple[np.ndarray, np.ndarray], data: st.DataObject) -> None:
    ts, vb = s
    raw = bytearray(encode_chunk(ts, vb.view(np.float64)))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(2, len(raw) - 1)) if len(raw) > 2 else 0
        raw[pos] ^= data.draw(st.integers(1, 255))
    got = _decode_or_corruption(bytes(raw))
    ref = _ref_decodes(bytes(raw))
    assert (got is None) == (ref is None)
    if got is not None and ref is not None:
        assert got[0].tolist() == ref[0]
        assert got[1].view(np.uint64).tolist() == ref[1]


@given(st.binary(min_size=0, max_size=64))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    got = _decode_or_corruption(raw)
    ref = _ref_decodes(raw) if len(raw) >= 2 else None
    assert (got is None) == (ref is None)


@given(series(max_size=30), st.integers(1, 65_535 - 30))
def test_declared_count_larger_than_data(s: tuple[np.ndarray, np.ndarray], extra: int) -> None:
    ts, vb = s
    raw = bytearray(encode_chunk(ts, vb.view(np.float64)))
    count = len(ts) + extra
    raw[0:2] = count.to_bytes(2, "big")
    got = _decode_or_corruption(bytes(raw))
    # A few padding bits may decode as extra "unchanged" samples; a large excess must fail.
    if extra > 8:
        assert got is None


def test_corruption_error_names_chunk_and_offset() -> None:
    good = encode_chunk(np.arange(20) * 1000, np.arange(20) * 1.5)
    data = np.frombuffer(good + good[:10], dtype=np.uint8)
    with pytest.raises(CorruptionError, match="chunk 1") as info:
        decode_chunks(data, np.array([0, len(good), len(good) + 10]))
    assert info.value.offset is not None and len(good) <= info.value.offset <= len(good) + 10
    with pytest.raises(CorruptionError, match="chunk 0"):
        decode_chunks(np.zeros(1, dtype=np.uint8), np.array([0, 1]))


def test_varint_overflow_is_corruption() -> None:
    raw = b"\x00\x01" + b"\xff" * 10 + b"\x00" * 8
    with pytest.raises(CorruptionError, match="varint"):
        decode_chunk(raw)
    raw = b"\x00\x01" + b"\xff" * 9 + b"\x02" + b"\x00" * 8
    with pytest.raises(CorruptionError, match="varint"):
        decode_chunk(raw)


def test_bad_width_is_corruption() -> None:
    # Two samples: second value header '11' + leading 31 + sigbits 40 -> 71 > 64.
    head = encode_chunk(np.array([0, 1]), np.array([0.0, 0.0]))[:-1]  # drop the '0' value bit byte
    bits = "11" + format(31, "05b") + format(40, "06b")
    bits += "0" * (-len(bits) % 8)
    raw = head + int(bits, 2).to_bytes(len(bits) // 8, "big") + b"\x00" * 8
    with pytest.raises(CorruptionError, match="leading"):
        decode_chunk(raw)


# ------------------------------------------------------------------------------------------ chunk cutting


@given(st.integers(0, 2_000), st.integers(1, 200))
def test_chunk_offsets_policy(n: int, target: int) -> None:
    ts = np.arange(n, dtype=np.int64) * 15_000
    offs = chunk_offsets(ts, target=target, max_samples=2 * target)
    sizes = np.diff(offs)
    assert offs[0] == 0 and offs[-1] == n
    assert (sizes >= 1).all() and (sizes <= 2 * target).all()
    if n:
        assert sizes.max() - sizes.min() <= 1


def test_chunk_offsets_byte_limit() -> None:
    rng = np.random.default_rng(0)
    ts = np.arange(1_000, dtype=np.int64) * 15_000
    vals = rng.integers(0, 2**63, 1_000).view(np.float64)  # random bit patterns: ~9 bytes a sample
    offs = chunk_offsets(ts, vals, max_bytes=1024)
    _, chunk_offs = encode_chunks(ts, vals, offs)
    sizes = np.diff(chunk_offs)
    assert len(offs) > 1_000 // 120 + 1
    # Cut after the sample that passes the limit: over by at most one sample's worth.
    assert sizes.max() <= 1024 + 20
    for i in range(len(offs) - 1):
        prefix = encode_chunk(ts[offs[i]:offs[i + 1] - 1], vals[offs[i]:offs[i + 1] - 1])
        assert len(prefix) <= 1024


@given(st.lists(series(min_size=0, max_size=300), min_size=1, max_size=5), st.integers(1, 150))
def test_chunk_offsets_many_matches_per_series(chunks: list[tuple[np.ndarray, np.ndarray]], target: int) -> None:
    ts = np.concatenate([c[0] for c in chunks])
    vb = np.concatenate([c[1] for c in chunks])
    series_offs = np.concatenate([[0], np.cumsum([len(c[0]) for c in chunks])]).astype(np.int64)
    got = chunk_offsets_many(ts, vb, series_offs, target=target, max_samples=2 * target, max_bytes=300)
    want = [0]
    for i, (cts, cvb) in enumerate(chunks):
        want.extend((series_offs[i] + chunk_offsets(cts, cvb, target, 2 * target, 300)[1:]).tolist())
    assert got.tolist() == want


def test_chunk_offsets_rejects_bad_policy() -> None:
    with pytest.raises(InvalidArgumentError):
        chunk_offsets(np.arange(3), target=0)
    with pytest.raises(InvalidArgumentError, match="samples but values"):
        chunk_offsets(np.arange(3), np.zeros(2))
    with pytest.raises(InvalidArgumentError, match="series_offsets"):
        chunk_offsets_many(np.arange(3), None, np.array([0, 4]))


def test_flip_in_header_only_changes_count() -> None:
    data = bytearray(encode_chunk(np.arange(3) * 10, np.zeros(3)))
    data[1] = 2
    ts, _ = decode_chunk(bytes(data))
    assert ts.tolist() == [0, 10]


# ------------------------------------------------------------------------------------------ workload


def test_workload_round_trips_through_the_codec() -> None:
    from tsdb.bench.workload import KIND_NAMES, generate

    w = generate(40, 2 * 3_600_000, seed=3, end_ms=1_700_000_000_000)
    again = generate(40, 2 * 3_600_000, seed=3, end_ms=1_700_000_000_000)
    assert np.array_equal(w.ts, again.ts) and np.array_equal(w.values, again.values)
    assert w.num_series == 40 and w.num_samples == 40 * 480
    assert set(w.kinds.tolist()) <= set(KIND_NAMES)
    assert len(set(w.labels)) == 40
    for i in range(w.num_series):
        ts, _ = w.series(i)
        steps = np.diff(ts)
        assert (steps > 14_990).all() and (steps < 15_010).all()
        assert ts[-1] <= 1_700_000_000_000
    offsets = chunk_offsets_many(w.ts, w.values, w.offsets)
    per_series = [w.offsets[i] + chunk_offsets(*w.series(i))[:-1] for i in range(40)]
    assert offsets.tolist() == np.concatenate([*per_series, [w.num_samples]]).tolist()
    data, chunk_offs = encode_chunks(w.ts, w.values, offsets)
    ts, values, _ = decode_chunks(data, chunk_offs)
    assert np.array_equal(ts, w.ts)
    assert_bits_equal(values, w.values)
    for k in range(len(offsets) - 1):
        s, e = offsets[k], offsets[k + 1]
        assert data[chunk_offs[k]:chunk_offs[k + 1]].tobytes() == encode_ref(w.ts[s:e], w.values[s:e].view(np.uint64))


def test_codec_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m benchmarks codec`` runs end to end (figures are printed, never asserted)."""
    import json

    from benchmarks.__main__ import main

    assert main(["codec", "--json", "--series", "4", "--hours", "1", "--repeat", "1", "--ref-samples", "50"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["metric"] for r in records] == [
        "encode_samples_per_s", "decode_samples_per_s", "bytes_per_sample", "crc32c_bytes_per_s",
    ]
    assert main(["no-such-benchmark"]) == 2
