"""Step-aligned cache of range query results, so a dashboard opened again (or refreshed) computes only the
steps it has not seen.

A range query's value at a step depends only on the data and that step, not on the query's start and end,
unless the query uses ``@ start()``/``@ end()``/``@ <time>`` or ``step()``/``range()`` durations (those are
never cached). Entries are keyed by the query text, step, grid phase (``start mod step``), source resolution
and the engine's lookback and subquery step; each holds the finished result over a contiguous run of steps.
Only steps at least :data:`~tsdb.storage.interfaces.RECENT_WRITE_WINDOW_MS` (plus the query's own
look-ahead: negative offsets, ``smoothed``) before the wall clock are stored: newer data may still arrive.
Data written into older time, deletions and retention change the storage's ``data_generation``, which drops
every entry made before. A request whose start lies inside an entry reuses its steps and evaluates only the
steps after it; anything else evaluates in full and replaces the entry. Entries are evicted least recently
used first when the cache holds more than ``max_bytes``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tsdb.labels import Labels
from tsdb.query.value import Annotations, Value, VectorValue, label_order_key
from tsdb.storage.interfaces import RECENT_WRITE_WINDOW_MS

CacheKey = tuple[str, int, int, str, int, int]
Compute = Callable[[int, int], tuple[Value, Annotations]]


@dataclass
class _Entry:
    first: int  # first cached step (ms)
    last: int  # last cached step (ms)
    value: VectorValue
    warnings: list[str]
    infos: list[str]
    generation: int
    nbytes: int


def _columns(value: VectorValue, lo: int, hi: int, copy: bool = False) -> VectorValue:
    """Steps ``lo:hi`` (column indices) of ``value``, rows absent there dropped; ``copy``: own arrays."""
    part = VectorValue(value.labels, value.values[:, lo:hi], value.present[:, lo:hi]).without_empty_rows()
    if copy:
        part = VectorValue(part.labels, part.values.copy(), part.present.copy())
    return part


def join_steps(left: VectorValue, right: VectorValue) -> VectorValue:
    """The finished result over ``left``'s steps followed by ``right``'s (series matched by labels, in
    Prometheus's label order)."""
    labels: list[Labels] = sorted(set(left.labels) | set(right.labels), key=label_order_key)
    row = {lbls: i for i, lbls in enumerate(labels)}
    n_left, n_right = left.values.shape[1], right.values.shape[1]
    values = np.zeros((len(labels), n_left + n_right))
    present = np.zeros((len(labels), n_left + n_right), dtype=bool)
    for part, offset in ((left, 0), (right, n_left)):
        rows = np.fromiter((row[lbls] for lbls in part.labels), dtype=np.intp, count=len(part.labels))
        width = part.values.shape[1]
        values[rows, offset:offset + width] = part.values
        present[rows, offset:offset + width] = part.present
    return VectorValue(labels, values, present)


def _size(value: VectorValue) -> int:
    labels = sum(64 + sum(len(k) + len(v) + 16 for k, v in lbls.items()) for lbls in value.labels)
    return int(value.values.nbytes + value.present.nbytes + labels + 256)


class ResultCache:
    """Range results by query; thread-safe. ``generation()`` is the storage's data generation (read before
    each evaluation, so data changed meanwhile never outlives its generation); ``clock`` is wall seconds."""

    def __init__(self, max_bytes: int, generation: Callable[[], int],
                 clock: Callable[[], float] = time.time, hold_back_ms: int = RECENT_WRITE_WINDOW_MS) -> None:
        self.max_bytes = max_bytes
        self._generation = generation
        self._clock = clock
        self.hold_back_ms = hold_back_ms
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.partial_hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _lookup(self, key: CacheKey, generation: int, start: int) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.generation != generation:
                self.bytes -= entry.nbytes
                del self._entries[key]
                return None
            if not entry.first <= start <= entry.last:
                return None
            self._entries.move_to_end(key)
            return entry

    def _store(self, key: CacheKey, entry: _Entry) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            if entry.nbytes > self.max_bytes:
                return
            self._entries[key] = entry
            self.bytes += entry.nbytes
            while self.bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted.nbytes

    def range(self, key: CacheKey, start: int, end: int, step: int, ahead_ms: int,
              compute: Compute) -> tuple[Value, Annotations]:
        """The result over steps ``start, start+step, … <= end``, from the cache where it has them and from
        ``compute(first, last)`` (the same query over another run of steps) for the rest."""
        generation = self._generation()
        horizon = int(self._clock() * 1000) - self.hold_back_ms - max(0, ahead_ms)
        entry = self._lookup(key, generation, start)
        if entry is None:
            self.misses += 1
            value, annotations = compute(start, end)
        else:
            lo = (start - entry.first) // step
            cached_last = min(end, entry.last)
            cached = _columns(entry.value, lo, (cached_last - entry.first) // step + 1)
            annotations = Annotations()
            for message in entry.warnings:
                annotations.warn(message)
            for message in entry.infos:
                annotations.info(message)
            if cached_last == end:
                self.hits += 1
                return cached, annotations
            self.partial_hits += 1
            tail, tail_annotations = compute(cached_last + step, end)
            if not isinstance(tail, VectorValue):
                return compute(start, end)
            for message in tail_annotations.warnings:
                annotations.warn(message)
            for message in tail_annotations.infos:
                annotations.info(message)
            value = join_steps(cached, tail)
        if isinstance(value, VectorValue) and horizon >= start:
            last = min(end, start + (horizon - start) // step * step)
            keep = _columns(value, 0, (last - start) // step + 1, copy=True)
            self._store(key, _Entry(start, last, keep, list(annotations.warnings), list(annotations.infos),
                                    generation, _size(keep)))
        return value, annotations
