"""The global view: one :class:`~tsdb.storage.interfaces.Queryable` over the local data and other nodes.

:class:`GlobalQueryable` wraps the local store (may be None) and a :class:`StoreClient` per store of
``query.stores``. Its queriers fan every request out to all stores in parallel (a thread per store from a
shared pool) with the querier's ``[mint, maxt]``, then merge: equal label sets from several sources become
one series (:func:`~tsdb.storage.merge.merge_flat`, local data first), then replicas are deduplicated
(:mod:`tsdb.storage.remote.dedup`). Everything is pulled as raw samples and evaluated here: no aggregation
is pushed down to the stores.

A store that fails is skipped and named in :attr:`GlobalQuerier.warnings` (partial responses, the
default), or, with ``partial_response=False``, fails the request with
:class:`~tsdb.storage.remote.client.StoreUnavailableError`. A querier is used by one thread at a time, as
every querier; the queryable is thread-safe.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from tsdb.labels import Labels, Matcher
from tsdb.storage.interfaces import FlatSeries, Querier, Queryable, SelectHints, Series
from tsdb.storage.merge import merge_flat
from tsdb.storage.remote.client import StoreClient, StoreUnavailableError
from tsdb.storage.remote.dedup import dedup_flat, dedup_labels

T = TypeVar("T")


class GlobalQueryable:
    """The local data (if any) and every store as one read view (see the module docs). Close it to stop
    its request threads."""

    def __init__(self, local: Queryable | None, stores: Sequence[StoreClient], replica_labels: Sequence[str] = (),
                 partial_response: bool = True) -> None:
        self.local = local
        self.stores = list(stores)
        self.replica_labels = tuple(replica_labels)
        self.partial_response = partial_response
        self._pool = ThreadPoolExecutor(max_workers=max(2, min(32, 2 * len(self.stores))),
                                        thread_name_prefix="tsdb-store")

    def querier(self, mint: int, maxt: int) -> GlobalQuerier:
        local = self.local.querier(mint, maxt) if self.local is not None else None
        return GlobalQuerier(self, local, mint, maxt)

    def submit(self, call: Callable[[], T]) -> Future[T]:
        """Run ``call`` on a store request thread."""
        return self._pool.submit(call)

    def close(self) -> None:
        """Stop the request threads (requests in flight finish first)."""
        self._pool.shutdown(wait=True)


class GlobalQuerier:
    """A read view over ``[mint, maxt]`` of the local data and all stores. ``warnings`` lists the stores
    that failed (partial responses); callers show them with the answer."""

    def __init__(self, queryable: GlobalQueryable, local: Querier | None, mint: int, maxt: int) -> None:
        self._queryable = queryable
        self._local = local
        self.mint = mint
        self.maxt = maxt
        self.warnings: list[str] = []

    def _fan_out(self, call: Callable[[StoreClient], T]) -> list[T]:
        """``call`` on every store in parallel; the answers of those that succeeded, in store order."""
        return self._collect(self._submit(call))

    def _submit(self, call: Callable[[StoreClient], T]) -> list[Future[T]]:
        return [self._queryable.submit(functools.partial(call, store)) for store in self._queryable.stores]

    def _collect(self, futures: list[Future[T]]) -> list[T]:
        """The answers of the stores that succeeded, in store order; a failure is a warning or raised."""
        answers: list[T] = []
        for future in futures:
            try:
                answers.append(future.result())
            except StoreUnavailableError as err:
                if not self._queryable.partial_response:
                    for other in futures:
                        other.cancel()
                    raise
                self._warn(f"partial response: {err}")
        return answers

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def select_flat(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> FlatSeries:
        """The series matching ``matchers`` from every source, merged and deduplicated, sorted by labels."""
        pending = self._submit(lambda store: store.read(matchers, self.mint, self.maxt, hints))
        parts: list[FlatSeries] = []
        try:
            if self._local is not None:  # while the stores answer
                flat = getattr(self._local, "select_flat", None)
                parts.append(flat(matchers, hints) if flat is not None
                             else FlatSeries.from_series(self._local.select(matchers, hints)))
        finally:
            remote = self._collect(pending)
        parts.extend(p for p in remote if p.labels)
        merged = merge_flat(parts) if len(parts) != 1 else parts[0]
        return dedup_flat(merged, self._queryable.replica_labels)

    def select(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> Iterator[Series]:
        """:meth:`select_flat` one series at a time."""
        flat = self.select_flat(matchers, hints)
        for i, labels in enumerate(flat.labels):
            lo, hi = int(flat.offsets[i]), int(flat.offsets[i + 1])
            yield _Slice(labels, flat.ts[lo:hi], flat.values[lo:hi])

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        names: set[str] = set()
        for found, warnings in self._fan_out(lambda store: store.label_names(matchers, self.mint, self.maxt)):
            names.update(found)
            self._store_warnings(warnings)
        if self._local is not None:
            names.update(self._local.label_names(matchers))
        return sorted(names - set(self._queryable.replica_labels))

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        if name in self._queryable.replica_labels:
            return []  # deduplicated series have no replica labels
        values: set[str] = set()
        for found, warnings in self._fan_out(lambda store: store.label_values(name, matchers, self.mint,
                                                                               self.maxt)):
            values.update(found)
            self._store_warnings(warnings)
        if self._local is not None:
            values.update(self._local.label_values(name, matchers))
        return sorted(values)

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        """Sorted distinct label sets of series matching ``matchers`` (replica labels removed), from the
        stores' series endpoints: no samples are transferred."""
        found: list[Labels] = []
        for label_sets, warnings in self._fan_out(lambda store: store.series(matchers, self.mint, self.maxt)):
            found.extend(label_sets)
            self._store_warnings(warnings)
        if self._local is not None:
            found.extend(s.labels for s in self._local.select(matchers))
        return dedup_labels(found, self._queryable.replica_labels)

    def _store_warnings(self, warnings: Sequence[str]) -> None:
        for warning in warnings:
            self._warn(warning)

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
            self._local = None


class _Slice:
    """One series of a columnar answer (views of its arrays; copies are handed out)."""

    __slots__ = ("_ts", "_values", "labels")

    def __init__(self, labels: Labels, ts: np.ndarray, values: np.ndarray) -> None:
        self.labels = labels
        self._ts = ts
        self._values = values

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        return self._ts.copy(), self._values.copy()
