"""Which member of a cluster owns a piece of work: rendezvous (highest random weight) hashing.

Each (member, item) pair gets a stable 64-bit weight; the member with the highest weight owns the item. Every
node computes the same owner from the same member list, without coordination; when a member joins or
leaves, only the items it gains or held move (about 1/N of them), the rest stay where they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _weight(member: str, item: str) -> int:
    digest = hashlib.blake2b(f"{member}\0{item}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(item: str, members: Sequence[str]) -> str:
    """The member owning ``item`` ("" when there are no members); ties go to the smaller name."""
    best, best_weight = "", -1
    for member in sorted(members):
        weight = _weight(member, item)
        if weight > best_weight:
            best, best_weight = member, weight
    return best
