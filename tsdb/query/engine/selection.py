"""Selecting series for an evaluator: each distinct selector (and tier request) is selected once per
query, columnar (:class:`~tsdb.storage.interfaces.FlatSeries`), with the sample and series limits enforced as
series are loaded; instant selectors find, for every series and step, the last sample of the lookback window in
one numba kernel call (:mod:`.select_kernels`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.errors import QueryLimitError
from tsdb.labels import Labels
from tsdb.query.engine.select_kernels import instant_lookup
from tsdb.query.parser.nodes import at_modifier_name, selector_matchers
from tsdb.query.value import StepArray, VectorValue
from tsdb.storage.interfaces import FlatSeries, Querier, SelectHints, is_stale

SeriesData = tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64]]


def _interpolate_next(ts: npt.NDArray[np.int64], vals: npt.NDArray[np.float64], idx: npt.NDArray[np.intp],
                      t: StepArray, found_t: npt.NDArray[np.int64], found_v: npt.NDArray[np.float64],
                      lookback_ms: int) -> npt.NDArray[np.float64]:
    """``smoothed`` selectors: interpolate linearly towards the next sample (within the lookback) when the
    step falls between two samples; a step past the last sample keeps the last value."""
    nxt = np.minimum(idx + 1, len(ts) - 1)
    next_t, next_v = ts[nxt], vals[nxt]
    between = (nxt > idx) & (found_t < t) & (next_t > t) & (next_t - t < lookback_ms) & ~is_stale(next_v)
    span = np.where(between, next_t - found_t, 1).astype(np.float64)
    weight = (t - found_t) / span
    return np.where(between, found_v + (next_v - found_v) * weight, found_v)


def _selector_text(vs: Any) -> str:
    """A selector as PromQL text (its matchers only: no offset, ``@`` or range)."""
    return "{" + ", ".join(str(m) for m in selector_matchers(vs)) + "}"


class Selection:
    """The selection half of an evaluator: the querier, the hints and the series selected so far."""

    def __init__(self, querier: Querier, *, start_ms: int, end_ms: int, lookback_ms: int, max_samples: int,
                 hints: SelectHints | None = None, max_series: int = 0) -> None:
        """``max_samples`` bounds the samples loaded, ``max_series`` (0 = no limit) the series selected by all
        selectors together; past either, :class:`~tsdb.errors.QueryLimitError`."""
        self.querier = querier
        self.hints = hints or SelectHints()
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.lookback_ms = lookback_ms
        self.max_samples = max_samples
        self.max_series = max_series
        self._series_loaded = 0
        self._selected: dict[tuple[str, ...], list[SeriesData]] = {}
        self._selected_flat: dict[tuple[str, ...], FlatSeries] = {}
        self._samples_loaded = 0

    def select(self, vs: Any) -> list[SeriesData]:
        """The series of a vector selector (selected once per distinct matcher set)."""
        key = self._selection_key(vs)
        cached = self._selected.get(key)
        if cached is None:
            flat = self.select_flat(vs)
            bounds = flat.offsets.tolist()
            cached = [(labels, flat.ts[bounds[i]:bounds[i + 1]], flat.values[bounds[i]:bounds[i + 1]])
                      for i, labels in enumerate(flat.labels)]
            self._selected[key] = cached
        return cached

    @staticmethod
    def _selection_key(vs: Any, hints: SelectHints | None = None) -> tuple[str, ...]:
        key = tuple(sorted(str(m) for m in selector_matchers(vs)))
        if hints is not None and hints.aggregate:  # tier answers depend on the aggregate and the window
            key += (f"\x00{hints.aggregate}:{hints.func}:{hints.range_ms}",)
        return key

    def tier_hints(self, func: str, range_ms: int, aggregate: str) -> SelectHints | None:
        """Hints asking for a tier aggregate, when the storage would answer them from a tier; else None."""
        resolution_for = getattr(self.querier, "resolution_for", None)
        if resolution_for is None or self.hints.max_source_resolution == "raw":
            return None
        hints = dataclasses.replace(self.hints, func=func, range_ms=range_ms, aggregate=aggregate)
        return hints if resolution_for(hints) else None

    def select_flat(self, vs: Any, hints: SelectHints | None = None) -> FlatSeries:
        """The series of a vector selector, columnar (selected once per distinct matcher set and hints)."""
        key = self._selection_key(vs, hints)
        flat = self._selected_flat.get(key)
        if flat is None:
            matchers = selector_matchers(vs)
            hints = hints or self.hints
            select_flat = getattr(self.querier, "select_flat", None)
            flat = (select_flat(matchers, hints) if select_flat is not None
                    else FlatSeries.from_series(self.querier.select(matchers, hints)))
            self._series_loaded += len(flat.labels)
            if self.max_series and self._series_loaded > self.max_series:
                raise QueryLimitError(f"query selects too many series: {self._series_loaded:,} with selector "
                                      f"{_selector_text(vs)}, more than the limit of {self.max_series:,} "
                                      "(query.max_series)")
            self._samples_loaded += len(flat.ts)
            if self._samples_loaded > self.max_samples:
                raise QueryLimitError("query processing would load too many samples into memory in "
                                      f"query execution (more than {self.max_samples} samples)")
            self._selected_flat[key] = flat
        return flat

    def at_times(self, node: Any, steps: StepArray) -> StepArray:
        """Per step the reference time of a selector/subquery: ``@`` (incl. start()/end()) or the step."""
        modifier = at_modifier_name(node)
        if modifier == "start":
            return np.full(len(steps), self.start_ms, dtype=np.int64)
        if modifier == "end":
            return np.full(len(steps), self.end_ms, dtype=np.int64)
        at = getattr(node, "at_ms", None)
        if at is not None:
            return np.full(len(steps), int(at), dtype=np.int64)
        return steps

    def instant_select(self, vs: Any, steps: StepArray) -> tuple[VectorValue, npt.NDArray[np.int64]]:
        """Instant vector of a selector plus, per series and step, the timestamp of the sample used."""
        t = self.at_times(vs, steps) - int(getattr(vs, "offset_ms", 0) or 0)
        k = len(steps)
        if not getattr(vs, "smoothed", False):
            # all series and steps in one kernel call over the concatenated samples
            flat = self.select_flat(vs, self.tier_hints("", 0, "avg"))
            n = len(flat.labels)
            bits = np.zeros((n, k), dtype=np.int64)
            present = np.zeros((n, k), dtype=bool)
            sample_ts = np.zeros((n, k), dtype=np.int64)
            # tier points are one per window: look back a window further
            lookback = self.lookback_ms + flat.resolution_ms
            instant_lookup(flat.ts, flat.values.view(np.int64), flat.offsets, np.ascontiguousarray(t, np.int64),
                           lookback, bits, present, sample_ts)
            vec = VectorValue(list(flat.labels), bits.view(np.float64), present)
            keep = np.flatnonzero(present.any(axis=1))
            return vec.select_rows(keep), sample_ts[keep]
        series = self.select(vs)
        n = len(series)
        values = np.zeros((n, k))
        present = np.zeros((n, k), dtype=bool)
        sample_ts = np.zeros((n, k), dtype=np.int64)
        for i, (_, ts, vals) in enumerate(series):
            if not len(ts):
                continue
            idx = np.searchsorted(ts, t, side="right") - 1
            valid = idx >= 0
            idx = np.maximum(idx, 0)
            found_t = ts[idx]
            found_v = vals[idx]
            ok = valid & (found_t > t - self.lookback_ms) & ~is_stale(found_v)
            if getattr(vs, "smoothed", False):
                found_v = _interpolate_next(ts, vals, idx, t, found_t, found_v, self.lookback_ms)
            values[i] = found_v
            present[i] = ok
            sample_ts[i] = found_t
        vec = VectorValue([s[0] for s in series], values, present)
        keep = np.flatnonzero(present.any(axis=1))
        return vec.select_rows(keep), sample_ts[keep]
