"""Chunk segment files: byte layout, batch write/read round trips, segment cutting, corruption."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference.crc import crc32c_ref
from tsdb.errors import CorruptionError, InvalidArgumentError
from tsdb.storage.chunks.segments import (
    CHUNKS_MAGIC,
    SEGMENT_HEADER_SIZE,
    ChunkReader,
    ChunkSegmentWriter,
    RawChunk,
    pack_chunk_ref,
    read_segment_file,
    segment_files,
    unpack_chunk_ref,
)
from tsdb.storage.chunks.xor import XORChunk, encode_chunks
from tsdb.storage.encoding import put_uvarint, put_varint, read_uvarint, read_varint


def _concat(payloads: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    data = np.frombuffer(b"".join(payloads), dtype=np.uint8)
    offsets = np.zeros(len(payloads) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in payloads], out=offsets[1:])
    return data, offsets


def test_single_chunk_bytes(tmp_path: Path) -> None:
    payload = bytes(range(200))
    with ChunkSegmentWriter(tmp_path) as w:
        ref = w.write_chunk(1, payload)
    raw = (tmp_path / "000001").read_bytes()
    assert raw[:8] == CHUNKS_MAGIC.to_bytes(4, "big") + b"\x01\x00\x00\x00"
    assert ref == SEGMENT_HEADER_SIZE
    # len 200 is the two-byte uvarint c8 01
    expected = b"\xc8\x01" + b"\x01" + payload + crc32c_ref(b"\x01" + payload).to_bytes(4, "big")
    assert raw[8:] == expected


@settings(max_examples=50)
@given(payloads=st.lists(st.binary(min_size=2, max_size=300), min_size=1, max_size=40),
       segment_size=st.integers(64, 2000), seed=st.integers(0, 2**32 - 1))
def test_batch_round_trip(tmp_path_factory: pytest.TempPathFactory, payloads: list[bytes], segment_size: int,
                          seed: int) -> None:
    d = tmp_path_factory.mktemp("chunks")
    data, offsets = _concat(payloads)
    encodings = np.random.default_rng(seed).integers(1, 4, len(payloads)).astype(np.uint8)
    with ChunkSegmentWriter(d, segment_size=segment_size) as w:
        refs = w.write_chunks(data, offsets, encodings)
    files = segment_files(d)
    for f in files:  # every segment holds a chunk and respects the size unless one chunk alone is larger
        size = f.stat().st_size
        assert size > SEGMENT_HEADER_SIZE
        assert size <= segment_size or len(read_segment_file(f)) == 1
    assert np.all(np.diff(refs.astype(np.int64)) > 0)
    order = np.random.default_rng(seed).permutation(len(payloads))
    with ChunkReader(d) as r:
        got, got_offsets, got_enc = r.read_many(refs[order])
        for i, k in enumerate(order):
            assert got[got_offsets[i]:got_offsets[i + 1]].tobytes() == payloads[k]
            assert got_enc[i] == encodings[k]
            assert r.chunk(int(refs[k])) == (int(encodings[k]), payloads[k])
    total = sum(len(read_segment_file(f)) for f in files)
    assert total == len(payloads)


def test_appending_batches_and_segments(tmp_path: Path) -> None:
    payloads = [bytes([i]) * 50 for i in range(2, 30)]
    data, offsets = _concat(payloads)
    with ChunkSegmentWriter(tmp_path, segment_size=300) as w:
        refs1 = w.write_chunks(data, offsets)
        refs2 = w.write_chunks(data, offsets)
    segs = {unpack_chunk_ref(int(r))[0] for r in np.concatenate([refs1, refs2])}
    assert segs == set(range(len(segment_files(tmp_path))))
    with ChunkReader(tmp_path) as r:
        got, offs = r.read(np.concatenate([refs2, refs1]))
    assert got.tobytes() == data.tobytes() * 2 and offs[-1] == 2 * len(data)
    assert pack_chunk_ref(3, 17) == (3 << 32) | 17


def test_xor_chunks_read_back_as_xor(tmp_path: Path) -> None:
    ts = np.arange(0, 3000, 10, dtype=np.int64)
    values = np.sin(ts / 100.0)
    data, offsets = encode_chunks(ts, values, np.array([0, 120, 240, 300]))
    with ChunkSegmentWriter(tmp_path) as w:
        w.write_chunks(data, offsets)
    chunks = read_segment_file(tmp_path / "000001")
    assert all(isinstance(c, XORChunk) for c in chunks)
    assert [c.num_samples for c in chunks] == [120, 120, 60]
    assert np.array_equal(np.concatenate([c.decode()[0] for c in chunks]), ts)


def test_other_encodings_are_raw(tmp_path: Path) -> None:
    with ChunkSegmentWriter(tmp_path) as w:
        w.write_chunk(2, b"\x00\x07abc")
    (chunk,) = read_segment_file(tmp_path / "000001")
    assert chunk == RawChunk(2, b"\x00\x07abc")
    assert chunk.num_samples == 7


def test_trailing_zero_padding_is_ignored(tmp_path: Path) -> None:
    with ChunkSegmentWriter(tmp_path) as w:
        w.write_chunk(1, b"\x00\x00")
    path = tmp_path / "000001"
    path.write_bytes(path.read_bytes() + bytes(100))
    assert len(read_segment_file(path)) == 1


def test_crc_mismatch_names_file_and_offset(tmp_path: Path) -> None:
    payloads = [b"\x00\x01hello", b"\x00\x01world!"]
    data, offsets = _concat(payloads)
    with ChunkSegmentWriter(tmp_path) as w:
        refs = w.write_chunks(data, offsets)
    path = tmp_path / "000001"
    raw = bytearray(path.read_bytes())
    second = int(refs[1]) & 0xFFFFFFFF
    raw[second + 4] ^= 0xFF
    path.write_bytes(bytes(raw))
    with ChunkReader(tmp_path) as r:
        assert r.chunk(int(refs[0]))[1] == payloads[0]
        with pytest.raises(CorruptionError, match="checksum") as info:
            r.read(refs)
        assert info.value.path == str(path) and info.value.offset == second
        with pytest.raises(CorruptionError):
            r.chunk(int(refs[1]))
    with pytest.raises(CorruptionError) as info2:
        read_segment_file(path)
    assert info2.value.offset == second


def test_bad_header_and_refs(tmp_path: Path) -> None:
    with ChunkSegmentWriter(tmp_path) as w:
        ref = w.write_chunk(1, b"\x00\x00")
    with ChunkReader(tmp_path) as r:
        with pytest.raises(CorruptionError, match="segment index"):
            r.chunk(pack_chunk_ref(5, 8))
        with pytest.raises(CorruptionError, match="outside"):
            r.chunk(pack_chunk_ref(0, 10_000))
        assert r.chunk(ref) == (1, b"\x00\x00")
    path = tmp_path / "000001"
    path.write_bytes(b"\x00" * 4 + path.read_bytes()[4:])
    with pytest.raises(CorruptionError, match="magic"):
        ChunkReader(tmp_path)
    path.write_bytes(path.read_bytes()[:8] + b"\x7f\x01")  # a length running past the end
    with pytest.raises(CorruptionError):
        read_segment_file(path)


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError):
        ChunkSegmentWriter(tmp_path, segment_size=8)
    with ChunkSegmentWriter(tmp_path) as w:
        with pytest.raises(InvalidArgumentError):
            w.write_chunks(np.zeros(4, np.uint8), np.array([0, 3, 2]))
        assert w.write_chunks(np.zeros(0, np.uint8), np.array([0])).shape == (0,)


@given(st.integers(0, 2**64 - 1))
def test_uvarint_round_trip(value: int) -> None:
    out = bytearray()
    put_uvarint(out, value)
    assert read_uvarint(bytes(out), 0, len(out)) == (value, len(out))
    with pytest.raises(ValueError):
        read_uvarint(bytes(out[:-1]), 0, len(out) - 1)


@given(st.integers(-(2**63), 2**63 - 1))
def test_varint_round_trip(value: int) -> None:
    out = bytearray()
    put_varint(out, value)
    assert read_varint(bytes(out), 0, len(out)) == (value, len(out))
    if -64 <= value < 64:
        assert len(out) == 1
