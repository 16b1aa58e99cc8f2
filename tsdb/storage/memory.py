"""An in-memory store implementing ``Appendable`` and ``Queryable``.

It is the simple model the real storage is tested against, and a store for tests and the PromQL test
runner. Appends of a series must be in time order unless ``allow_out_of_order``; a repeated timestamp
with the same value is a no-op and with another value a duplicate. Not thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from tsdb.labels import Labels, Matcher, MatchType, matches_all
from tsdb.storage.interfaces import (
    CommitResult,
    SelectHints,
    TimestampArray,
    ValueArray,
)


class MemorySeries:
    """A series whose samples were already clipped to the querier's range."""

    __slots__ = ("_ts", "_values", "labels")

    def __init__(self, labels: Labels, ts: TimestampArray, values: ValueArray) -> None:
        self.labels = labels
        self._ts = ts
        self._values = values

    def samples(self) -> tuple[TimestampArray, ValueArray]:
        return self._ts.copy(), self._values.copy()


class MemoryStore:
    """Series kept as sorted numpy arrays per label set."""

    def __init__(self, allow_out_of_order: bool = False) -> None:
        self.allow_out_of_order = allow_out_of_order
        self._series: dict[Labels, tuple[TimestampArray, ValueArray]] = {}
        self._refs: dict[Labels, int] = {}
        self._sorted: list[Labels] | None = None  # series_labels(), until the set of series changes
        self._by_name: dict[str, list[Labels]] | None = None  # sorted series per metric name, likewise

    # -- writing ------------------------------------------------------------------------------
    def appender(self) -> MemoryAppender:
        return MemoryAppender(self)

    def add(self, labels: Labels, ts: Sequence[int] | TimestampArray, values: Sequence[float] | ValueArray,
            result: CommitResult | None = None) -> None:
        """Merge samples into a series, recording rejected ones in ``result``."""
        result = result if result is not None else CommitResult()
        new_ts = np.asarray(ts, dtype=np.int64)
        new_values = np.asarray(values, dtype=np.float64)
        old_ts, old_values = self._series.get(labels, (np.empty(0, np.int64), np.empty(0, np.float64)))
        newest = old_ts[-1] if len(old_ts) else np.iinfo(np.int64).min
        if len(new_ts) and new_ts[0] > newest and (len(new_ts) == 1 or bool(np.all(np.diff(new_ts) > 0))):
            self._store_series(labels, np.concatenate([old_ts, new_ts]), np.concatenate([old_values, new_values]))
            result.accepted += len(new_ts)
            return  # the common case: newer samples in order, nothing to check against the old ones
        keep = np.ones(len(new_ts), dtype=bool)
        existing = {int(t): v for t, v in zip(old_ts.tolist(), old_values.view(np.uint64).tolist(),
                                              strict=True)}
        for i, (t, v) in enumerate(zip(new_ts.tolist(), new_values.view(np.uint64).tolist(), strict=True)):
            if t in existing:
                keep[i] = False
                if existing[t] != v:
                    result.reject("duplicate", 1, f"{labels} @ {t}")
            elif t < newest and not self.allow_out_of_order:
                keep[i] = False
                result.reject("out_of_order", 1, f"{labels} @ {t}")
            else:
                existing[t] = v
                newest = max(newest, t)
        if not keep.any():
            return
        all_ts = np.concatenate([old_ts, new_ts[keep]])
        all_values = np.concatenate([old_values, new_values[keep]])
        order = np.argsort(all_ts, kind="stable")
        self._store_series(labels, all_ts[order], all_values[order])
        result.accepted += int(keep.sum())

    def _store_series(self, labels: Labels, ts: TimestampArray, values: ValueArray) -> None:
        if labels not in self._series:
            self._sorted = self._by_name = None
        self._series[labels] = (ts, values)
        self._refs.setdefault(labels, len(self._refs) + 1)

    def delete(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> None:
        """Drop samples in ``[mint, maxt]`` of matching series."""
        for labels in list(self._series):
            if matches_all(matchers, labels):
                ts, values = self._series[labels]
                keep = (ts < mint) | (ts > maxt)
                if keep.all():
                    continue
                if keep.any():
                    self._series[labels] = (ts[keep], values[keep])
                else:
                    del self._series[labels]
                    self._sorted = self._by_name = None

    def ref(self, labels: Labels) -> int:
        return self._refs.get(labels, 0)

    # -- reading ------------------------------------------------------------------------------
    def querier(self, mint: int, maxt: int) -> MemoryQuerier:
        return MemoryQuerier(self, mint, maxt)

    def series_labels(self) -> list[Labels]:
        if self._sorted is None:
            self._sorted = sorted(self._series)
        return list(self._sorted)

    def candidates(self, matchers: Sequence[Matcher]) -> list[Labels]:
        """The series a selection must look at, in label order: those of the metric name an equality
        matcher names, else all."""
        name = next((m.value for m in matchers if m.name == "__name__" and m.type is MatchType.EQUAL), None)
        if self._sorted is None:
            self._sorted = sorted(self._series)
        if name is None:
            return self._sorted
        if self._by_name is None:
            self._by_name = {}
            for labels in self._sorted:
                self._by_name.setdefault(labels.get("__name__", ""), []).append(labels)
        return self._by_name.get(name, [])

    def raw(self, labels: Labels) -> tuple[TimestampArray, ValueArray]:
        ts, values = self._series[labels]
        return ts.copy(), values.copy()


class MemoryAppender:
    """Buffers appends; ``commit`` merges them into the store."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._batch: list[tuple[Labels, TimestampArray, ValueArray]] = []

    def append(self, labels: Labels, ts: TimestampArray, values: ValueArray) -> int:
        self._batch.append((labels, np.asarray(ts, np.int64), np.asarray(values, np.float64)))
        return self._store.ref(labels)

    def commit(self) -> CommitResult:
        result = CommitResult()
        for labels, ts, values in self._batch:
            self._store.add(labels, ts, values, result)
        self._batch.clear()
        return result

    def rollback(self) -> None:
        self._batch.clear()


class MemoryQuerier:
    """A view of a :class:`MemoryStore` over ``[mint, maxt]``."""

    def __init__(self, store: MemoryStore, mint: int, maxt: int) -> None:
        self._store = store
        self.mint = mint
        self.maxt = maxt

    def _matching(self, matchers: Sequence[Matcher]) -> Iterator[tuple[Labels, TimestampArray, ValueArray]]:
        for labels in self._store.candidates(matchers):
            if not matches_all(matchers, labels):
                continue
            ts, values = self._store._series[labels]
            lo = int(np.searchsorted(ts, self.mint, side="left"))
            hi = int(np.searchsorted(ts, self.maxt, side="right"))
            if hi > lo:
                yield labels, ts[lo:hi], values[lo:hi]

    def select(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> Iterator[MemorySeries]:
        for labels, ts, values in self._matching(matchers):
            yield MemorySeries(labels, ts, values)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        names: set[str] = set()
        for labels, _, _ in self._matching(matchers):
            names.update(labels.names())
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        values: set[str] = set()
        for labels, _, _ in self._matching(matchers):
            value = labels.get(name, "")
            if value:
                values.add(value)
        return sorted(values)

    def close(self) -> None:
        pass
