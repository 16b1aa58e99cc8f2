"""The data directory lock: one process at a time may open a data directory.

An advisory ``flock`` on ``<dir>/lock`` (released by the OS when the process dies, even by SIGKILL, so a
crash never leaves a stale lock). The file holds the owner's PID for the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tsdb.errors import DataDirLockedError, StorageError


class DirLock:
    """Holds the lock of one data directory until :meth:`release`."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / "lock"
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise StorageError(f"cannot create lock file {self.path}: {err}") from err
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise DataDirLockedError(f"data directory {self.path.parent} is already in use by another process "
                                     f"(pid {holder}); stop it or choose another --data-dir") from err
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        self._held = True

    def release(self) -> None:
        """Unlock (idempotent). The file stays; its content is rewritten by the next owner."""
        if self._held:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._held = False
