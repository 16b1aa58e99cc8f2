"""CRC32-Castagnoli kernel against known vectors and the bitwise reference."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.crc import crc32c_ref
from tsdb.storage.crc import crc32c, crc32c_batch

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", 0),
        (b"123456789", 0xE3069283),
        (bytes(32), 0x8A9136AA),  # RFC 3720 B.4: 32 bytes of zeroes
        (b"\xff" * 32, 0x62A8AB43),  # RFC 3720 B.4: 32 bytes of ones
        (bytes(range(32)), 0x46DD794E),  # RFC 3720 B.4: incrementing
    ],
)
def test_known_vectors(data: bytes, expected: int) -> None:
    assert crc32c(data) == expected
    assert crc32c_ref(data) == expected


def test_not_crc32_ieee() -> None:
    assert crc32c(b"123456789") != zlib.crc32(b"123456789")


def test_accepts_numpy_arrays() -> None:
    arr = np.arange(100, dtype=np.uint8)
    assert crc32c(arr) == crc32c(arr.tobytes())
    words = np.arange(10, dtype=np.uint64)
    assert crc32c(words) == crc32c(words.tobytes())


@given(st.binary(max_size=300), st.integers(0, 300))
def test_matches_reference_and_continues(data: bytes, cut: int) -> None:
    cut = min(cut, len(data))
    assert crc32c(data) == crc32c_ref(data)
    assert crc32c(data[cut:], crc32c(data[:cut])) == crc32c(data)


@given(st.lists(st.binary(max_size=40), max_size=10))
def test_batch(pieces: list[bytes]) -> None:
    data = np.frombuffer(b"".join(pieces), dtype=np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).astype(np.int64)
    assert crc32c_batch(data, offsets).tolist() == [crc32c_ref(p) for p in pieces]
