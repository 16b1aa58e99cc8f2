"""Compaction planning and retention selection."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tsdb.storage.compact.plan import BlockSpan, expired_by_size, expired_by_time, overlapping, plan_compaction

H = 3_600_000
RANGES = [2 * H, 6 * H, 18 * H]


def _blocks(*spans: tuple[int, int]) -> list[BlockSpan]:
    return [BlockSpan(f"b{i}", a * H, b * H, size_bytes=10) for i, (a, b) in enumerate(spans)]


def test_overlapping_blocks_first() -> None:
    blocks = _blocks((0, 2), (2, 4), (3, 5), (10, 12))
    assert [b.ulid for b in overlapping(blocks)] == ["b1", "b2"]
    assert [b.ulid for b in plan_compaction(blocks, RANGES)] == ["b1", "b2"]
    assert overlapping(_blocks((0, 2), (2, 4))) == []


def test_complete_window_is_merged_and_newest_left_alone() -> None:
    blocks = _blocks((0, 2), (2, 4), (4, 6), (6, 8))
    assert [b.ulid for b in plan_compaction(blocks, RANGES)] == ["b0", "b1", "b2"]
    # the window holding the newest block is not merged while the newest is in it
    assert plan_compaction(_blocks((0, 2), (2, 4)), RANGES) == []
    # an incomplete window before the newest block is merged
    assert [b.ulid for b in plan_compaction(_blocks((0, 2), (2, 4), (8, 10)), RANGES)] == ["b0", "b1"]
    assert plan_compaction(_blocks((0, 2)), RANGES) == []


def test_retention() -> None:
    blocks = _blocks((0, 2), (2, 4), (100, 102))
    assert [b.ulid for b in expired_by_time(blocks, 98 * H)] == ["b0", "b1"]
    assert expired_by_time([], H) == []
    assert [b.ulid for b in expired_by_size(blocks, 15)] == ["b0", "b1"]
    assert [b.ulid for b in expired_by_size(blocks, 25, extra_bytes=0)] == ["b0"]
    assert expired_by_size(blocks, 0) == []


@given(st.lists(st.integers(0, 40), min_size=0, max_size=12, unique=True))
def test_plans_are_adjacent_non_overlapping_groups(starts: list[int]) -> None:
    blocks = [BlockSpan(str(s), s * 2 * H, (s + 1) * 2 * H) for s in sorted(starts)]
    group = plan_compaction(blocks, RANGES)
    if not group:
        return
    assert len(group) >= 2
    newest = max(blocks, key=lambda b: b.mint)
    assert newest not in group
    span_start = group[0].mint - group[0].mint % max(RANGES)
    assert all(b.maxt <= span_start + max(RANGES) for b in group)
