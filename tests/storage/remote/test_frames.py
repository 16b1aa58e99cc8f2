"""Stream frames: written and read back; truncation, oversize and CRC damage named with the offset."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsdb.errors import CorruptionError
from tsdb.storage.remote.frames import frame, split_frames


@given(st.lists(st.binary(max_size=300), max_size=5))
def test_round_trip(messages: list[bytes]) -> None:
    assert list(split_frames(b"".join(frame(m) for m in messages))) == messages


def test_damage_is_named() -> None:
    good = frame(b"x" * 200)
    with pytest.raises(CorruptionError, match=r"CRC32C mismatch.*answer, offset 0"):
        list(split_frames(good[:-1] + b"y", source="answer"))
    with pytest.raises(CorruptionError, match=r"truncated frame.*offset"):
        list(split_frames(frame(b"ok") + good[:-3]))
    with pytest.raises(CorruptionError, match="truncated frame length"):
        list(split_frames(b"\x80"))
    with pytest.raises(CorruptionError, match="larger than the limit of 10"):
        list(split_frames(good, max_frame_bytes=10))
