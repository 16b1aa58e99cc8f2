"""Pure-Python reference for tsdb.storage.remote.dedup_kernels: Thanos's two-iterator penalty walk, with
explicit seek-by-scanning iterators over lists of (timestamp, value)."""

from __future__ import annotations

from collections.abc import Sequence

INITIAL_PENALTY = 5000


class _Cursor:
    def __init__(self, samples: Sequence[tuple[int, float]]) -> None:
        self.samples = samples
        self.pos = 0

    def ok(self) -> bool:
        return self.pos < len(self.samples)

    def seek(self, t: int) -> bool:
        while self.ok() and self.samples[self.pos][0] < t:
            self.pos += 1
        return self.ok()

    def at(self) -> tuple[int, float]:
        return self.samples[self.pos]


def ref_dedup_pair(a: Sequence[tuple[int, float]], b: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Replica ``a`` and ``b`` merged by the penalty rule (``a`` preferred on equal timestamps)."""
    ca, cb = _Cursor(a), _Cursor(b)
    last: int | None = None
    pen_a = pen_b = 0
    out: list[tuple[int, float]] = []
    while True:
        floor = -(2 ** 62) if last is None else last + 1
        a_ok, b_ok = ca.seek(floor + pen_a), cb.seek(floor + pen_b)
        if not a_ok and not b_ok:
            return out
        if a_ok and (not b_ok or ca.at()[0] <= cb.at()[0]):
            chosen = ca.at()
            if b_ok:
                pen_b = INITIAL_PENALTY if last is None else 2 * (chosen[0] - last)
            pen_a = 0
            ca.pos += 1
        else:
            chosen = cb.at()
            if a_ok:
                pen_a = INITIAL_PENALTY if last is None else 2 * (chosen[0] - last)
            pen_b = 0
            cb.pos += 1
        last = chosen[0]
        out.append(chosen)
