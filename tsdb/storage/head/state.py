"""The head's state: series table, postings index, open chunks and encoded chunks of recent data.

:class:`HeadState` owns the data and the operations every other head module builds on (series refs,
postings, the append kernel pass, replay, tombstones, series removal). Appending, reading and truncating
live in :mod:`~tsdb.storage.head.append`, :mod:`~tsdb.storage.head.read` and
:mod:`~tsdb.storage.head.truncate`, which import this module (never the reverse);
:class:`tsdb.storage.head.head.Head` puts them together.

The head knows nothing of the WAL: :class:`tsdb.storage.head.append.HeadAppender` validates a batch,
hands it to the ``wal_write`` callable the DB gave the head, then applies it. Replay feeds batches in
through :meth:`Head.replay_series` / :meth:`Head.replay_samples`.

Per-series state lives in numpy arrays indexed by ref (see :mod:`tsdb.storage.head.head_kernels`); samples
are appended by one kernel call per batch. Open chunks are cut as Prometheus does (near
``chunk_samples`` samples, at most twice that, never across a multiple of ``chunk_range``), encoded in
one ``encode_chunks`` call per batch, and split again if an encoded chunk exceeds ``MAX_CHUNK_BYTES``.

Thread-safety: every public method takes the head's lock; kernels run under it (they release the GIL,
so other Python threads keep running).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tsdb.errors import InvalidArgumentError, InvalidLabelsError
from tsdb.labels import Labels, Matcher
from tsdb.storage import limits
from tsdb.storage.chunks.xor import encode_chunks
from tsdb.storage.head import head_kernels as hk
from tsdb.storage.head.readers import HeadReaders
from tsdb.storage.index.postings import select_postings
from tsdb.storage.interfaces import CommitResult, TimestampArray, ValueArray

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

DEFAULT_CHUNK_RANGE = 2 * 3600 * 1000
DEFAULT_CHUNK_SAMPLES = 120
MAX_CHUNK_BYTES = 1024
"""Largest encoded chunk (bytes) the head cuts; larger ones are split (Prometheus's XOR chunk limit)."""

WalWrite = Callable[[list[tuple[int, Labels]], I64, TimestampArray, ValueArray], "int | None"]
"""``wal_write(new_series, refs, ts, values)``: write a batch to the WAL; raise StorageError on failure.

Returns a sync ticket when durability is deferred to ``wal_sync(ticket)`` (group commit), else None."""
WalSync = Callable[[int], None]
"""``wal_sync(ticket)``: return once the batch written with ``ticket`` is durable; StorageError if not."""
SampleListener = Callable[[Sequence[Labels], I64, TimestampArray, ValueArray, "npt.NDArray[np.bool_]"], None]
"""``listener(labels per series, offsets, ts, values, accepted)``: a commit's durable samples (see
``HeadState.sample_listeners``)."""
_log = logging.getLogger("tsdb.head")

REASONS = {
    hk.OUT_OF_ORDER: "out_of_order",
    hk.DUPLICATE: "duplicate",
    hk.OUT_OF_BOUNDS: "out_of_bounds",
    hk.INVALID_LABELS: "invalid_labels",
    hk.SERIES_LIMIT: limits.SERIES_LIMIT,
    hk.METRIC_SERIES_LIMIT: limits.METRIC_SERIES_LIMIT,
    hk.LABEL_COUNT: limits.LABEL_COUNT,
    hk.LABEL_NAME_LENGTH: limits.LABEL_NAME_LENGTH,
    hk.LABEL_VALUE_LENGTH: limits.LABEL_VALUE_LENGTH,
}
_CODES = {reason: code for code, reason in REASONS.items()}

_ALL = slice(None)


def _key(labels: Labels) -> tuple[str, ...]:
    """The plain-tuple dict key of a label set."""
    return tuple.__getitem__(labels, _ALL)


@dataclass
class HeadStats:
    """Figures for self-metrics: live series, samples held (open + encoded + out-of-order), chunks."""

    num_series: int
    num_samples: int
    num_chunks: int
    chunk_bytes: int
    min_time: int
    max_time: int


class HeadState:
    """The in-memory head of the database; implements ``Appendable`` and ``Queryable``.

    ``chunk_range`` (ms) is the block boundary chunks never straddle; ``out_of_order_window`` (ms, 0 =
    off) accepts samples older than a series' newest one if within that window of the head's max time;
    ``wal_write`` is called by commits before anything is applied (None: no WAL); encoded chunks over
    ``max_chunk_bytes`` (default 1 KiB) are split.
    """

    def __init__(self, chunk_range: int = DEFAULT_CHUNK_RANGE, chunk_samples: int = DEFAULT_CHUNK_SAMPLES,
                 out_of_order_window: int = 0, wal_write: WalWrite | None = None,
                 initial_series: int = 1024, initial_pages: int = 4096,
                 max_chunk_bytes: int | None = None) -> None:
        if chunk_range <= 0 or chunk_samples <= 0 or out_of_order_window < 0:
            raise InvalidArgumentError(f"invalid head options: chunk_range={chunk_range}, chunk_samples="
                                       f"{chunk_samples}, out_of_order_window={out_of_order_window}")
        self.chunk_range = chunk_range
        self.chunk_samples = chunk_samples
        self.out_of_order_window = out_of_order_window
        self.wal_write = wal_write
        self.wal_sync: WalSync | None = None
        # called with every commit's result once it is applied (self metrics count stored samples)
        self.commit_listeners: list[Callable[[CommitResult], None]] = []
        # called with every commit's samples once they are durable and applied, in WAL order and under the
        # lock: (labels per series, offsets, timestamps, values, accepted mask); remote write forwards them
        self.sample_listeners: list[SampleListener] = []
        self.max_chunk_bytes = MAX_CHUNK_BYTES if max_chunk_bytes is None else max_chunk_bytes
        self.lock = threading.RLock()
        # commits apply in the order they were written to the WAL (so replay reproduces the live head)
        self._apply_turn = threading.Condition(self.lock)
        self._issued_seq = 0
        self._applied_seq = 0
        # series table; ref 0 is never used
        # keyed by the plain flat tuple: C-level hash/eq, ~3x faster lookups than Labels' Python methods
        self._by_labels: dict[tuple[str, ...], int] = {}
        # ref -> the same flat tuple (one object per series; Labels are built from it on read)
        self._flat: list[tuple[str, ...] | None] = [None] * initial_series
        self._live = np.zeros(initial_series, dtype=bool)  # vectorised "is this ref a live series"
        self._strings: dict[str, str] = {}
        self._next_ref = 1
        self._aliases: dict[int, int] = {}
        self._unlogged: dict[int, Labels] = {}  # created, series record not yet written to the WAL
        self.series = np.empty((initial_series, hk.NFIELDS), dtype=np.int64)
        self._init_rows(0, initial_series)
        # postings: name -> value -> refs (appended; sorted unless replay fed refs out of order)
        self._postings: dict[str, dict[str, list[int]]] = {}
        self._postings_cache: dict[tuple[str, str], I64] = {}
        # page arena for open and out-of-order samples
        self.state = np.zeros(hk.NSTATE, dtype=np.int64)
        self.state[hk.S_MINT] = np.iinfo(np.int64).max
        self.state[hk.S_MAXT] = np.iinfo(np.int64).min
        self.state[hk.S_MIN_VALID] = np.iinfo(np.int64).min
        self._truncated_before = int(np.iinfo(np.int64).min)
        self._handed_over_before = int(np.iinfo(np.int64).min)
        self.readers = HeadReaders()
        self.state[hk.S_FREE] = -1
        self.state[hk.S_NPAGES] = initial_pages
        self.page_next = np.empty(initial_pages, dtype=np.int64)  # set when a page is allocated
        self.page_ts = np.empty(initial_pages * hk.PAGE, dtype=np.int64)
        self.page_bits = np.empty(initial_pages * hk.PAGE, dtype=np.int64)
        # encoded chunks: a table of rows + one byte arena
        self.chunk_ref = np.zeros(0, dtype=np.int64)
        self.chunk_mint = np.zeros(0, dtype=np.int64)
        self.chunk_maxt = np.zeros(0, dtype=np.int64)
        self.chunk_count = np.zeros(0, dtype=np.int64)
        self.chunk_start = np.zeros(0, dtype=np.int64)
        self.chunk_len = np.zeros(0, dtype=np.int64)
        self.chunk_next = np.zeros(0, dtype=np.int64)
        self.num_chunks = 0
        self.chunk_data = np.zeros(0, dtype=np.uint8)
        self.chunk_bytes = 0
        # tombstones: ref -> [(mint, maxt), ...] applied at read time
        self.tombstones: dict[int, list[tuple[int, int]]] = {}
        self.replay_dropped = 0
        # series limits (off by default, see set_limits); refs of existing series that break a label limit
        self.limits = limits.SeriesLimits()
        self._blocked: dict[int, int] = {}
        self._blocked_refs = np.zeros(0, dtype=np.int64)

    # -- capacity -----------------------------------------------------------------------------
    def _init_rows(self, lo: int, hi: int) -> None:
        rows = self.series[lo:hi]
        rows[:] = -1
        rows[:, hk.F_LAST_TS] = hk.NO_TS
        rows[:, hk.F_LAST_BITS] = 0
        rows[:, hk.F_OPEN_COUNT] = 0
        rows[:, hk.F_OPEN_BOUNDARY] = 0
        rows[:, hk.F_OOO_COUNT] = 0

    def _ensure_series_capacity(self, max_ref: int) -> None:
        capacity = self.series.shape[0]
        if max_ref < capacity:
            return
        new_capacity = max(capacity * 2, max_ref + 1)
        grown = np.empty((new_capacity, hk.NFIELDS), dtype=np.int64)
        grown[:capacity] = self.series
        self.series = grown
        self._init_rows(capacity, new_capacity)
        self._flat.extend([None] * (new_capacity - capacity))
        live = np.zeros(new_capacity, dtype=bool)
        live[:capacity] = self._live
        self._live = live

    def _grow_pages(self) -> None:
        # np.empty + copy: the new tail stays untouched (not resident) until pages are allocated
        npages = int(self.state[hk.S_NPAGES])
        new = npages * 2
        for name, size in (("page_next", 1), ("page_ts", hk.PAGE), ("page_bits", hk.PAGE)):
            old = getattr(self, name)
            grown = np.empty(new * size, dtype=np.int64)
            grown[: npages * size] = old
            setattr(self, name, grown)
        self.state[hk.S_NPAGES] = new

    # -- series table -------------------------------------------------------------------------
    def _intern(self, labels: Labels) -> tuple[str, ...]:
        strings = self._strings
        return tuple([strings.setdefault(s, s) for s in tuple.__iter__(labels)])

    def get_ref(self, labels: Labels) -> int:
        """The ref of a series, 0 if unknown."""
        return self._by_labels.get(_key(labels), 0)

    def known_ref_getter(self) -> Callable[[Labels], int]:
        """A fast ``get_ref`` (no lock: a dict read is atomic; 0 for unknown series)."""
        get = self._by_labels.get
        getitem = tuple.__getitem__
        return lambda labels: get(getitem(labels, _ALL), 0)

    def live_mask(self, refs: I64) -> npt.NDArray[np.bool_]:
        """Per ref: is it a live series (refs are never reused for other label sets). Lock held."""
        inside = (refs > 0) & (refs < len(self._live))
        out = np.zeros(len(refs), dtype=bool)
        out[inside] = self._live[refs[inside]]
        return out

    def flat_of(self, ref: int) -> tuple[str, ...] | None:
        """The interned flat (n1, v1, n2, v2, ...) tuple of series ``ref`` (None if unknown)."""
        return self._flat[ref] if 0 < ref < len(self._flat) else None

    def labels_of(self, ref: int) -> Labels | None:
        """The labels of series ``ref`` (None if unknown or garbage-collected)."""
        flat = self._flat[ref] if 0 < ref < len(self._flat) else None
        return None if flat is None else Labels.from_sorted_flat(flat)

    def _add_series(self, ref: int, labels: Labels) -> None:
        flat = self._intern(labels)
        self._ensure_series_capacity(ref)
        self._flat[ref] = flat
        self._live[ref] = True
        self._by_labels[flat] = ref
        for name, value in zip(flat[::2], flat[1::2], strict=True):
            self._postings.setdefault(name, {}).setdefault(value, []).append(ref)
            self._postings_cache.pop((name, value), None)
        self._next_ref = max(self._next_ref, ref + 1)

    def issue_turn(self) -> int:
        """Reserve the next apply turn; call with the lock held, right after the batch's WAL write."""
        self._issued_seq += 1
        return self._issued_seq

    @contextmanager
    def apply_turn(self, turn: int) -> Iterator[None]:
        """Hold the lock from when every earlier turn is done until the block ends (which ends ``turn``)."""
        with self._apply_turn:
            while self._applied_seq != turn - 1:
                self._apply_turn.wait()
            try:
                yield
            finally:
                self._applied_seq = turn
                self._apply_turn.notify_all()

    def notify_samples(self, labels_list: Sequence[Labels], offsets: I64, ts: TimestampArray, values: ValueArray,
                       status: npt.NDArray[np.int8]) -> None:
        """Hand a commit's samples and which were stored (by their append ``status``) to the sample
        listeners. A failing listener is logged: the samples are stored whatever it does."""
        accepted = (status == hk.OK) | (status == hk.OK_OOO)
        for listener in self.sample_listeners:
            try:
                listener(labels_list, offsets, ts, values, accepted)
            except Exception:
                _log.exception("sample listener failed")

    def mark_unlogged(self, series: Iterable[tuple[int, Labels]]) -> None:
        """Series whose records were lost with a failed WAL sync must be logged again. Lock held."""
        for ref, labels in series:
            if ref < len(self._live) and self._live[ref]:
                self._unlogged[ref] = labels

    def get_or_create(self, labels_list: Sequence[Labels]) -> tuple[I64, list[tuple[int, Labels]],
                                                                     list[tuple[int, int]]]:
        """Refs for label sets (one dict lookup each), creating unknown series. Caller holds the lock.

        Returns (refs with 0 for refused label sets, the ``(ref, labels)`` whose series record still has
        to be logged, ``(index, status code)`` of the refused ones: ``INVALID_LABELS`` or a series limit
        code, see :meth:`set_limits`). A series stays "to be logged" until :meth:`mark_logged`, so a batch
        whose WAL write failed does not leave later samples of its new series without a series record in
        the WAL.
        """
        n = len(labels_list)
        keys = list(map(tuple.__getitem__, labels_list, itertools.repeat(_ALL, n)))
        # C-level loop: one lookup per series; 0 (never a ref) for unknown label sets
        refs = np.fromiter(map(self._by_labels.get, keys, itertools.repeat(0, n)), dtype=np.int64, count=n)
        invalid: list[tuple[int, int]] = []
        limited = self.limits.enabled
        for i in np.flatnonzero(refs == 0).tolist():
            labels = labels_list[i]
            ref = self._by_labels.get(keys[i])  # created earlier in this batch
            if ref is None:
                try:
                    labels.validate()
                except InvalidLabelsError:
                    invalid.append((i, hk.INVALID_LABELS))
                    continue
                if limited:
                    code = self._limit_code(keys[i], labels)
                    if code:
                        invalid.append((i, code))
                        continue
                ref = self._next_ref
                self._add_series(ref, labels)
                self._unlogged[ref] = labels
            refs[i] = ref
        if self._blocked:
            for i in np.flatnonzero(np.isin(refs, self._blocked_refs)).tolist():
                invalid.append((i, self._blocked[int(refs[i])]))
                refs[i] = 0
        unlogged = self._unlogged
        to_log = [(r, unlogged[r]) for r in sorted(unlogged.keys() & set(refs.tolist()))] if unlogged else []
        return refs, to_log, invalid

    def _limit_code(self, flat: tuple[str, ...], labels: Labels) -> int:
        """The status code of the series limit a new series would break (0: none). Caller holds the lock."""
        lim = self.limits
        reason = limits.label_violation(flat, lim) if lim.labels_limited else None
        if reason is not None:
            return _CODES[reason]
        if lim.max_series and len(self._by_labels) >= lim.max_series:
            return hk.SERIES_LIMIT
        if lim.max_series_per_metric:
            name = labels.metric_name
            if name and len(self._postings.get("__name__", {}).get(name, ())) >= lim.max_series_per_metric:
                return hk.METRIC_SERIES_LIMIT
        return 0

    def set_limits(self, series_limits: limits.SeriesLimits) -> None:
        """Apply series limits from now on: new series breaking one are refused, and so are existing series
        whose label set breaks a label limit (the series-count limits never refuse existing series)."""
        with self.lock:
            self.limits = series_limits
            blocked: dict[int, int] = {}
            if series_limits.labels_limited:
                for ref, flat in enumerate(self._flat):
                    if flat is not None:
                        reason = limits.label_violation(flat, series_limits)
                        if reason is not None:
                            blocked[ref] = _CODES[reason]
            self._blocked = blocked
            self._blocked_refs = np.fromiter(blocked, dtype=np.int64, count=len(blocked))

    def mark_logged(self, refs: Iterable[int]) -> None:
        """Record that the series records of ``refs`` are durable (in the WAL). Caller holds the lock."""
        for ref in refs:
            self._unlogged.pop(ref, None)

    # -- postings (the PostingsSource protocol) ---------------------------------------------------
    def postings(self, name: str, value: str) -> I64:
        """Sorted refs of live series having label ``name="value"`` (cached until the list changes).

        ``("", "")`` is the all-postings key, as in Prometheus's index.
        """
        if not name and not value:
            return self.all_postings()
        with self.lock:
            key = (name, value)
            cached = self._postings_cache.get(key)
            if cached is not None:
                return cached
            refs = np.asarray(self._postings.get(name, {}).get(value, []), dtype=np.int64)
            if len(refs) > 1 and np.any(refs[1:] < refs[:-1]):
                refs = np.sort(refs)
            refs.flags.writeable = False
            self._postings_cache[key] = refs
            return refs

    def label_values_index(self, name: str) -> list[str]:
        """Sorted values of ``name`` over all live series (no time range)."""
        with self.lock:
            return sorted(self._postings.get(name, {}))

    def label_names_index(self) -> list[str]:
        with self.lock:
            return sorted(self._postings)

    def label_values(self, name: str) -> list[str]:
        """PostingsSource alias of :meth:`label_values_index`."""
        return self.label_values_index(name)

    def all_postings(self) -> I64:
        """Sorted refs of all live series."""
        with self.lock:
            refs = np.fromiter(self._by_labels.values(), dtype=np.int64, count=len(self._by_labels))
            refs.sort()
            return refs

    # -- appending ------------------------------------------------------------------------------
    def run_append(self, refs: I64, ts: TimestampArray, values: ValueArray, apply: bool) -> npt.NDArray[np.int8]:
        """One kernel pass over a batch: per-sample status codes; with ``apply`` also store. Lock held."""
        refs = np.ascontiguousarray(refs, dtype=np.int64)
        ts = np.ascontiguousarray(ts, dtype=np.int64)
        bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
        n = len(refs)
        status = np.zeros(n, dtype=np.int8)
        pend_ref = np.empty(n if apply else 0, dtype=np.int64)
        pend_first = np.empty_like(pend_ref)
        pend_count = np.empty_like(pend_ref)
        self.state[hk.S_NPENDING] = 0
        start = 0
        while True:
            start = hk.append_samples(refs, ts, bits, status, start, apply, self.series, self.state,
                                      self.page_next, self.page_ts, self.page_bits,
                                      pend_ref, pend_first, pend_count,
                                      self.out_of_order_window, self.chunk_samples, self.chunk_range)
            if start >= n or not apply:
                break
            self._grow_pages()
        if apply:
            npend = int(self.state[hk.S_NPENDING])
            if npend:
                self._encode_pending(pend_ref[:npend], pend_first[:npend], pend_count[:npend])
        return status

    def _encode_pending(self, refs: I64, firsts: I64, counts: I64) -> None:
        """Encode cut chains in one ``encode_chunks`` call, store and link the chunks, free the pages."""
        total = int(counts.sum())
        out_ts = np.empty(total, dtype=np.int64)
        out_bits = np.empty(total, dtype=np.int64)
        hk.gather_chains(firsts, counts, self.page_next, self.page_ts, self.page_bits, out_ts, out_bits)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        values = out_bits.view(np.float64)
        data, chunk_offsets = encode_chunks(out_ts, values, offsets)
        while True:
            # a chunk over MAX_CHUNK_BYTES (noisy values) is split in halves and encoded again
            big = (np.diff(chunk_offsets) > self.max_chunk_bytes) & (np.diff(offsets) > 1)
            if not big.any():
                break
            halves = (offsets[:-1][big] + offsets[1:][big]) // 2
            refs = np.insert(refs, np.flatnonzero(big) + 1, refs[big])
            offsets = np.insert(offsets, np.flatnonzero(big) + 1, halves)
            data, chunk_offsets = encode_chunks(out_ts, values, offsets)
        mints = out_ts[offsets[:-1]]
        maxts = out_ts[offsets[1:] - 1]
        self._add_chunks(refs, mints, maxts, np.diff(offsets), np.asarray(data, dtype=np.uint8),
                         np.asarray(chunk_offsets, dtype=np.int64))
        hk.free_chains(firsts, counts, self.page_next, self.state)

    def _add_chunks(self, refs: I64, mints: I64, maxts: I64, counts: I64, data: U8, chunk_offsets: I64) -> None:
        k = len(refs)
        need = self.num_chunks + k
        if need > len(self.chunk_ref):
            capacity = max(need, 2 * len(self.chunk_ref), 1024)
            for name in ("chunk_ref", "chunk_mint", "chunk_maxt", "chunk_count", "chunk_start", "chunk_len",
                         "chunk_next"):
                old = getattr(self, name)
                grown = np.zeros(capacity, dtype=np.int64)
                grown[:len(old)] = old
                setattr(self, name, grown)
        nbytes = len(data)
        if self.chunk_bytes + nbytes > len(self.chunk_data):
            grown_data = np.zeros(max(self.chunk_bytes + nbytes, 2 * len(self.chunk_data), 1 << 16), np.uint8)
            grown_data[:self.chunk_bytes] = self.chunk_data[:self.chunk_bytes]
            self.chunk_data = grown_data
        self.chunk_data[self.chunk_bytes:self.chunk_bytes + nbytes] = data
        sl = slice(self.num_chunks, need)
        self.chunk_ref[sl] = refs
        self.chunk_mint[sl] = mints
        self.chunk_maxt[sl] = maxts
        self.chunk_count[sl] = counts
        self.chunk_start[sl] = chunk_offsets[:-1] + self.chunk_bytes
        self.chunk_len[sl] = np.diff(chunk_offsets)
        ids = np.arange(self.num_chunks, need, dtype=np.int64)
        hk.link_chunks(ids, np.ascontiguousarray(refs), self.series, self.chunk_next)
        self.num_chunks = need
        self.chunk_bytes += nbytes

    @staticmethod
    def commit_result(status: npt.NDArray[np.int8], sample_offsets: I64, labels_of_entry: Callable[[int], Labels],
                      ts: TimestampArray, result: CommitResult | None = None) -> CommitResult:
        """Turn status codes into a CommitResult.

        ``sample_offsets[k]`` is where entry ``k`` starts; ``labels_of_entry(k)`` names its series (called
        only for the few examples).
        """
        result = result if result is not None else CommitResult()
        counts = np.bincount(status, minlength=hk.LABEL_VALUE_LENGTH + 1)
        result.accepted += int(counts[hk.OK] + counts[hk.OK_OOO])
        for code, reason in REASONS.items():
            if counts[code] == 0:
                continue
            where = np.flatnonzero(status == code)
            examples = where[:5]
            entries = np.searchsorted(sample_offsets, examples, side="right") - 1
            result.reject(reason, int(counts[code]) - len(examples) + 1,
                          f"{labels_of_entry(int(entries[0]))} @ {int(ts[examples[0]])}")
            for e, i in zip(entries[1:].tolist(), examples[1:].tolist(), strict=True):
                result.reject(reason, 1, f"{labels_of_entry(e)} @ {int(ts[i])}")
        return result

    # -- replay -----------------------------------------------------------------------------------
    def replay_series(self, refs: Iterable[int], labels_list: Iterable[Labels]) -> None:
        """Register series read from the WAL/checkpoint with their refs (no WAL write).

        A label set already known under another ref becomes an alias: samples for it go to the first ref.
        """
        with self.lock:
            for ref, labels in zip(refs, labels_list, strict=True):
                ref = int(ref)
                known = self._by_labels.get(_key(labels))
                if known is not None:
                    if known != ref:
                        self._aliases[ref] = known
                        self._next_ref = max(self._next_ref, ref + 1)  # never hand out an aliased ref
                    continue
                if ref <= 0 or self.labels_of(ref) is not None:
                    raise InvalidArgumentError(f"invalid series ref {ref} for {labels} in replay "
                                               f"(already {self.labels_of(ref)})")
                self._add_series(ref, labels)

    def replay_samples(self, refs: I64, ts: TimestampArray, values: ValueArray) -> CommitResult:
        """Apply samples read from the WAL (no WAL write, same validation).

        Samples of unknown refs are reported as "unknown_series"; rejected samples are counted in the
        result and in ``replay_dropped``, never raised.
        """
        refs = np.asarray(refs, dtype=np.int64).copy()
        ts = np.asarray(ts, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        result = CommitResult()
        with self.lock:
            if self._aliases:
                alias = np.fromiter(self._aliases.keys(), dtype=np.int64, count=len(self._aliases))
                target = np.fromiter(self._aliases.values(), dtype=np.int64, count=len(self._aliases))
                order = np.argsort(alias)
                alias, target = alias[order], target[order]
                pos = np.minimum(np.searchsorted(alias, refs), len(alias) - 1)
                hit = alias[pos] == refs
                refs[hit] = target[pos[hit]]
            in_range = (refs > 0) & (refs < len(self._live))
            known = in_range.copy()
            known[in_range] = self._live[refs[in_range]]
            if not known.all():
                bad = np.flatnonzero(~known)
                result.reject("unknown_series", len(bad), f"ref {int(refs[bad[0]])} @ {int(ts[bad[0]])}")
                refs, ts, values = refs[known], ts[known], values[known]
            status = self.run_append(refs, ts, values, apply=True)
            self.commit_result(status, np.arange(len(refs), dtype=np.int64),
                               lambda i: self.labels_of(int(refs[i])) or Labels(), ts, result)
            self.replay_dropped += result.rejected_count
        return result

    # -- reading --------------------------------------------------------------------------------
    @property
    def min_time(self) -> int:
        """Smallest timestamp held (int64 max when empty)."""
        return int(self.state[hk.S_MINT])

    @property
    def max_time(self) -> int:
        """Largest timestamp held (int64 min when empty)."""
        return int(self.state[hk.S_MAXT])

    @property
    def truncated_before(self) -> int:
        """Data older than this has left the head (it is in blocks); reads start here."""
        return self._truncated_before

    @property
    def read_floor(self) -> int:
        """New readers read the head from here: older data is in blocks (handed over or truncated)."""
        return max(self._truncated_before, self._handed_over_before)

    def hand_over(self, maxt: int) -> None:
        """Data before ``maxt`` is in a block now: new readers skip it; readers created before still see
        it in the head until it is truncated (which waits for them, see :class:`HeadReaders`)."""
        with self.lock:
            self._handed_over_before = max(self._handed_over_before, maxt)

    @property
    def min_valid_time(self) -> int:
        """Samples older than this are rejected as out of bounds."""
        return int(self.state[hk.S_MIN_VALID])

    @property
    def num_series(self) -> int:
        return len(self._by_labels)

    def stats(self) -> HeadStats:
        with self.lock:
            live = self.series[: self._next_ref]
            held = int(live[:, hk.F_OPEN_COUNT].sum() + live[:, hk.F_OOO_COUNT].sum()
                       + self.chunk_count[: self.num_chunks].sum())
            return HeadStats(self.num_series, held, self.num_chunks, self.chunk_bytes, self.min_time,
                             self.max_time)

    # -- deletion and series removal ------------------------------------------------------------------
    def select_refs(self, matchers: Sequence[Matcher]) -> I64:
        """Sorted refs of live series matching all matchers (PromQL semantics: a missing label is "").

        The head is a ``PostingsSource`` for :func:`tsdb.storage.index.postings.select_postings`.
        """
        return np.asarray(select_postings(self, matchers), dtype=np.int64)

    def oldest_newest_sample(self, refs: I64) -> int | None:
        """The oldest of the newest sample times of the live series among ``refs`` (None if none has one)."""
        with self.lock:
            refs = refs[refs < self.series.shape[0]]
            last = self.series[refs, hk.F_LAST_TS]
            last = last[self._live[refs] & (last != hk.NO_TS)]
            return int(last.min()) if len(last) else None

    def has_series(self, ref: int) -> bool:
        """True if ``ref`` is a live series (the checkpoint's ``keep_series``)."""
        with self.lock:
            return self.labels_of(ref) is not None

    def delete(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[int]:
        """Hide samples in ``[mint, maxt]`` of matching series (tombstones); returns the refs affected.

        A DB that logs deletions selects with :meth:`select_refs`, writes its WAL record, then calls
        :meth:`add_tombstones` (also the replay path).
        """
        with self.lock:
            refs = self.select_refs(matchers).tolist()
            self.add_tombstones(refs, mint, maxt)
            return refs

    def add_tombstones(self, refs: Iterable[int], mint: int, maxt: int) -> None:
        """Hide samples in ``[mint, maxt]`` of the given series at read time; unknown refs are ignored."""
        with self.lock:
            for ref in refs:
                if self.labels_of(int(ref)) is not None:
                    self.tombstones.setdefault(int(ref), []).append((mint, maxt))

    def freeze_before(self, t: int) -> None:
        """Reject samples older than ``t`` from now on (out of bounds), so a range about to be written as a
        block cannot change while it is written (Prometheus's appendable lower bound)."""
        with self.lock:
            self.state[hk.S_MIN_VALID] = max(int(self.state[hk.S_MIN_VALID]), t)

    def remove_series(self, refs: Sequence[int]) -> None:
        """Forget series (labels, postings, state rows, tombstones). Lock held; their data is gone."""
        if not refs:
            return
        gone = set(refs)
        touched: set[tuple[str, str]] = set()
        for ref in refs:
            flat = self._flat[ref]
            if flat is None:
                continue
            del self._by_labels[flat]
            self._flat[ref] = None
            self._live[ref] = False
            self.tombstones.pop(ref, None)
            self._unlogged.pop(ref, None)
            self._blocked.pop(ref, None)
            touched.update(zip(flat[::2], flat[1::2], strict=True))
        for name, value in touched:
            values = self._postings[name]
            kept = [r for r in values[value] if r not in gone]
            if kept:
                values[value] = kept
            else:
                del values[value]
                if not values:
                    del self._postings[name]
            self._postings_cache.pop((name, value), None)
        rows = np.asarray(sorted(gone), dtype=np.int64)
        for lo in rows.tolist():
            self._init_rows(lo, lo + 1)
        self._aliases = {a: t for a, t in self._aliases.items() if t not in gone}
        if len(self._blocked) != len(self._blocked_refs):
            self._blocked_refs = np.fromiter(self._blocked, dtype=np.int64, count=len(self._blocked))
