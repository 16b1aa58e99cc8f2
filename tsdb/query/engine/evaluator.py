"""The PromQL evaluator: walks the AST over a step grid and produces values (DESIGN §6).

Every node is evaluated for all steps at once: an instant selector finds, for every series, the last
sample of each step's lookback window with one ``searchsorted`` over the whole steps array; range
functions run as one numba kernel call over all series and steps (:mod:`tsdb.query.functions.rollup`).
Windows are left-open, ``(t - lookback, t]`` and ``(t - range, t]`` (Prometheus 3.x). Stale markers
end a series. ``__name__`` removal is delayed: operations set ``drop_name`` flags and the engine
removes the names at the end.

One evaluator serves one query: it owns the querier's selected series (each distinct selector is
selected once) and the annotations. Not thread-safe.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.errors import QueryError, QueryLimitError, QueryTimeoutError
from tsdb.labels import Labels
from tsdb.query.engine import binary
from tsdb.query.engine.aggregate import aggregate
from tsdb.query.engine.select_kernels import instant_lookup
from tsdb.query.functions.context import MatrixInput
from tsdb.query.functions.rollup import packed_views
from tsdb.query.functions.table import FUNCTIONS
from tsdb.query.parser.nodes import at_modifier_name, function_name, node_kind, selector_matchers, unwrap
from tsdb.query.value import Annotations, MatrixValue, ScalarValue, StepArray, StringValue, Value, VectorValue
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


_METHODS = {"NumberLiteral": "number", "StringLiteral": "string", "ParenExpr": "paren", "UnaryExpr": "unary",
            "VectorSelector": "vector_selector", "MatrixSelector": "matrix_selector", "SubqueryExpr": "subquery",
            "BinaryExpr": "binary", "AggregateExpr": "aggregate", "Call": "call"}


class Evaluator:
    """Evaluates AST nodes of one query over step grids (see module docstring)."""

    def __init__(self, querier: Querier, *, start_ms: int, end_ms: int, lookback_ms: int,
                 default_subquery_step_ms: int, max_samples: int, deadline: float,
                 annotations: Annotations | None = None, hints: SelectHints | None = None) -> None:
        self.querier = querier
        self.hints = hints or SelectHints()
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.lookback_ms = lookback_ms
        self.default_subquery_step_ms = default_subquery_step_ms
        self.max_samples = max_samples
        self.deadline = deadline
        self.annotations = annotations or Annotations()
        self._selected: dict[tuple[str, ...], list[SeriesData]] = {}
        self._selected_flat: dict[tuple[str, ...], FlatSeries] = {}
        self._samples_loaded = 0

    # -- dispatch ----------------------------------------------------------------------------------
    def eval(self, node: Any, steps: StepArray) -> Value:
        """Evaluate ``node`` at every time of ``steps`` (int64 ms, ascending)."""
        if time.monotonic() > self.deadline:
            raise QueryTimeoutError("query timed out in expression evaluation")
        kind = node_kind(node)
        method: Callable[[Any, StepArray], Value] | None = getattr(self, f"_eval_{_METHODS.get(kind, '')}", None)
        if method is None:
            raise QueryError(f"unsupported expression {kind}: {node}")
        value = method(node, steps)
        if isinstance(value, VectorValue) and int(value.present.sum()) > self.max_samples:
            raise QueryLimitError("query processing would load too many samples into memory in "
                                  "query execution")
        return value

    def _eval_number(self, node: Any, steps: StepArray) -> Value:
        return ScalarValue(np.full(len(steps), float(node.value)))

    def _eval_string(self, node: Any, steps: StepArray) -> Value:
        return StringValue(str(node.value))

    def _eval_paren(self, node: Any, steps: StepArray) -> Value:
        return self.eval(node.expr, steps)

    def _eval_unary(self, node: Any, steps: StepArray) -> Value:
        value = self.eval(node.expr, steps)
        if str(getattr(node.op, "value", node.op)).upper() in ("+", "ADD"):
            return value
        if isinstance(value, ScalarValue):
            return ScalarValue(-value.values)
        if isinstance(value, VectorValue):
            return VectorValue(list(value.labels), -value.values, value.present.copy(),
                               np.ones(value.num_series, dtype=bool))
        raise QueryError(f"unary {node.op} is not defined on {type(value).__name__}")

    def _eval_vector_selector(self, node: Any, steps: StepArray) -> Value:
        return self.instant_select(node, steps)[0]

    def _eval_matrix_selector(self, node: Any, steps: StepArray) -> Value:
        return self.range_vector(node, steps)

    def _eval_subquery(self, node: Any, steps: StepArray) -> Value:
        return self.range_vector(node, steps)

    def _eval_binary(self, node: Any, steps: StepArray) -> Value:
        lhs = self.eval(node.lhs, steps)
        rhs = self.eval(node.rhs, steps)
        return binary.evaluate_binary(node, lhs, rhs, self.annotations)

    def _eval_aggregate(self, node: Any, steps: StepArray) -> Value:
        inner = self.vector_arg(node.expr, steps)
        param: float | npt.NDArray[np.float64] | str | None = None
        if node.param is not None:
            value = self.eval(node.param, steps)
            if isinstance(value, ScalarValue):
                param = value.values
            elif isinstance(value, StringValue):
                param = value.value
            else:
                raise QueryError(f"expected a scalar or string parameter, got {type(value).__name__}")
        warnings: list[str] = []
        op = str(getattr(node.op, "value", node.op)).lower()
        result = aggregate(op, inner, list(node.grouping or ()), bool(node.without), param, warnings)
        for message in warnings:
            self.annotations.warn(message.removeprefix("PromQL warning: "))
        return result

    # -- selectors ---------------------------------------------------------------------------------
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

    def matrix_input(self, node: Any, steps: StepArray, hints: SelectHints | None = None) -> MatrixInput:
        """A range vector's samples per series: (labels, ts, values, drop_name, window ends, range).

        ``hints`` (from :meth:`tier_hints`) ask for a tier aggregate instead of raw samples."""
        node = unwrap(node)
        kind = node_kind(node)
        if kind == "MatrixSelector":
            vs = node.vector
            eval_ts = self.at_times(vs, steps) - int(getattr(vs, "offset_ms", 0) or 0)
            flat = self.select_flat(vs, hints)
            keep = ~is_stale(flat.values)
            if keep.all():
                f_ts, f_values, offsets = flat.ts, flat.values, flat.offsets
            else:  # drop stale markers, all series at once
                f_ts, f_values = flat.ts[keep], flat.values[keep]
                kept_before = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
                offsets = kept_before[flat.offsets]
            ts_list, vals_list = packed_views(f_ts, f_values, offsets)
            labels = list(flat.labels)
            return labels, ts_list, vals_list, np.zeros(len(labels), dtype=bool), eval_ts, int(node.range_ms)
        if kind == "SubqueryExpr":
            eval_ts = self.at_times(node, steps) - int(getattr(node, "offset_ms", 0) or 0)
            step = int(getattr(node, "step_ms", 0) or 0) or self.default_subquery_step_ms
            range_ms = int(node.range_ms)
            first = (int(eval_ts.min()) - range_ms) // step * step + step
            inner_steps = np.arange(first, int(eval_ts.max()) + 1, step, dtype=np.int64)
            inner = self.eval(node.expr, inner_steps)
            if not isinstance(inner, VectorValue):
                raise QueryError(f"subquery is only allowed on instant vector, got {type(inner).__name__}")
            # row-major masking keeps each series' points together and in time order
            sub_ts = np.broadcast_to(inner_steps, inner.present.shape)[inner.present]
            sub_values = inner.values[inner.present]
            sub_offsets = np.zeros(inner.num_series + 1, dtype=np.int64)
            np.cumsum(inner.present.sum(axis=1), out=sub_offsets[1:])
            sub_ts_list, sub_vals_list = packed_views(np.ascontiguousarray(sub_ts), sub_values, sub_offsets)
            return list(inner.labels), sub_ts_list, sub_vals_list, inner.drop_name.copy(), eval_ts, range_ms
        raise QueryError(f"expected a range vector, got {kind}")

    def range_vector(self, node: Any, steps: StepArray) -> MatrixValue:
        """A range vector as a value: the samples of each series' window at the (single) step."""
        labels, ts_list, vals_list, drop, eval_ts, range_ms = self.matrix_input(node, steps[:1])
        t = int(eval_ts[0])
        out = MatrixValue([], [], [], np.zeros(0, dtype=bool))
        keep_drop: list[bool] = []
        for lbls, ts, vals, d in zip(labels, ts_list, vals_list, drop, strict=True):
            mask = (ts > t - range_ms) & (ts <= t)
            if mask.any():
                out.labels.append(lbls)
                out.ts.append(ts[mask])
                out.values.append(vals[mask])
                keep_drop.append(bool(d))
        out.drop_name = np.array(keep_drop, dtype=bool)
        return out

    # -- functions ---------------------------------------------------------------------------------
    def scalar_arg(self, node: Any, steps: StepArray) -> npt.NDArray[np.float64]:
        value = self.eval(node, steps)
        if not isinstance(value, ScalarValue):
            raise QueryError(f"expected a scalar argument, got {type(value).__name__}")
        return value.values

    def vector_arg(self, node: Any, steps: StepArray) -> VectorValue:
        value = self.eval(node, steps)
        if not isinstance(value, VectorValue):
            raise QueryError(f"expected an instant vector argument, got {type(value).__name__}")
        return value

    def _eval_call(self, node: Any, steps: StepArray) -> Value:
        name = function_name(node)
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise QueryError(f"function {name}() is not supported")
        return spec.call(self, name, list(node.args), steps)

    def string_arg(self, node: Any, steps: StepArray) -> str:
        value = self.eval(node, steps)
        if not isinstance(value, StringValue):
            raise QueryError(f"expected a string argument, got {type(value).__name__}")
        return value.value
