"""Downsampled tiers in a data directory: scheduling, retention and the tiered read path.

``<data>/tiers/5m/`` and ``<data>/tiers/1h/`` hold Parquet tier files (``parquet_tier.py``), one per raw
block time range. :meth:`TierStore.maintain` (called from ``DB.maintain``) downsamples blocks older than
``tier_5m_after`` / ``tier_1h_after`` that no tier file covers yet, and deletes tier files older than
``tier_retention``. Blocks are read through their own queriers, so writes and queries are never blocked.

:class:`TieredQuerier` is what ``DB.querier`` returns: the raw merge of blocks and head, plus
:meth:`TieredQuerier.select_flat` answering from a tier when the hints ask for an aggregate and allow a
resolution (see :meth:`TieredQuerier.resolution_for`): tier windows where the tier has data, raw
samples (in the same aggregate form) after it, so a query spanning the boundary is continuous.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tsdb.config import StorageOptions
from tsdb.errors import InvalidArgumentError, StorageError
from tsdb.labels import Labels, Matcher, matches_all
from tsdb.storage.downsample import RESOLUTIONS, Aggregates, aggregate_series, downsample_reader
from tsdb.storage.interfaces import FlatSeries, SelectHints, clip_flat
from tsdb.storage.parquet_tier import TierFile, forget_file, parse_file_name, write_tier_file
from tsdb.storage.querier import MergeQuerier, merge_flat

log = logging.getLogger("tsdb.tiers")

TIERS_DIRNAME = "tiers"
COLUMNS_FOR = {
    "counter": frozenset({"count", "first_ts", "last_ts", "first_value", "last_value", "counter_inc"}),
    "avg": frozenset({"sum", "count", "last_ts"}),
    "count": frozenset({"count", "last_ts"}),
    "sum": frozenset({"sum", "last_ts"}),
    "min": frozenset({"min", "last_ts"}),
    "max": frozenset({"max", "last_ts"}),
}
"""The tier columns each aggregate form reads."""
TWO_SAMPLE_FUNCTIONS = frozenset({"rate", "increase", "irate", "delta", "idelta", "deriv", "resets", "changes"})
_ALL = slice(None)


class TierStore:
    """The tier files of one data directory; thread-safe."""

    def __init__(self, data_dir: Path, options: StorageOptions) -> None:
        self.root = data_dir / TIERS_DIRNAME
        self.options = options
        self._lock = threading.Lock()
        self._files: dict[str, list[TierFile]] = {name: [] for name in RESOLUTIONS}
        for name in RESOLUTIONS:
            directory = self.root / name
            if not directory.is_dir():
                continue
            for path in sorted(directory.iterdir()):
                if path.name.endswith(".tmp"):
                    path.unlink(missing_ok=True)  # a crash mid-write: never visible
                elif parse_file_name(path.name) is not None:
                    self._files[name].append(TierFile(path))
            self._files[name].sort(key=lambda f: f.mint)

    def files(self, name: str, mint: int | None = None, maxt: int | None = None) -> list[TierFile]:
        """Tier ``name``'s files (optionally those overlapping ``[mint, maxt]``), oldest first."""
        with self._lock:
            files = list(self._files[name])
        if mint is None or maxt is None:
            return files
        return [f for f in files if f.maxt >= mint and f.mint <= maxt]

    def size_bytes(self) -> int:
        return sum(f.size_bytes() for name in RESOLUTIONS for f in self.files(name))

    def covers(self, name: str, mint: int, maxt: int) -> bool:
        """Whether tier ``name``'s files together cover ``[mint, maxt]``."""
        reach = mint
        for f in self.files(name):
            if f.mint <= reach <= f.maxt:
                reach = f.maxt + 1
        return reach > maxt

    # -- scheduling -----------------------------------------------------------------------------------
    def maintain(self, blocks: list[Any], now_ms: int) -> list[str]:
        """Downsample due blocks, drop expired tier files; returns what was done (for logs and tests)."""
        done: list[str] = []
        if not self.options.tiers_enabled:
            return done
        for name, after in (("5m", self.options.tier_5m_after_ms), ("1h", self.options.tier_1h_after_ms)):
            for block in blocks:
                mint, maxt = block.meta.min_time, block.meta.max_time
                if maxt >= now_ms - after or self.covers(name, mint, maxt):
                    continue
                started = time.monotonic()
                agg = downsample_reader(block, mint, maxt, RESOLUTIONS[name])
                path = write_tier_file(self.root / name, agg, RESOLUTIONS[name], mint, maxt)
                with self._lock:
                    replaced = [f for f in self._files[name] if f.mint >= mint and f.maxt <= maxt]
                    self._files[name] = sorted([f for f in self._files[name] if f not in replaced]
                                               + [TierFile(path)], key=lambda f: f.mint)
                for f in replaced:
                    forget_file(f.path)
                    if f.path != path:
                        f.path.unlink(missing_ok=True)
                log.info("tier written", extra={"tier": name, "mint": mint, "maxt": maxt, "rows": agg.num_rows,
                                                "series": len(agg.labels),
                                                "duration_s": round(time.monotonic() - started, 3)})
                done.append(f"{name}:{path.name}")
        horizon = now_ms - self.options.tier_retention_ms
        for name in RESOLUTIONS:
            with self._lock:
                expired = [f for f in self._files[name] if f.maxt < horizon]
                self._files[name] = [f for f in self._files[name] if f not in expired]
            for f in expired:
                forget_file(f.path)
                try:
                    f.path.unlink(missing_ok=True)
                except OSError as err:
                    raise StorageError(f"cannot delete expired tier file {f.path}: {err}") from err
                done.append(f"expired {name}:{f.path.name}")
        return done

    # -- reading --------------------------------------------------------------------------------------
    def select(self, name: str, matchers: list[Matcher], mint: int, maxt: int,
               columns: frozenset[str] | None = None) -> Aggregates:
        """Windows of matching series whose last sample lies in ``[mint, maxt]``, across files
        (``columns``: the value columns needed, see :data:`COLUMNS_FOR`)."""
        parts = [f.select(matchers, mint, maxt, columns) for f in self.files(name, mint, maxt)]
        parts = [p for p in parts if p.labels]
        if not parts:
            return Aggregates.empty()
        return parts[0] if len(parts) == 1 else merge_aggregates(parts)

    def label_sets(self, mint: int, maxt: int) -> set[Labels]:
        return {lb for name in RESOLUTIONS for f in self.files(name, mint, maxt) for lb in f.series()}


def merge_aggregates(parts: list[Aggregates]) -> Aggregates:
    """Rows of the same series from files of consecutive time ranges (given oldest first), by labels."""
    entries = sorted((tuple.__getitem__(lb, _ALL), p, i) for p, part in enumerate(parts)
                     for i, lb in enumerate(part.labels))
    labels: list[Labels] = []
    picks: list[list[np.ndarray]] = [[] for _ in parts]
    order: list[tuple[int, int]] = []  # (part, position in that part's pick list) in output order
    counts: list[int] = []
    for _, group in itertools.groupby(entries, key=lambda e: e[0]):
        members = list(group)
        labels.append(parts[members[0][1]].labels[members[0][2]])
        total = 0
        for _, p, i in members:
            lo, hi = int(parts[p].offsets[i]), int(parts[p].offsets[i + 1])
            picks[p].append(np.arange(lo, hi))
            order.append((p, len(picks[p]) - 1))
            total += hi - lo
        counts.append(total)
    columns: dict[str, list[np.ndarray]] = {name: [] for name in parts[0].columns()}
    for p, pos in order:
        rows = picks[p][pos]
        for name, col in parts[p].columns().items():
            if len(col):  # columns left out by the reader stay empty
                columns[name].append(col[rows])
    offsets = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    merged: dict[str, Any] = {name: np.concatenate(cols) if cols else np.zeros(0) for name, cols in columns.items()}
    return Aggregates(labels, offsets, **merged)


def raw_as_aggregate(flat: FlatSeries, name: str, carry: dict[Labels, tuple[float, float]]) -> FlatSeries:
    """Raw samples in the aggregate form ``name`` (each sample a window of one).

    For ``counter`` the values continue the tier's reset-adjusted counter: ``carry`` maps a series to
    (its last adjusted counter value, its last raw value) in the tier; other series start at their raw value.
    """
    values = flat.values
    if name == "count":
        return FlatSeries(flat.labels, flat.ts, np.ones(len(values)), flat.offsets)
    if name != "counter":
        return flat
    prev = np.empty_like(values)
    prev[1:] = values[:-1]
    starts = flat.offsets[:-1]
    inc = np.where(values >= prev, values - prev, values)
    for i, lb in enumerate(flat.labels):  # the first sample of each series joins on to the tier (or starts)
        s = int(starts[i])
        if s >= len(values):
            continue
        base = carry.get(lb)
        if base is None:
            inc[s] = values[s]
        else:
            adjusted, raw_last = base
            first = values[s]
            inc[s] = adjusted + (first - raw_last if first >= raw_last else first)
    total = np.cumsum(inc)
    seg_before = np.zeros(len(values))
    if len(values):
        before = np.concatenate(([0.0], total))[starts]
        seg_before = np.repeat(before, np.diff(flat.offsets))
    return FlatSeries(flat.labels, flat.ts, total - seg_before, flat.offsets)


class TieredQuerier:
    """The DB's read view: raw blocks and head, plus tiers for aggregate requests (see module doc)."""

    def __init__(self, raw: MergeQuerier, store: TierStore | None, mint: int, maxt: int, raw_mint: int,
                 raw_for: Callable[[int, int], MergeQuerier] | None = None) -> None:
        self.raw = raw
        self.store = store
        self.mint = mint
        self.maxt = maxt
        self.raw_mint = raw_mint
        self._raw_for = raw_for  # a raw view of a sub-range: after a tier's coverage only

    def select(self, matchers: Any, hints: SelectHints | None = None) -> Any:
        return self.raw.select(matchers, hints)

    def label_names(self, matchers: Any = ()) -> list[str]:
        names = set(self.raw.label_names(matchers))
        if self.store is not None and self.mint < self.raw_mint:
            for lb in self.store.label_sets(self.mint, min(self.maxt, self.raw_mint - 1)):
                if not matchers or matches_all(list(matchers), lb):
                    names.update(lb.names())
        return sorted(names)

    def label_values(self, name: str, matchers: Any = ()) -> list[str]:
        values = set(self.raw.label_values(name, matchers))
        if self.store is not None and self.mint < self.raw_mint:
            for lb in self.store.label_sets(self.mint, min(self.maxt, self.raw_mint - 1)):
                if (not matchers or matches_all(list(matchers), lb)) and lb.get(name):
                    values.add(lb.get(name))
        return sorted(values)

    def close(self) -> None:
        self.raw.close()

    def resolution_for(self, hints: SelectHints | None) -> str:
        """The tier that answers aggregate requests with ``hints`` ("" = raw); see :meth:`_choose`."""
        return self._choose(hints)[0]

    def _choose(self, hints: SelectHints | None) -> tuple[str, bool]:
        """The tier to answer from ("" = raw), following ``hints.max_source_resolution``:

        ``raw``: raw only. ``5m``/``1h``: that tier (or a finer one) where it has data. ``auto``: the
        coarsest tier whose resolution is at most step/5 (and range/2 for two-sample functions); if none
        is allowed but raw data does not reach back to the query start, the finest tier with data there.
        """
        if self.store is None or hints is None:
            return "", False
        mode = hints.max_source_resolution or "auto"
        if mode == "raw":
            return "", False
        names = sorted(RESOLUTIONS, key=RESOLUTIONS.__getitem__)  # finest first
        have = [n for n in names if self.store.files(n, self.mint, self.maxt)]
        if not have:
            return "", False
        if mode in RESOLUTIONS:
            allowed = RESOLUTIONS[mode]
        elif mode == "auto":
            limits = []
            if hints.step_ms:
                limits.append(hints.step_ms // 5)
            if hints.range_ms:
                limits.append(hints.range_ms // 2 if hints.func in TWO_SAMPLE_FUNCTIONS else hints.range_ms)
            allowed = min(limits) if limits else 0
        else:
            raise InvalidArgumentError(f"invalid max_source_resolution {mode!r}: use raw, 5m, 1h or auto")
        fitting = [n for n in have if RESOLUTIONS[n] <= allowed]
        if fitting:
            return fitting[-1], False
        # no tier is fine enough: raw answers, except before the oldest raw sample (the finest tier)
        if self.store.files(have[0], self.mint, self.raw_mint - 1):
            return have[0], True
        return "", False

    def select_flat(self, matchers: Any, hints: SelectHints | None = None) -> FlatSeries:
        """Raw columnar select, or (when ``hints.aggregate`` is set and a tier applies) tier windows in that
        aggregate form followed by raw samples in the same form after the tier's coverage."""
        tier, fallback = self._choose(hints) if hints is not None and hints.aggregate else ("", False)
        if not tier or self.store is None or hints is None:
            return self.raw.select_flat(matchers, hints)
        name = hints.aggregate
        covered_to = max((f.maxt for f in self.store.files(tier, self.mint, self.maxt)), default=self.mint - 1)
        if fallback:  # the tier only where raw data no longer exists
            covered_to = min(covered_to, self.raw_mint - 1)
        agg = self.store.select(tier, list(matchers), self.mint, covered_to, COLUMNS_FOR[name])
        tier_flat = aggregate_series(agg, name)
        tier_flat.resolution_ms = RESOLUTIONS[tier]
        if covered_to >= self.maxt:
            return tier_flat
        if self._raw_for is not None:
            sub = self._raw_for(covered_to + 1, self.maxt)
            try:
                raw = sub.select_flat(matchers, hints)
            finally:
                sub.close()
        else:
            raw = clip_flat(self.raw.select_flat(matchers, hints), covered_to + 1, self.maxt)
        if not raw.labels:
            return tier_flat
        carry: dict[Labels, tuple[float, float]] = {}
        if name == "counter" and tier_flat.labels:
            ends = tier_flat.offsets[1:] - 1  # the counter form's last point of each series
            row_ends = agg.offsets[1:] - 1  # the same series' last window
            for i, lb in enumerate(tier_flat.labels):
                carry[lb] = (float(tier_flat.values[ends[i]]), float(agg.last_value[row_ends[i]]))
        after = raw_as_aggregate(raw, name, carry)
        merged = append_flat(tier_flat, after) if tier_flat.labels == after.labels else merge_flat(
            [tier_flat, after])
        merged.resolution_ms = RESOLUTIONS[tier]
        return merged


def append_flat(first: FlatSeries, then: FlatSeries) -> FlatSeries:
    """Per series, ``first``'s samples then ``then``'s (same labels in the same order, later times)."""
    n = len(first.labels)
    a_counts, b_counts = np.diff(first.offsets), np.diff(then.offsets)
    starts = np.empty(2 * n, dtype=np.int64)
    starts[0::2] = first.offsets[:-1]
    starts[1::2] = then.offsets[:-1] + len(first.ts)
    lengths = np.empty(2 * n, dtype=np.int64)
    lengths[0::2] = a_counts
    lengths[1::2] = b_counts
    total = int(lengths.sum())
    before = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    gather = np.repeat(starts - before, lengths) + np.arange(total, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(a_counts + b_counts, out=offsets[1:])
    return FlatSeries(list(first.labels), np.concatenate((first.ts, then.ts))[gather],
                      np.concatenate((first.values, then.values))[gather], offsets)
