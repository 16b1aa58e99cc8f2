"""Tombstones: interval merging and masks against brute force, file round trip and corruption."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.crc import crc32c_ref
from tsdb.errors import CorruptionError, InvalidArgumentError
from tsdb.storage.block.tombstones import (
    TOMBSTONES_MAGIC,
    Tombstones,
    add_interval,
    encode_tombstones,
    read_tombstones,
    write_tombstones,
)

intervals = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 15)).map(lambda t: (t[0], t[0] + t[1])),
                     max_size=8)


@given(intervals)
def test_add_merges_like_brute_force(ivs: list[tuple[int, int]]) -> None:
    merged: list[tuple[int, int]] = []
    points: set[int] = set()
    for iv in ivs:
        merged = add_interval(merged, iv)
        points.update(range(iv[0], iv[1] + 1))
    covered = {t for lo, hi in merged for t in range(lo, hi + 1)}
    assert covered == points
    # sorted, disjoint and not adjacent (adjacent intervals merge, as in Prometheus)
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(merged))


@given(intervals, st.lists(st.integers(-5, 90), max_size=30))
def test_is_deleted_and_covers(ivs: list[tuple[int, int]], ts: list[int]) -> None:
    t = Tombstones()
    for lo, hi in ivs:
        t.add(7, lo, hi)
    points = {p for lo, hi in ivs for p in range(lo, hi + 1)}
    mask = t.is_deleted(7, np.array(ts, dtype=np.int64))
    assert list(mask) == [x in points for x in ts]
    assert not t.is_deleted(8, np.array(ts, dtype=np.int64)).any()
    for lo, hi in ivs:
        assert t.covers(7, lo, hi)
    assert t.covers(7, -3, -1) is (set(range(-3, 0)) <= points)


def test_file_round_trip_and_layout(tmp_path: Path) -> None:
    t = Tombstones()
    t.add(16, -(2**63), 5)
    t.add(3, 10, 20)
    t.add(3, 21, 30)  # adjacent: merges into [10, 30]
    t.add(3, 100, 2**63 - 1)
    assert t.get(3) == [(10, 30), (100, 2**63 - 1)]
    assert t.total() == 3 and len(t) == 2
    write_tombstones(tmp_path, t)
    raw = (tmp_path / "tombstones").read_bytes()
    assert raw[:5] == TOMBSTONES_MAGIC.to_bytes(4, "big") + b"\x01"
    assert raw[5:8] == b"\x03\x14\x3c"  # ref 3, zig-zag 10 and 30
    assert int.from_bytes(raw[-4:], "big") == crc32c_ref(raw[5:-4])
    assert raw == encode_tombstones(t)
    assert read_tombstones(tmp_path) == t
    assert list(read_tombstones(tmp_path).items()) == [(3, [(10, 30), (100, 2**63 - 1)]), (16, [(-(2**63), 5)])]


def test_missing_and_empty(tmp_path: Path) -> None:
    assert len(read_tombstones(tmp_path)) == 0
    write_tombstones(tmp_path, Tombstones())
    assert (tmp_path / "tombstones").stat().st_size == 9
    assert len(read_tombstones(tmp_path)) == 0


def test_corruption(tmp_path: Path) -> None:
    t = Tombstones()
    t.add(1, 0, 10)
    write_tombstones(tmp_path, t)
    path = tmp_path / "tombstones"
    raw = bytearray(path.read_bytes())
    raw[6] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptionError, match="checksum") as info:
        read_tombstones(tmp_path)
    assert info.value.path == str(path)
    path.write_bytes(b"\x00\x00\x00\x00\x01" + bytes(4))
    with pytest.raises(CorruptionError, match="magic"):
        read_tombstones(tmp_path)
    body = b"\x01\x02"  # ref 1, mint 1, no maxt
    path.write_bytes(TOMBSTONES_MAGIC.to_bytes(4, "big") + b"\x01" + body + crc32c_ref(body).to_bytes(4, "big"))
    with pytest.raises(CorruptionError, match="malformed"):
        read_tombstones(tmp_path)


def test_bad_interval() -> None:
    with pytest.raises(InvalidArgumentError):
        Tombstones().add(1, 5, 4)
