"""The tiered read path: :class:`TieredQuerier` is what ``DB.querier`` returns.

It wraps the raw merge of blocks and head, and :meth:`TieredQuerier.select_flat` answers from a tier
when the hints ask for an aggregate and allow a resolution (see :meth:`TieredQuerier.resolution_for`):
tier windows where the tier has data, raw samples (in the same aggregate form) after it, so a query
spanning the boundary is continuous.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels, matches_all
from tsdb.storage.interfaces import FlatSeries, SelectHints, clip_flat
from tsdb.storage.merge import MergeQuerier, merge_flat
from tsdb.storage.tiers.downsample import RESOLUTIONS, aggregate_series
from tsdb.storage.tiers.store import TierStore

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
