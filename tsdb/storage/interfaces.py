"""The storage contracts: what the query engine, rules and servers see of storage.

Times are int64 Unix milliseconds, ranges ``[mint, maxt]`` inclusive. Sample arrays are whole numpy
arrays (``int64`` timestamps ascending, ``float64`` values), never per-sample objects; arrays returned
by ``samples()`` belong to the caller.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from tsdb.errors import QueryTimeoutError
from tsdb.labels import Labels, Matcher

TimestampArray = npt.NDArray[np.int64]
ValueArray = npt.NDArray[np.float64]

RECENT_WRITE_WINDOW_MS = 300_000
"""Samples at most this much older than the wall clock when written are recent; older ones change the past
(``data_generation`` of a store that has one), and cached query results never cover this window."""

STALE_NAN_BITS = 0x7FF0000000000002
"""Bit pattern of the stale marker: a NaN that ends a series. Compare bits, never ``isnan``."""

STALE_NAN = np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)[0]

_DEADLINE: ContextVar[float] = ContextVar("tsdb_query_deadline", default=math.inf)


@contextlib.contextmanager
def deadline_scope(deadline: float) -> Iterator[None]:
    """Within this block (same thread or task), :func:`check_deadline` raises once ``time.monotonic()``
    passes ``deadline``: the engine sets it per query, storage reads and heavy functions check it."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


_PACER: ContextVar[Callable[[], None] | None] = ContextVar("tsdb_query_pacer", default=None)


@contextlib.contextmanager
def pacing_scope(pacer: Callable[[], None] | None) -> Iterator[None]:
    """Within this block (same thread or task), :func:`check_deadline` also calls ``pacer``, which may pause
    the calling thread (the server pauses queries while writes are waiting, see ``query.write_share``)."""
    token = _PACER.set(pacer)
    try:
        yield
    finally:
        _PACER.reset(token)


def check_deadline(where: str = "expression evaluation") -> None:
    """Raise :class:`~tsdb.errors.QueryTimeoutError` when the current query's deadline has passed (a no-op
    outside :func:`deadline_scope`), after the pause of a :func:`pacing_scope`. Cheap: call it between
    batches of series or chunks."""
    pacer = _PACER.get()
    if pacer is not None:
        pacer()
    if time.monotonic() > _DEADLINE.get():
        raise QueryTimeoutError(f"query timed out in {where}")


def is_stale(values: ValueArray) -> npt.NDArray[np.bool_]:
    """Element-wise: is the value the stale marker (bit-exact)?"""
    return np.asarray(values, dtype=np.float64).view(np.uint64) == np.uint64(STALE_NAN_BITS)


@dataclass(frozen=True)
class SelectHints:
    """Optional hints for ``Querier.select``: the time range and step the caller really needs.

    ``func`` names the range function applied (e.g. "rate"), ``range_ms`` its window; tiers use these
    to pick a resolution. ``max_source_resolution`` is "raw", "5m", "1h" or "auto".
    """

    mint: int | None = None
    maxt: int | None = None
    step_ms: int = 0
    func: str = ""
    range_ms: int = 0
    max_source_resolution: str = "auto"
    aggregate: str = ""
    """Set by the engine when it can evaluate on tier aggregates: count, sum, min, max, avg or counter."""
    by: tuple[str, ...] = field(default=())


@runtime_checkable
class Series(Protocol):
    """One series of a query result: labels and a way to get its samples in the querier's range."""

    @property
    def labels(self) -> Labels: ...

    def samples(self) -> tuple[TimestampArray, ValueArray]:
        """All samples within the querier's ``[mint, maxt]``, timestamps ascending and unique."""
        ...


@dataclass
class FlatSeries:
    """Many series at once, columnar: series ``i`` has ``labels[i]`` and samples ``offsets[i]:offsets[i+1]``
    of ``ts``/``values`` (ascending times, clipped to the querier's range). Sorted by labels, no empty
    series. The arrays are fresh and owned by the caller. Queriers may offer ``select_flat(matchers,
    hints) -> FlatSeries`` as a faster equivalent of ``select`` (the query engine uses it when present).
    """

    labels: list[Labels]
    ts: TimestampArray
    values: ValueArray
    offsets: npt.NDArray[np.int64]
    resolution_ms: int = 0
    """0 for raw samples; else the tier resolution the values are aggregates of."""

    @classmethod
    def from_series(cls, series: Iterable[Series]) -> FlatSeries:
        """Collect an iterator of :class:`Series` (those without samples are left out)."""
        labels: list[Labels] = []
        ts_parts: list[TimestampArray] = []
        value_parts: list[ValueArray] = []
        for s in series:
            ts, values = s.samples()
            if len(ts):
                labels.append(s.labels)
                ts_parts.append(np.asarray(ts, np.int64))
                value_parts.append(np.asarray(values, np.float64))
        offsets = np.zeros(len(labels) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in ts_parts], out=offsets[1:])
        if not labels:
            return cls([], np.zeros(0, np.int64), np.zeros(0, np.float64), offsets)
        return cls(labels, np.concatenate(ts_parts), np.concatenate(value_parts), offsets)


def clip_flat(flat: FlatSeries, mint: int, maxt: int) -> FlatSeries:
    """The samples of ``flat`` in ``[mint, maxt]``; series left without samples are dropped."""
    keep = (flat.ts >= mint) & (flat.ts <= maxt)
    if keep.all():
        return flat
    before = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
    counts = np.diff(before[flat.offsets])
    labels = [lb for lb, c in zip(flat.labels, counts.tolist(), strict=True) if c]
    offsets = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(counts[counts > 0], out=offsets[1:])
    return FlatSeries(labels, flat.ts[keep], flat.values[keep], offsets)


def concat_flat(parts: Sequence[FlatSeries]) -> FlatSeries:
    """Concatenate columnar results whose label sets are disjoint and in order."""
    if len(parts) == 1:
        return parts[0]
    labels = [lb for p in parts for lb in p.labels]
    offsets = np.zeros(len(labels) + 1, dtype=np.int64)
    if parts:
        np.cumsum(np.concatenate([np.diff(p.offsets) for p in parts]), out=offsets[1:])
        return FlatSeries(labels, np.concatenate([p.ts for p in parts]), np.concatenate([p.values for p in parts]),
                          offsets)
    return FlatSeries(labels, np.zeros(0, np.int64), np.zeros(0, np.float64), offsets)


@runtime_checkable
class Querier(Protocol):
    """A read view over ``[mint, maxt]``. Not thread-safe; close it when done."""

    def select(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> Iterator[Series]:
        """Series matching all matchers, sorted by labels."""
        ...

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted label names of series (matching ``matchers`` if given) with data in range."""
        ...

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted values of label ``name`` (on series matching ``matchers`` if given)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Queryable(Protocol):
    """Anything that can be read: the DB, the head, a block, a tier, an in-memory store."""

    def querier(self, mint: int, maxt: int) -> Querier: ...


@dataclass
class Rejection:
    """Rejected samples of one reason: ``count`` samples, the first few ``examples`` as messages."""

    reason: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class CommitResult:
    """What a commit stored: accepted sample count, the oldest accepted timestamp (None: nothing
    accepted) and the rejections by reason."""

    accepted: int = 0
    rejected: dict[str, Rejection] = field(default_factory=dict)
    min_time: int | None = None

    @property
    def rejected_count(self) -> int:
        return sum(r.count for r in self.rejected.values())

    def reject(self, reason: str, count: int, example: str, max_examples: int = 5) -> None:
        """Record ``count`` rejected samples of ``reason`` with a readable example."""
        entry = self.rejected.setdefault(reason, Rejection(reason))
        entry.count += count
        if len(entry.examples) < max_examples:
            entry.examples.append(example)

    def summary(self) -> str:
        """One readable line per rejection reason (empty when nothing was rejected)."""
        return "; ".join(
            f"{r.count} {r.reason} sample(s), e.g. {', '.join(r.examples)}" for r in self.rejected.values()
        )


@runtime_checkable
class Appender(Protocol):
    """Buffers one batch of samples. One batch, one thread; ``commit`` or ``rollback`` ends it."""

    def append(self, labels: Labels, ts: TimestampArray, values: ValueArray) -> int:
        """Buffer samples of one series; returns the series ref (may be provisional before commit)."""
        ...

    def commit(self) -> CommitResult:
        """Make the batch durable (WAL first) then visible; invalid samples are reported, not stored."""
        ...

    def rollback(self) -> None:
        """Drop the batch."""
        ...


@runtime_checkable
class Appendable(Protocol):
    """Anything that accepts writes."""

    def appender(self) -> Appender: ...
