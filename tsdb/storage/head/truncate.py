"""Truncating the head: drop data that went to blocks, garbage-collect series left empty.

The write side of leaving the head (the read side, :func:`~tsdb.storage.head.read.series_for_block`,
exports the range first): encoded chunks below the new lower bound are dropped and the chunk arena
compacted, open and out-of-order chains rewritten without the old samples, moot tombstones forgotten.
"""

from __future__ import annotations

import numpy as np

from tsdb.storage.head import head_kernels as hk
from tsdb.storage.head.state import HeadState

__all__ = ["truncate_head"]


def _rewrite_chains(head: HeadState, first_field: int, count_field: int, last_field: int, mint: int) -> None:
    """Drop samples older than ``mint`` from every chain of one kind (open or out-of-order)."""
    series = head.series
    live = np.flatnonzero(series[: head._next_ref, count_field] > 0).astype(np.int64)
    if not len(live):
        return
    firsts = np.ascontiguousarray(series[live, first_field])
    counts = np.ascontiguousarray(series[live, count_field])
    offsets = np.zeros(len(live) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    ts = np.empty(int(offsets[-1]), dtype=np.int64)
    bits = np.empty(int(offsets[-1]), dtype=np.int64)
    hk.gather_chains(firsts, counts, head.page_next, head.page_ts, head.page_bits, ts, bits)
    old = np.minimum.reduceat(ts, offsets[:-1]) < mint
    for k in np.flatnonzero(old).tolist():
        ref = int(live[k])
        seg = slice(int(offsets[k]), int(offsets[k + 1]))
        keep = ts[seg] >= mint
        kept_ts = np.ascontiguousarray(ts[seg][keep])
        kept_bits = np.ascontiguousarray(bits[seg][keep])
        hk.free_chains(firsts[k:k + 1], counts[k:k + 1], head.page_next, head.state)
        series[ref, first_field] = -1
        series[ref, last_field] = -1
        series[ref, count_field] = 0
        start = 0
        while True:
            start = hk.append_chain(ref, kept_ts, kept_bits, start, first_field, last_field, count_field,
                                    head.series, head.state, head.page_next, head.page_ts, head.page_bits)
            if start >= len(kept_ts):
                break
            head._grow_pages()


def _chain_min(head: HeadState, first_field: int, count_field: int) -> int:
    series = head.series
    live = np.flatnonzero(series[: head._next_ref, count_field] > 0).astype(np.int64)
    if not len(live):
        return int(np.iinfo(np.int64).max)
    counts = np.ascontiguousarray(series[live, count_field])
    ts = np.empty(int(counts.sum()), dtype=np.int64)
    bits = np.empty_like(ts)
    hk.gather_chains(np.ascontiguousarray(series[live, first_field]), counts, head.page_next, head.page_ts,
                     head.page_bits, ts, bits)
    return int(ts.min())


def truncate_head(head: HeadState, mint: int) -> list[int]:
    """Drop data older than ``mint``, garbage-collect series left empty, raise the lower bound (takes the
    head's lock). Returns the refs removed; later samples older than ``mint`` are out of bounds."""
    with head.lock:
        head._truncated_before = max(head._truncated_before, mint)
        return _truncate_locked(head, mint)


def _truncate_locked(head: HeadState, mint: int) -> list[int]:
    state = head.state
    state[hk.S_MIN_VALID] = max(int(state[hk.S_MIN_VALID]), mint)
    # encoded chunks: keep those reaching mint, compact table and byte arena, relink per series
    n = head.num_chunks
    keep_ids = np.flatnonzero(head.chunk_maxt[:n] >= mint).astype(np.int64)
    if len(keep_ids) < n:
        data, byte_offsets = hk.gather_bytes(keep_ids, head.chunk_start, head.chunk_len, head.chunk_data)
        refs = head.chunk_ref[keep_ids].copy()
        mints, maxts = head.chunk_mint[keep_ids].copy(), head.chunk_maxt[keep_ids].copy()
        counts = head.chunk_count[keep_ids].copy()
        head.series[:, hk.F_CHUNK_HEAD] = -1
        head.series[:, hk.F_CHUNK_TAIL] = -1
        head.num_chunks = 0
        head.chunk_bytes = 0
        head.chunk_data = np.zeros(0, dtype=np.uint8)
        if len(keep_ids):
            head._add_chunks(refs, mints, maxts, counts, data, byte_offsets)
    # open and out-of-order chains: drop samples older than mint
    _rewrite_chains(head, hk.F_OPEN_FIRST, hk.F_OPEN_COUNT, hk.F_OPEN_LAST, mint)
    _rewrite_chains(head, hk.F_OOO_FIRST, hk.F_OOO_COUNT, hk.F_OOO_LAST, mint)
    # tombstones entirely below mint are moot
    for ref, intervals in list(head.tombstones.items()):
        kept = [(lo, hi) for lo, hi in intervals if hi >= mint]
        if kept:
            head.tombstones[ref] = kept
        else:
            del head.tombstones[ref]
    # garbage-collect series without data
    series = head.series[: head._next_ref]
    empty = ((series[:, hk.F_CHUNK_HEAD] < 0) & (series[:, hk.F_OPEN_COUNT] == 0)
             & (series[:, hk.F_OOO_COUNT] == 0))
    removed = [r for r in np.flatnonzero(empty).tolist() if head.labels_of(r) is not None]
    head.remove_series(removed)
    # new lower time bound of the data held
    lows = [int(np.iinfo(np.int64).max)]
    if head.num_chunks:
        lows.append(int(head.chunk_mint[: head.num_chunks].min()))
    open_live = np.flatnonzero(head.series[: head._next_ref, hk.F_OPEN_COUNT] > 0)
    if len(open_live):
        lows.append(int(head.page_ts[head.series[open_live, hk.F_OPEN_FIRST] * hk.PAGE].min()))
    lows.append(_chain_min(head, hk.F_OOO_FIRST, hk.F_OOO_COUNT))
    state[hk.S_MINT] = max(min(lows), mint) if min(lows) != lows[0] else lows[0]
    return removed
