"""Pure-Python references of the head kernels (tsdb/storage/head/head_kernels.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tsdb.storage.head import head_kernels as hk


@dataclass
class RefSeries:
    """Reference state of one series: last sample, open samples, out-of-order samples, cut chunks."""

    last_ts: int = hk.NO_TS
    last_bits: int = 0
    open: list[tuple[int, int]] = field(default_factory=list)
    boundary: int = 0
    ooo: list[tuple[int, int]] = field(default_factory=list)
    cut: list[list[tuple[int, int]]] = field(default_factory=list)


@dataclass
class RefHead:
    """Reference head state: series by ref, time bounds, lower bound for new samples."""

    series: dict[int, RefSeries] = field(default_factory=dict)
    mint: int = 2**63 - 1
    maxt: int = -(2**63)
    min_valid: int = -(2**63)


def append_samples(head: RefHead, refs: list[int], ts: list[int], bits: list[int], apply: bool,
                   ooo_window: int, chunk_samples: int, chunk_range: int) -> list[int]:
    """Statuses of each sample, as ``head_kernels.append_samples``; with ``apply`` also stores them."""
    status = []
    last: dict[int, tuple[int, int]] = {}
    hmaxt = head.maxt
    for ref, t, b in zip(refs, ts, bits, strict=True):
        s = head.series.setdefault(ref, RefSeries())
        last_ts, last_bits = last.get(ref, (s.last_ts, s.last_bits))
        if t < head.min_valid:
            status.append(hk.OUT_OF_BOUNDS)
        elif t > last_ts:
            status.append(hk.OK)
            last[ref] = (t, b)
            hmaxt = max(hmaxt, t)
            if apply:
                if s.open and len(s.open) == chunk_samples // 4:
                    n = (s.boundary - s.open[0][0]) / ((last_ts - s.open[0][0] + 1) * 4.0)
                    if n > 1.0:
                        s.boundary = int(s.open[0][0] + (s.boundary - s.open[0][0]) / math.floor(n))
                if s.open and (len(s.open) >= 2 * chunk_samples or t >= s.boundary):
                    s.cut.append(s.open)
                    s.open = []
                if not s.open:
                    s.boundary = (t // chunk_range + 1) * chunk_range
                s.open.append((t, b))
                head.mint = min(head.mint, t)
                head.maxt = max(head.maxt, t)
        elif t == last_ts:
            status.append(hk.NOOP if b == last_bits else hk.DUPLICATE)
        elif ooo_window > 0 and t >= hmaxt - ooo_window:
            existing = {et: eb for et, eb in s.open + s.ooo}
            if t in existing:
                status.append(hk.NOOP if existing[t] == b else hk.DUPLICATE)
            else:
                status.append(hk.OK_OOO)
                if apply:
                    s.ooo.append((t, b))
                    head.mint = min(head.mint, t)
        else:
            status.append(hk.OUT_OF_ORDER)
    if apply:
        for ref, (t, b) in last.items():
            head.series[ref].last_ts, head.series[ref].last_bits = t, b
    return status


def gather_chains(chains: list[list[tuple[int, int]]]) -> tuple[list[int], list[int]]:
    """Concatenation of chains of (ts, bits), as ``head_kernels.gather_chains``."""
    return [t for c in chains for t, _ in c], [b for c in chains for _, b in c]


def collect_chunks(chunk_lists: list[list[tuple[int, int, int]]], mint: int, maxt: int) -> tuple[list[int],
                                                                                              list[int]]:
    """Ids of (id, mint, maxt) chunks overlapping ``[mint, maxt]`` per list, and the per-list offsets."""
    ids, offsets = [], [0]
    for chunks in chunk_lists:
        ids.extend(cid for cid, lo, hi in chunks if hi >= mint and lo <= maxt)
        offsets.append(len(ids))
    return ids, offsets


def gather_bytes(ids: list[int], starts: list[int], lengths: list[int], data: bytes) -> tuple[bytes, list[int]]:
    """Concatenated byte ranges of the ids and their offsets, as ``head_kernels.gather_bytes``."""
    out, offsets = b"", [0]
    for cid in ids:
        out += data[starts[cid]:starts[cid] + lengths[cid]]
        offsets.append(len(out))
    return out, offsets


def merge_clip(a: list[list[tuple[int, float]]], b: list[list[tuple[int, float]]], mint: int,
               maxt: int) -> list[list[tuple[int, float]]]:
    """Per series: a's samples then b's, keeping those with mint <= t <= maxt."""
    return [[(t, v) for t, v in sa + sb if mint <= t <= maxt] for sa, sb in zip(a, b, strict=True)]
