"""The in-memory head: :class:`Head` is the head's state (:class:`~tsdb.storage.head.state.HeadState`)
with its Appender, Querier, block export and truncation attached. How samples are held, chunks cut and
the lock taken is described in :mod:`tsdb.storage.head.state`.
"""

from __future__ import annotations

from collections.abc import Iterator

from tsdb.storage.head.append import HeadAppender
from tsdb.storage.head.read import HeadQuerier, SeriesForBlock, series_for_block
from tsdb.storage.head.state import HeadState
from tsdb.storage.head.truncate import truncate_head

__all__ = ["Head"]


class Head(HeadState):
    """The head: an ``Appendable`` and ``Queryable`` over recent samples (see :class:`HeadState`)."""

    def appender(self) -> HeadAppender:
        return HeadAppender(self)

    def querier(self, mint: int, maxt: int) -> HeadQuerier:
        return HeadQuerier(self, mint, maxt)

    def series_for_block(self, mint: int, maxt: int) -> Iterator[SeriesForBlock]:
        """Series with samples in ``[mint, maxt)`` sorted by labels, for the block writer."""
        return series_for_block(self, mint, maxt)

    def truncate(self, mint: int) -> list[int]:
        """Drop data older than ``mint``, garbage-collect series left empty, raise the lower bound.

        Returns the refs removed. Later samples older than ``mint`` are rejected as out of bounds.
        """
        return truncate_head(self, mint)
