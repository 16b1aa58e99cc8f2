"""Merging queriers: one read view over the head and every block overlapping the range.

:class:`MergeQuerier` asks each source querier, merges series with equal labels (sorted merge by
labels), and merges their samples: identical samples are deduplicated, and on a timestamp conflict the
later source wins (the DB passes blocks oldest first and the head last, so the head wins). The common
case of parts that do not overlap in time is a plain concatenation.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from tsdb.labels import Labels, Matcher
from tsdb.storage.interfaces import FlatSeries, Querier, SelectHints, Series, TimestampArray, ValueArray
from tsdb.storage.merge_kernels import merge_pieces


def merge_samples(parts: Sequence[tuple[TimestampArray, ValueArray]]) -> tuple[TimestampArray, ValueArray]:
    """Merge sample arrays of one series; on equal timestamps the part listed last wins."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    if len(parts) == 1:
        return parts[0]
    ordered = sorted(range(len(parts)), key=lambda i: int(parts[i][0][0]))
    if all(parts[a][0][-1] < parts[b][0][0] for a, b in itertools.pairwise(ordered)):
        return (np.concatenate([parts[i][0] for i in ordered]), np.concatenate([parts[i][1] for i in ordered]))
    ts = np.concatenate([p[0] for p in parts])
    values = np.concatenate([p[1] for p in parts])
    priority = np.concatenate([np.full(len(p[0]), i, dtype=np.int64) for i, p in enumerate(parts)])
    order = np.lexsort((-priority, ts))  # by ts, highest priority first within a ts
    ts, values = ts[order], values[order]
    keep = np.ones(len(ts), dtype=bool)
    keep[1:] = ts[1:] != ts[:-1]
    return ts[keep], values[keep]


def merge_flat(parts: Sequence[FlatSeries]) -> FlatSeries:
    """Merge columnar results of several sources (increasing priority) as :meth:`MergeQuerier.select` does."""
    groups: dict[Labels, int] = {}
    piece_group: list[int] = []
    for p in parts:
        for lb in p.labels:
            piece_group.append(groups.setdefault(lb, len(groups)))
    if not groups:
        return FlatSeries([], np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(1, np.int64))
    unique = list(groups)
    by_labels = sorted(range(len(unique)), key=lambda g: tuple.__getitem__(unique[g], _ALL))
    rank = np.empty(len(unique), dtype=np.int64)
    rank[by_labels] = np.arange(len(unique), dtype=np.int64)
    bases = np.cumsum([0] + [len(p.ts) for p in parts])
    starts = np.concatenate([p.offsets[:-1] + base for p, base in zip(parts, bases, strict=False)])
    ends = np.concatenate([p.offsets[1:] + base for p, base in zip(parts, bases, strict=False)])
    piece_rank = rank[np.asarray(piece_group, dtype=np.int64)]
    order = np.argsort(piece_rank, kind="stable")  # by series, then source priority (sources in order)
    bounds = np.searchsorted(piece_rank[order], np.arange(len(unique) + 1, dtype=np.int64))
    ts = np.concatenate([p.ts for p in parts])
    values = np.concatenate([p.values for p in parts])
    out_ts = np.empty(ts.shape[0], dtype=np.int64)
    out_values = np.empty(ts.shape[0], dtype=np.float64)
    out_offsets = np.empty(len(unique) + 1, dtype=np.int64)
    merge_pieces(ts, values, starts[order], ends[order], bounds, out_ts, out_values, out_offsets)
    counts = np.diff(out_offsets)
    labels = [unique[g] for g in by_labels]
    if not counts.all():  # series with no sample in range from any source are left out
        keep = np.flatnonzero(counts)
        labels = [labels[i] for i in keep.tolist()]
        offsets = np.zeros(len(labels) + 1, dtype=np.int64)
        np.cumsum(counts[keep], out=offsets[1:])
    else:
        offsets = out_offsets
    used = int(out_offsets[-1])
    return FlatSeries(labels, out_ts[:used], out_values[:used], offsets)


_ALL = slice(None)


class MergedSeries:
    """A series present in several sources; samples merged lazily."""

    __slots__ = ("_parts", "labels")

    def __init__(self, labels: Labels, parts: list[Series]) -> None:
        self.labels = labels
        self._parts = parts

    def samples(self) -> tuple[TimestampArray, ValueArray]:
        return merge_samples([p.samples() for p in self._parts])


class MergeQuerier:
    """A :class:`Querier` over several queriers (listed by increasing priority). Closes them all."""

    def __init__(self, queriers: Sequence[Querier], on_close: Callable[[], None] | None = None) -> None:
        self._queriers = list(queriers)
        self._on_close = on_close
        self._closed = False

    def select(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> Iterator[Series]:
        if len(self._queriers) == 1:
            yield from self._queriers[0].select(matchers, hints)
            return
        streams = [((s.labels, i, n, s) for n, s in enumerate(q.select(matchers, hints)))
                   for i, q in enumerate(self._queriers)]
        current: Labels | None = None
        parts: list[tuple[int, Series]] = []
        for labels, source, _, series in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
            if labels != current:
                if current is not None:
                    yield _combine(current, parts)
                current, parts = labels, []
            parts.append((source, series))
        if current is not None:
            yield _combine(current, parts)

    def select_flat(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> FlatSeries:
        """``select`` as one columnar result: each source's columnar answer, merged by labels."""
        parts = []
        for q in self._queriers:
            flat = getattr(q, "select_flat", None)
            parts.append(flat(matchers, hints) if flat is not None
                         else FlatSeries.from_series(q.select(matchers, hints)))
        return parts[0] if len(parts) == 1 else merge_flat(parts)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        names: set[str] = set()
        for q in self._queriers:
            names.update(q.label_names(matchers))
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        values: set[str] = set()
        for q in self._queriers:
            values.update(q.label_values(name, matchers))
        return sorted(values)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for q in self._queriers:
                q.close()
        finally:
            if self._on_close is not None:
                self._on_close()


def _combine(labels: Labels, parts: list[tuple[int, Series]]) -> Series:
    if len(parts) == 1:
        return parts[0][1]
    parts.sort(key=lambda p: p[0])
    return MergedSeries(labels, [s for _, s in parts])
