"""Stopping long maintenance work at safe points.

A :class:`StopFlag` is set once (by ``DB.close``) and checked by block writes, compactions and tier
writes between batches of series, chunks and files: :meth:`StopFlag.check` raises
:class:`~tsdb.errors.MaintenanceInterruptedError`, and the writer removes its partial output (a ``.tmp``
directory or file, also removed at the next open). Nothing acknowledged depends on that output: the WAL
and the source blocks still hold the data, so the work is simply redone by a later maintenance.
"""

from __future__ import annotations

import threading

from tsdb.errors import MaintenanceInterruptedError

__all__ = ["StopFlag", "check_stop"]


class StopFlag:
    """A one-way flag: once set it stays set. Thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Ask running maintenance to give up at its next safe point."""
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self, where: str) -> None:
        """Raise :class:`MaintenanceInterruptedError` (naming ``where``) when set."""
        if self._event.is_set():
            raise MaintenanceInterruptedError(f"stopped during {where}")


def check_stop(stop: StopFlag | None, where: str) -> None:
    """:meth:`StopFlag.check` for an optional flag (``None``: never stops)."""
    if stop is not None:
        stop.check(where)
