"""numba kernels of the in-memory head: validating and appending whole batches, page chains, chunk links.

Layout they work on (owned by :class:`tsdb.storage.head.state.HeadState`, mutated only under its lock):

- ``series``: int64 ``[capacity, NFIELDS]``, one row per series ref (the row index *is* the ref);
  the ``F_*`` constants name the columns. Value bits are stored as int64 (compare bits, never floats).
- a page arena: ``page_ts``/``page_bits`` int64 ``[npages * PAGE]`` and ``page_next`` int64 ``[npages]``.
  A series' open (not yet encoded) samples and its out-of-order samples are each a chain of pages;
  ``-1`` ends a chain. Free pages form a chain starting at ``state[S_FREE]``.
- ``state``: int64 ``[NSTATE]``, head-wide scalars (``S_*``).

Every kernel here has a pure-Python reference in ``tests/reference/head.py``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tsdb._numba import njit

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

PAGE = 8
"""Samples per arena page: small so an idle series wastes little, large enough to keep chains short."""

NO_TS = np.iinfo(np.int64).min
"""``F_LAST_TS`` of a series without samples."""

# series columns
F_LAST_TS = 0
F_LAST_BITS = 1
F_OPEN_FIRST = 2
F_OPEN_LAST = 3
F_OPEN_COUNT = 4
F_OPEN_BOUNDARY = 5
F_OOO_FIRST = 6
F_OOO_LAST = 7
F_OOO_COUNT = 8
F_CHUNK_HEAD = 9
F_CHUNK_TAIL = 10
NFIELDS = 11

# state slots
S_MINT = 0
S_MAXT = 1
S_MIN_VALID = 2
S_FREE = 3
S_BUMP = 4
S_NPAGES = 5
S_NPENDING = 6
NSTATE = 7

# per-sample status codes
OK = 0
OK_OOO = 1
NOOP = 2
OUT_OF_ORDER = 3
DUPLICATE = 4
OUT_OF_BOUNDS = 5
INVALID_LABELS = 6
# refused by a series limit (tsdb.storage.limits); set in Python, never by a kernel
SERIES_LIMIT = 7
METRIC_SERIES_LIMIT = 8
LABEL_COUNT = 9
LABEL_NAME_LENGTH = 10
LABEL_VALUE_LENGTH = 11


@njit
def _alloc_page(state: I64, page_next: I64) -> int:
    """Pop a page from the free chain or the bump pointer; -1 when the arena is full."""
    free = state[S_FREE]
    if free >= 0:
        state[S_FREE] = page_next[free]
        page_next[free] = -1
        return int(free)
    bump = state[S_BUMP]
    if bump < state[S_NPAGES]:
        state[S_BUMP] = bump + 1
        page_next[bump] = -1
        return int(bump)
    return -1


@njit
def _chain_find(first: int, count: int, t: int, page_next: I64, page_ts: I64, page_bits: I64) -> tuple[bool, int]:
    """Look for timestamp ``t`` in a chain of ``count`` samples: (found, its value bits)."""
    page = first
    i = 0
    while i < count:
        slot = page * PAGE + i % PAGE
        if page_ts[slot] == t:
            return True, page_bits[slot]
        i += 1
        if i % PAGE == 0:
            page = page_next[page]
    return False, 0


@njit
def chunk_end_time(start: int, cur: int, boundary: int, ratio_to_full: float) -> int:
    """Where to end a chunk started at ``start`` that reached ``cur`` at ``1/ratio_to_full`` of its target
    size, so that the chunks until ``boundary`` come out equally sized (Prometheus's computeChunkEndTime).
    """
    n = (boundary - start) / ((cur - start + 1) * ratio_to_full)
    if n <= 1.0:
        return boundary
    return int(start + (boundary - start) / np.floor(n))


@njit
def append_samples(refs: I64, ts: I64, bits: I64, status: npt.NDArray[np.int8], start: int, apply: bool,
                   series: I64, state: I64, page_next: I64, page_ts: I64, page_bits: I64,
                   pend_ref: I64, pend_first: I64, pend_count: I64,
                   ooo_window: int, chunk_samples: int, chunk_range: int) -> int:
    """Validate (``apply=False``) or validate and append (``apply=True``) samples ``start..n-1`` in order.

    Writes one status code per sample. Rules per sample of series ``ref`` (in batch order):
    ``t < min valid time`` -> OUT_OF_BOUNDS; ``t > last`` -> OK (appended to the open chain; the chain is
    first cut, i.e. moved to the pending arrays, when it holds ``2 * chunk_samples`` samples or ``t``
    reaches its end time: the next multiple of ``chunk_range`` after its first sample, moved earlier by
    :func:`chunk_end_time` once the chain holds ``chunk_samples // 4`` samples, as Prometheus does, so
    chunks come out near ``chunk_samples`` samples each); ``t == last`` -> NOOP if the
    value bits are equal else DUPLICATE; ``t < last`` -> OK_OOO if ``ooo_window > 0`` and
    ``t >= head maxt - ooo_window`` and no open/out-of-order sample has ``t`` (same bits -> NOOP,
    other bits -> DUPLICATE), else OUT_OF_ORDER.

    Without ``apply`` nothing is changed on return (series rows are restored). With ``apply`` it returns
    the index of the first sample it could not store because the page arena is full (the caller grows
    the arena and calls again from there), or ``n`` when done.
    """
    n = refs.shape[0]
    saved_ts = np.empty(0 if apply else n, dtype=np.int64)
    saved_bits = np.empty(0 if apply else n, dtype=np.int64)
    min_valid = state[S_MIN_VALID]
    hmint = state[S_MINT]
    hmaxt = state[S_MAXT]
    i = start
    while i < n:
        ref = refs[i]
        t = ts[i]
        b = bits[i]
        if not apply:
            saved_ts[i] = series[ref, F_LAST_TS]
            saved_bits[i] = series[ref, F_LAST_BITS]
        if t < min_valid:
            status[i] = OUT_OF_BOUNDS
            i += 1
            continue
        last = series[ref, F_LAST_TS]
        if t > last:
            if apply:
                count = series[ref, F_OPEN_COUNT]
                if count > 0 and count == chunk_samples // 4:
                    # a quarter full: predict an end time giving equally sized chunks up to the boundary
                    series[ref, F_OPEN_BOUNDARY] = chunk_end_time(page_ts[series[ref, F_OPEN_FIRST] * PAGE], last,
                                                                  series[ref, F_OPEN_BOUNDARY], 4.0)
                cut = count > 0 and (count >= 2 * chunk_samples or t >= series[ref, F_OPEN_BOUNDARY])
                if cut or count % PAGE == 0:
                    page = _alloc_page(state, page_next)
                    if page < 0:
                        break
                    if cut:
                        k = state[S_NPENDING]
                        pend_ref[k] = ref
                        pend_first[k] = series[ref, F_OPEN_FIRST]
                        pend_count[k] = count
                        state[S_NPENDING] = k + 1
                        count = 0
                    if count == 0:
                        series[ref, F_OPEN_FIRST] = page
                        series[ref, F_OPEN_BOUNDARY] = (t // chunk_range + 1) * chunk_range
                    else:
                        page_next[series[ref, F_OPEN_LAST]] = page
                    series[ref, F_OPEN_LAST] = page
                slot = series[ref, F_OPEN_LAST] * PAGE + count % PAGE
                page_ts[slot] = t
                page_bits[slot] = b
                series[ref, F_OPEN_COUNT] = count + 1
            series[ref, F_LAST_TS] = t
            series[ref, F_LAST_BITS] = b
            status[i] = OK
            hmaxt = max(hmaxt, t)
            hmint = min(hmint, t)
        elif t == last:
            status[i] = NOOP if b == series[ref, F_LAST_BITS] else DUPLICATE
        elif ooo_window > 0 and t >= hmaxt - ooo_window:
            found, fbits = _chain_find(series[ref, F_OPEN_FIRST], series[ref, F_OPEN_COUNT], t,
                                       page_next, page_ts, page_bits)
            if not found:
                found, fbits = _chain_find(series[ref, F_OOO_FIRST], series[ref, F_OOO_COUNT], t,
                                           page_next, page_ts, page_bits)
            if found:
                status[i] = NOOP if fbits == b else DUPLICATE
            else:
                if apply:
                    count = series[ref, F_OOO_COUNT]
                    if count % PAGE == 0:
                        page = _alloc_page(state, page_next)
                        if page < 0:
                            break
                        if count == 0:
                            series[ref, F_OOO_FIRST] = page
                        else:
                            page_next[series[ref, F_OOO_LAST]] = page
                        series[ref, F_OOO_LAST] = page
                    slot = series[ref, F_OOO_LAST] * PAGE + count % PAGE
                    page_ts[slot] = t
                    page_bits[slot] = b
                    series[ref, F_OOO_COUNT] = count + 1
                status[i] = OK_OOO
                hmint = min(hmint, t)
        else:
            status[i] = OUT_OF_ORDER
        i += 1
    if apply:
        state[S_MINT] = hmint
        state[S_MAXT] = hmaxt
    else:
        for j in range(n - 1, start - 1, -1):
            series[refs[j], F_LAST_TS] = saved_ts[j]
            series[refs[j], F_LAST_BITS] = saved_bits[j]
    return i


@njit
def gather_chains(firsts: I64, counts: I64, page_next: I64, page_ts: I64, page_bits: I64,
                  out_ts: I64, out_bits: I64) -> None:
    """Copy chain ``k`` (``counts[k]`` samples from page ``firsts[k]``) to ``out_*[sum(counts[:k]):...]``."""
    pos = 0
    for k in range(firsts.shape[0]):
        page = firsts[k]
        for i in range(counts[k]):
            slot = page * PAGE + i % PAGE
            out_ts[pos] = page_ts[slot]
            out_bits[pos] = page_bits[slot]
            pos += 1
            if (i + 1) % PAGE == 0:
                page = page_next[page]


@njit
def free_chains(firsts: I64, counts: I64, page_next: I64, state: I64) -> None:
    """Return the pages of each chain (``counts[k]`` samples from ``firsts[k]``) to the free chain."""
    for k in range(firsts.shape[0]):
        page = firsts[k]
        npages = (counts[k] + PAGE - 1) // PAGE
        for _ in range(npages):
            nxt = page_next[page]
            page_next[page] = state[S_FREE]
            state[S_FREE] = page
            page = nxt


@njit
def link_chunks(chunk_ids: I64, chunk_refs: I64, series: I64, chunk_next: I64) -> None:
    """Append chunk ``chunk_ids[k]`` to the chunk list of series ``chunk_refs[k]``, in order."""
    for k in range(chunk_ids.shape[0]):
        cid = chunk_ids[k]
        ref = chunk_refs[k]
        chunk_next[cid] = -1
        tail = series[ref, F_CHUNK_TAIL]
        if tail < 0:
            series[ref, F_CHUNK_HEAD] = cid
        else:
            chunk_next[tail] = cid
        series[ref, F_CHUNK_TAIL] = cid


@njit
def collect_chunks(refs: I64, series: I64, chunk_next: I64, chunk_mint: I64, chunk_maxt: I64,
                   mint: int, maxt: int) -> tuple[I64, I64]:
    """Chunk ids of each series overlapping ``[mint, maxt]`` in list order, and per-series offsets."""
    ids = np.empty(16, dtype=np.int64)
    offsets = np.empty(refs.shape[0] + 1, dtype=np.int64)
    n = 0
    for k in range(refs.shape[0]):
        offsets[k] = n
        cid = series[refs[k], F_CHUNK_HEAD]
        while cid >= 0:
            if chunk_maxt[cid] >= mint and chunk_mint[cid] <= maxt:
                if n == ids.shape[0]:
                    grown = np.empty(n * 2, dtype=np.int64)
                    grown[:n] = ids
                    ids = grown
                ids[n] = cid
                n += 1
            cid = chunk_next[cid]
    offsets[refs.shape[0]] = n
    return ids[:n].copy(), offsets


@njit
def gather_bytes(ids: I64, starts: I64, lengths: I64, data: U8) -> tuple[U8, I64]:
    """Concatenate byte ranges ``data[starts[id]:starts[id]+lengths[id]]`` for ``ids``; with offsets."""
    offsets = np.empty(ids.shape[0] + 1, dtype=np.int64)
    total = 0
    for k in range(ids.shape[0]):
        offsets[k] = total
        total += lengths[ids[k]]
    offsets[ids.shape[0]] = total
    out = np.empty(total, dtype=np.uint8)
    for k in range(ids.shape[0]):
        s = starts[ids[k]]
        o = offsets[k]
        for j in range(lengths[ids[k]]):
            out[o + j] = data[s + j]
    return out, offsets


@njit
def append_chain(ref: int, ts: I64, bits: I64, start: int, field_first: int, field_last: int, field_count: int,
                 series: I64, state: I64, page_next: I64, page_ts: I64, page_bits: I64) -> int:
    """Append samples ``start..n-1`` verbatim to one chain of series ``ref`` (no validation).

    ``field_*`` name the chain's columns (open or out-of-order). Returns the index of the first sample
    not stored because the arena is full (grow and call again), or ``n``.
    """
    i = start
    while i < ts.shape[0]:
        count = series[ref, field_count]
        if count % PAGE == 0:
            page = _alloc_page(state, page_next)
            if page < 0:
                return i
            if count == 0:
                series[ref, field_first] = page
            else:
                page_next[series[ref, field_last]] = page
            series[ref, field_last] = page
        slot = series[ref, field_last] * PAGE + count % PAGE
        page_ts[slot] = ts[i]
        page_bits[slot] = bits[i]
        series[ref, field_count] = count + 1
        i += 1
    return i


@njit
def merge_clip(seg_a: I64, a_ts: I64, a_values: F64, a_off: I64, b_ts: I64, b_values: F64, b_off: I64,
               mint: int, maxt: int) -> tuple[I64, F64, I64]:
    """Per series ``k``: ``a[seg_a[k]:seg_a[k+1]]`` then ``b[b_off[k]:b_off[k+1]]`` (both ascending, all of
    ``a`` before ``b``), keeping samples in ``[mint, maxt]``; returns flat (ts, values, offsets[n+1]).

    ``a_off`` maps a's sample positions: series ``k`` owns ``a_off[seg_a[k]]:a_off[seg_a[k+1]]``.
    """
    n = b_off.shape[0] - 1
    total = a_ts.shape[0] + b_ts.shape[0]
    out_ts = np.empty(total, dtype=np.int64)
    out_values = np.empty(total, dtype=np.float64)
    offsets = np.empty(n + 1, dtype=np.int64)
    pos = 0
    for k in range(n):
        offsets[k] = pos
        for j in range(a_off[seg_a[k]], a_off[seg_a[k + 1]]):
            t = a_ts[j]
            if mint <= t <= maxt:
                out_ts[pos] = t
                out_values[pos] = a_values[j]
                pos += 1
        for j in range(b_off[k], b_off[k + 1]):
            t = b_ts[j]
            if mint <= t <= maxt:
                out_ts[pos] = t
                out_values[pos] = b_values[j]
                pos += 1
    offsets[n] = pos
    return out_ts[:pos], out_values[:pos], offsets
