"""Which head readers are open, so a head range handed over to a block is dropped only when no reader that
still counts on the head for it is left (Prometheus waits for such pending readers before truncating).

A reader registers the read floor it was created with (data below the floor is in blocks for it); the
head keeps data handed over to a block while :meth:`HeadReaders.count_below` its hand-over time is not 0."""

from __future__ import annotations

import threading
from collections import Counter


class HeadReaders:
    """Open readers by their read floor. Thread-safe."""

    def __init__(self) -> None:
        self._open: Counter[int] = Counter()
        self._lock = threading.Lock()

    def register(self, floor: int) -> None:
        with self._lock:
            self._open[floor] += 1

    def release(self, floor: int) -> None:
        with self._lock:
            self._open[floor] -= 1
            if self._open[floor] <= 0:
                del self._open[floor]

    def count_below(self, t: int) -> int:
        """Open readers created with a floor below ``t``."""
        with self._lock:
            return sum(n for floor, n in self._open.items() if floor < t)
