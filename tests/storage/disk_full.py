"""A full disk without privileges: a low soft ``RLIMIT_FSIZE`` makes writes past it fail with EFBIG.

A write that would grow a file beyond the limit fails (``OSError(EFBIG)``, SIGXFSZ ignored) as a write to a
full file system fails with ENOSPC: nothing past the limit is written. Raising the soft limit again (up to
the unchanged hard limit) is the space coming back. The limit holds for every file this process writes, so
keep the window short and warm up (numba compilation, caches) before entering it.
"""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager


class FileSizeLimit:
    """Raise or lower the limit while inside :func:`file_size_limit`."""

    def __init__(self, hard: int) -> None:
        self.hard = hard

    def set(self, max_bytes: int) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, self.hard))

    def lift(self) -> None:
        """Space returns."""
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.hard, self.hard))


@contextmanager
def file_size_limit(max_bytes: int) -> Iterator[FileSizeLimit]:
    """Files of this process cannot grow beyond ``max_bytes`` inside the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = FileSizeLimit(hard)
    limit.set(max_bytes)
    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
