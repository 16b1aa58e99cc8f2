"""Reading the head: matcher resolution, the head Querier and block export (no writes: truncation is in
:mod:`tsdb.storage.head.truncate`).

Series data is read in batches of series: under the head's lock the encoded chunks overlapping the range,
the open and the out-of-order samples are copied; after it the chunks are decoded in ONE ``decode_chunks``
call per batch, then merged per series with the open samples and the out-of-order samples (an in-order
sample wins over an out-of-order one with the same timestamp), clipped to the range and filtered by
tombstones. So a writer waits for a reader only while it copies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tsdb.labels import Labels, Matcher
from tsdb.storage.chunks.xor import decode_chunks
from tsdb.storage.head import head_kernels as hk
from tsdb.storage.head.state import HeadState
from tsdb.storage.interfaces import FlatSeries, SelectHints, TimestampArray, ValueArray, check_deadline

I64 = npt.NDArray[np.int64]
BATCH = 512
"""Series read per lock acquisition / decode call."""


def _union(arrays: list[I64]) -> I64:
    if not arrays:
        return np.empty(0, dtype=np.int64)
    if len(arrays) == 1:
        return arrays[0]
    return np.unique(np.concatenate(arrays))


def _matching_values(head: HeadState, matcher: Matcher, want: bool) -> list[I64]:
    """Postings of the values of ``matcher.name`` for which ``matcher.matches(value) == want``."""
    exact = matcher.set_matches()
    if want and exact is not None:
        return [head.postings(matcher.name, v) for v in exact]
    return [head.postings(matcher.name, v) for v in head.label_values_index(matcher.name)
            if matcher.matches(v) == want]


def select_refs(head: HeadState, matchers: Sequence[Matcher]) -> I64:
    """Sorted refs of series matching all matchers (:meth:`HeadState.select_refs`)."""
    return head.select_refs(matchers)


def select_refs_local(head: HeadState, matchers: Sequence[Matcher]) -> I64:
    """:func:`select_refs` written directly over the head's postings (a cross-check in the head tests):
    intersect the postings of matchers that need the label, subtract those of values rejected by matchers
    that also match an absent label."""
    result: I64 | None = None
    subtract: list[I64] = []
    for m in matchers:
        if m.matches(""):
            subtract.extend(_matching_values(head, m, want=False))
        else:
            refs = _union(_matching_values(head, m, want=True))
            result = refs if result is None else np.intersect1d(result, refs, assume_unique=True)
    if result is None:
        result = head.all_postings()
    if subtract and len(result):
        result = np.setdiff1d(result, _union(subtract), assume_unique=True)
    return result


def sorted_series(head: HeadState, refs: I64) -> list[tuple[Labels, int]]:
    """(labels, ref) of live ``refs`` sorted by labels."""
    flats: list[tuple[tuple[str, ...], int]] = []
    ref_list = refs.tolist()
    for lo in range(0, len(ref_list), BATCH):  # short lock holds: writers are not kept waiting
        with head.lock:
            flats += [(flat, r) for r in ref_list[lo:lo + BATCH] if (flat := head.flat_of(r)) is not None]
    # plain tuples sort in C; the flat (n1, v1, n2, v2, ...) order is exactly Prometheus's label-set order
    flats.sort()
    make = Labels.from_sorted_flat
    return [(make(flat), r) for flat, r in flats]


def _apply_tombstones(ts: I64, values: ValueArray, intervals: list[tuple[int, int]]) -> tuple[I64, ValueArray]:
    keep = np.ones(len(ts), dtype=bool)
    for lo, hi in intervals:
        keep &= (ts < lo) | (ts > hi)
    return ts[keep], values[keep]


def read_series(head: HeadState, refs: I64, mint: int, maxt: int) -> list[tuple[I64, ValueArray]]:
    """Samples in ``[mint, maxt]`` of each series in ``refs`` (merged, deduplicated, tombstones applied).

    Caller holds the head's lock. The returned arrays are views of fresh arrays owned by the caller.
    """
    return split_series(*read_series_flat(head, refs, mint, maxt))


def split_series(ts: I64, values: ValueArray, offsets: I64) -> list[tuple[I64, ValueArray]]:
    """Flat (ts, values, offsets) as one (ts, values) pair of views per series."""
    bounds = offsets.tolist()
    return [(ts[bounds[k]:bounds[k + 1]], values[bounds[k]:bounds[k + 1]]) for k in range(len(bounds) - 1)]


@dataclass
class GatheredSeries:
    """Copies of what a batch of head series holds in a range, taken under the head's lock: their encoded
    chunks, open and out-of-order samples and tombstones. :meth:`assemble` decodes and merges them without
    the lock, so writers wait only for the copying."""

    refs: I64
    mint: int
    maxt: int
    chunk_offsets: I64
    chunk_bytes: npt.NDArray[np.uint8]
    byte_offsets: I64
    open_samples: tuple[I64, ValueArray, I64]
    ooo_samples: tuple[I64, ValueArray, I64]
    tombstones: dict[int, list[tuple[int, int]]]

    def assemble(self) -> tuple[I64, ValueArray, I64]:
        """Flat (ts, values, offsets[len(refs)+1]) of the batch: merged, deduplicated, clipped, tombstones
        applied."""
        if len(self.byte_offsets) > 1:
            c_ts, c_values, sample_offsets = decode_chunks(self.chunk_bytes, self.byte_offsets)
        else:
            c_ts, c_values = np.empty(0, np.int64), np.empty(0, np.float64)
            sample_offsets = np.zeros(1, np.int64)
        mint, maxt, chunk_offsets = self.mint, self.maxt, self.chunk_offsets
        (o_ts, o_values, o_off), (x_ts, x_values, x_off) = self.open_samples, self.ooo_samples
        if not x_off[-1] and not self.tombstones:
            # common case, all in one kernel: chunk samples then open samples, clipped
            return hk.merge_clip(np.ascontiguousarray(chunk_offsets), c_ts, c_values,
                                 np.ascontiguousarray(sample_offsets), o_ts, o_values, o_off, mint, maxt)
        out: list[tuple[I64, ValueArray]] = []
        for k, ref in enumerate(self.refs.tolist()):
            a, b = sample_offsets[chunk_offsets[k]], sample_offsets[chunk_offsets[k + 1]]
            ts = np.concatenate([c_ts[a:b], o_ts[o_off[k]:o_off[k + 1]]])
            values = np.concatenate([c_values[a:b], o_values[o_off[k]:o_off[k + 1]]])
            if x_off[k + 1] > x_off[k]:
                ts = np.concatenate([ts, x_ts[x_off[k]:x_off[k + 1]]])
                values = np.concatenate([values, x_values[x_off[k]:x_off[k + 1]]])
                order = np.argsort(ts, kind="stable")
                ts, values = ts[order], values[order]
                keep = np.ones(len(ts), dtype=bool)
                keep[1:] = ts[1:] != ts[:-1]
                ts, values = ts[keep], values[keep]
            lo = int(np.searchsorted(ts, mint, side="left"))
            hi = int(np.searchsorted(ts, maxt, side="right"))
            ts, values = ts[lo:hi], values[lo:hi]
            intervals = self.tombstones.get(ref)
            if intervals:
                ts, values = _apply_tombstones(ts, values, intervals)
            out.append((ts, values))
        offsets = np.zeros(len(out) + 1, dtype=np.int64)
        np.cumsum([len(t) for t, _ in out], out=offsets[1:])
        if not out:
            return np.zeros(0, np.int64), np.zeros(0, np.float64), offsets
        return np.concatenate([t for t, _ in out]), np.concatenate([v for _, v in out]), offsets


def gather_series(head: HeadState, refs: I64, mint: int, maxt: int) -> GatheredSeries:
    """Copy what series ``refs`` hold in ``[mint, maxt]`` (see :class:`GatheredSeries`). Caller holds the
    head's lock."""
    series = head.series
    mint = max(mint, head.truncated_before)  # data below the truncation point belongs to blocks now
    refs = np.ascontiguousarray(refs, dtype=np.int64)
    ids, chunk_offsets = hk.collect_chunks(refs, series, head.chunk_next, head.chunk_mint, head.chunk_maxt,
                                           mint, maxt)
    buf, byte_offsets = hk.gather_bytes(ids, head.chunk_start, head.chunk_len, head.chunk_data)
    chains = []
    for first_field, count_field in ((hk.F_OPEN_FIRST, hk.F_OPEN_COUNT), (hk.F_OOO_FIRST, hk.F_OOO_COUNT)):
        firsts = np.ascontiguousarray(series[refs, first_field])
        counts = np.ascontiguousarray(series[refs, count_field])
        offsets = np.zeros(len(refs) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        out_ts = np.empty(int(offsets[-1]), dtype=np.int64)
        out_bits = np.empty(int(offsets[-1]), dtype=np.int64)
        hk.gather_chains(firsts, counts, head.page_next, head.page_ts, head.page_bits, out_ts, out_bits)
        chains.append((out_ts, out_bits.view(np.float64), offsets))
    stones = head.tombstones
    tombstones = {r: list(stones[r]) for r in refs.tolist() if r in stones} if stones else {}
    return GatheredSeries(refs, mint, maxt, chunk_offsets, buf, byte_offsets, chains[0], chains[1], tombstones)


def read_series_flat(head: HeadState, refs: I64, mint: int, maxt: int) -> tuple[I64, ValueArray, I64]:
    """:func:`read_series` as flat (ts, values, offsets[len(refs)+1]). Caller holds the head's lock."""
    return gather_series(head, refs, mint, maxt).assemble()


def read_flat(head: HeadState, pairs: list[tuple[Labels, int]], mint: int, maxt: int) -> FlatSeries:
    """The series of ``pairs`` with data in range, columnar (see :class:`FlatSeries`), batch by batch."""
    labels: list[Labels] = []
    ts_parts: list[I64] = []
    value_parts: list[ValueArray] = []
    count_parts: list[I64] = []
    for start in range(0, len(pairs), BATCH):
        check_deadline("reading series")
        part = pairs[start:start + BATCH]
        with head.lock:
            refs = np.fromiter((r for _, r in part), dtype=np.int64, count=len(part))
            mask = head.live_mask(refs)
            live = part if mask.all() else [p for p, ok in zip(part, mask.tolist(), strict=True) if ok]
            gathered = gather_series(head, refs[mask], mint, maxt)
        ts, values, offsets = gathered.assemble()  # decoding needs no lock: writers wait only for the copy
        counts = np.diff(offsets)
        if counts.all():
            labels.extend(lb for lb, _ in live)
        else:
            labels.extend(lb for (lb, _), c in zip(live, counts.tolist(), strict=True) if c)
            counts = counts[counts > 0]
        ts_parts.append(ts)
        value_parts.append(values)
        count_parts.append(counts)
    offsets = np.zeros(len(labels) + 1, dtype=np.int64)
    if count_parts:
        np.cumsum(np.concatenate(count_parts), out=offsets[1:])
    ts = np.concatenate(ts_parts) if ts_parts else np.zeros(0, np.int64)
    values = np.concatenate(value_parts) if value_parts else np.zeros(0, np.float64)
    return FlatSeries(labels, ts, values, offsets)


def _iter_data(head: HeadState, pairs: list[tuple[Labels, int]], mint: int,
               maxt: int) -> Iterator[tuple[Labels, int, I64, ValueArray]]:
    """(labels, ref, ts, values) of series with data in range, in the order of ``pairs``."""
    for start in range(0, len(pairs), BATCH):
        check_deadline("reading series")
        part = pairs[start:start + BATCH]
        with head.lock:
            refs = np.fromiter((r for _, r in part), dtype=np.int64, count=len(part))
            mask = head.live_mask(refs)  # a series collected since the listing is skipped
            live = part if mask.all() else [p for p, ok in zip(part, mask.tolist(), strict=True) if ok]
            gathered = gather_series(head, refs[mask], mint, maxt)
        data = split_series(*gathered.assemble())
        for (labels, ref), (ts, values) in zip(live, data, strict=True):
            if len(ts):
                yield labels, ref, ts, values


class HeadSeries:
    """A series of a head query; its samples were read (and clipped) when the series was yielded."""

    __slots__ = ("_ts", "_values", "labels", "ref")

    def __init__(self, labels: Labels, ref: int, ts: I64, values: ValueArray) -> None:
        self.labels = labels
        self.ref = ref
        self._ts = ts
        self._values = values

    def samples(self) -> tuple[TimestampArray, ValueArray]:
        return self._ts.copy(), self._values.copy()


class HeadQuerier:
    """A read view of the head over ``[mint, maxt]`` (inclusive ms). Not thread-safe itself."""

    def __init__(self, head: HeadState, mint: int, maxt: int) -> None:
        self._head = head
        self._floor = head.read_floor
        self.mint = max(mint, self._floor)
        self.maxt = maxt
        self._open = True
        head.readers.register(self._floor)

    def select(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> Iterator[HeadSeries]:
        """Series matching all matchers with samples in range, sorted by labels (hints are not needed)."""
        pairs = sorted_series(self._head, select_refs(self._head, matchers))
        for labels, ref, ts, values in _iter_data(self._head, pairs, self.mint, self.maxt):
            yield HeadSeries(labels, ref, ts, values)

    def select_flat(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> FlatSeries:
        """``select`` as one columnar result (see :class:`FlatSeries`)."""
        pairs = sorted_series(self._head, select_refs(self._head, matchers))
        return read_flat(self._head, pairs, self.mint, self.maxt)

    def _live_labels(self, refs: I64) -> list[Labels]:
        """Labels of ``refs`` having samples in range."""
        head = self._head
        with head.lock:
            covers = (self.mint <= head.min_time and self.maxt >= head.max_time and not head.tombstones)
            if covers:
                # every live series holds data (truncate collects empty ones), all of it in range
                has_data = ((head.series[refs, hk.F_LAST_TS] != hk.NO_TS)
                            | (head.series[refs, hk.F_OOO_COUNT] > 0))
                return [lb for r in refs[has_data].tolist() if (lb := head.labels_of(r)) is not None]
        pairs = sorted_series(head, refs)
        return [labels for labels, _, _, _ in _iter_data(head, pairs, self.mint, self.maxt)]

    def label_sets(self, matchers: Sequence[Matcher]) -> list[Labels]:
        """Label sets of matching series with samples in range (no samples are read when the range covers
        the head)."""
        return self._live_labels(select_refs(self._head, matchers))

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted label names of matching series with samples in range."""
        names: set[str] = set()
        for labels in self._live_labels(select_refs(self._head, matchers)):
            names.update(labels.names())
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted values of ``name`` on matching series with samples in range."""
        refs = select_refs(self._head, [*matchers, Matcher("!=", name, "")])
        return sorted({labels.get(name, "") for labels in self._live_labels(refs)})

    def close(self) -> None:
        """Let truncation drop what this reader was created to see (idempotent)."""
        if self._open:
            self._open = False
            self._head.readers.release(self._floor)


@dataclass
class SeriesForBlock:
    """One series to persist: labels, head ref and its samples (ascending, unique) in the block range."""

    labels: Labels
    ref: int
    ts: TimestampArray
    values: ValueArray


def series_for_block(head: HeadState, mint: int, maxt: int) -> Iterator[SeriesForBlock]:
    """Series with samples in ``[mint, maxt)`` (half-open, as block ranges are), sorted by labels."""
    pairs = sorted_series(head, head.all_postings())
    for labels, ref, ts, values in _iter_data(head, pairs, mint, maxt - 1):
        yield SeriesForBlock(labels, ref, ts, values)
