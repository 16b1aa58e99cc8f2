"""Rendezvous hashing: every node computes the same owner; a member leaving moves only its own items."""

from __future__ import annotations

from collections import Counter

from tsdb.cluster.ownership import owner


def test_owner_is_stable_balanced_and_moves_little() -> None:
    items = [f"rules/{i}.yml;group-{i}" for i in range(3000)]
    three = ["http://a:9201", "http://b:9201", "http://c:9201"]
    placed = {item: owner(item, three) for item in items}
    assert placed == {item: owner(item, list(reversed(three))) for item in items}  # order does not matter
    counts = Counter(placed.values())
    assert set(counts) == set(three) and all(800 < n < 1200 for n in counts.values())
    two = three[:2]
    moved = [item for item in items if owner(item, two) != placed[item]]
    assert all(placed[item] == three[2] for item in moved)  # only the leaver's items move
    assert len(moved) == counts[three[2]]
    four = [*three, "http://d:9201"]
    gained = [item for item in items if owner(item, four) != placed[item]]
    assert all(owner(item, four) == "http://d:9201" for item in gained) and 500 < len(gained) < 1000
    assert owner("x", []) == ""
