"""A dependency-free progress bar on stderr for long benchmark phases (generation, encoding, sending)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """A thread-safe counter towards ``total`` drawn as one stderr line at most every 0.5 s.

    Disabled (a no-op) when ``enabled`` is False, so tests and pipes stay quiet.
    """

    def __init__(self, label: str, total: int, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._drawn = 0.0

    def set(self, done: int) -> None:
        """Set the absolute count."""
        with self._lock:
            self.done = done
        self._draw()

    def add(self, n: int) -> None:
        """Add ``n`` to the count."""
        with self._lock:
            self.done += n
        self._draw()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn < 0.5:
            return
        self._drawn = now
        frac = min(1.0, self.done / self.total)
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        elapsed = now - self._started
        self.stream.write(f"\r{self.label:<24} [{bar}] {frac * 100:5.1f}% {self.done:,}/{self.total:,} "
                          f"{elapsed:6.1f}s")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
