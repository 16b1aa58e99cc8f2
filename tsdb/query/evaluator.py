"""The PromQL evaluator: walks the AST over a step grid and produces values.

Every node is evaluated for all steps at once: an instant selector finds, for every series, the last
sample of each step's lookback window with one ``searchsorted`` over the whole steps array; range
functions run as one numba kernel call over all series and steps (:mod:`tsdb.query.rollup`).
Windows are left-open, ``(t - lookback, t]`` and ``(t - range, t]`` (Prometheus 3.x). Stale markers
end a series. ``__name__`` removal is delayed: operations set ``drop_name`` flags and the engine
removes the names at the end.

One evaluator serves one query: it owns the querier's selected series (each distinct selector is
selected once) and the annotations. Not thread-safe.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.errors import QueryError, QueryLimitError, QueryTimeoutError
from tsdb.labels import EMPTY_LABELS, Labels, Matcher, MatchType
from tsdb.query import anomaly
from tsdb.query import instant_functions as inst
from tsdb.query.rollup import ANCHORED_FUNCTIONS, RANGE_FUNCTIONS, SMOOTHED_FUNCTIONS, packed_views, rollup
from tsdb.query.select_kernels import instant_lookup
from tsdb.query.value import MatrixValue, ScalarValue, StringValue, Value, VectorValue
from tsdb.storage.interfaces import FlatSeries, Querier, SelectHints, is_stale

StepArray = npt.NDArray[np.int64]
SeriesData = tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64]]

COUNTER_SUFFIXES = ("_total", "_sum", "_count", "_bucket")
NATIVE_HISTOGRAM_FUNCTIONS = frozenset({"histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev",
                                        "histogram_stdvar"})
DATE_FUNCTIONS = frozenset({"year", "month", "day_of_month", "day_of_week", "day_of_year", "hour", "minute",
                            "days_in_month"})


def go_float(x: float) -> str:
    """Format a float like Go's ``%g`` (shortest representation)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1, x) < 0 else "0"
    text = repr(x)
    mantissa, _, exp_text = text.partition("e")
    digits = mantissa.replace("-", "").replace(".", "").lstrip("0")
    exponent = math.floor(math.log10(abs(x)))
    if -4 <= exponent < 21:
        formatted = f"{x:.{max(len(digits.rstrip('0')) - 1 - exponent, 0)}f}"
        return formatted.rstrip("0").rstrip(".") if "." in formatted else formatted
    mant = f"{x / 10 ** exponent:.{max(len(digits.rstrip('0')) - 1, 0)}f}" if not exp_text else mantissa
    return f"{mant}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


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


class Annotations:
    """Warnings and infos of one query, in order, without duplicates."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def info(self, message: str) -> None:
        if message not in self.infos:
            self.infos.append(message)


def node_kind(node: object) -> str:
    """The AST class name of ``node`` (the evaluator dispatches on names to stay decoupled)."""
    return type(node).__name__


def unwrap(node: Any) -> Any:
    """``node`` without enclosing parentheses."""
    while node_kind(node) == "ParenExpr":
        node = node.expr
    return node


def function_name(call: Any) -> str:
    func = call.func
    return str(getattr(func, "name", func))


def children(node: Any) -> Iterator[Any]:
    """The direct sub-expressions of an AST node."""
    if dataclasses.is_dataclass(node):
        values = [getattr(node, f.name) for f in dataclasses.fields(node)]
    else:
        values = list(vars(node).values())
    for value in values:
        if isinstance(value, list | tuple):
            for item in value:
                if _is_expr(item):
                    yield item
        elif _is_expr(value):
            yield value


def _is_expr(value: object) -> bool:
    return node_kind(value) in {"NumberLiteral", "StringLiteral", "VectorSelector", "MatrixSelector",
                                "SubqueryExpr", "Call", "AggregateExpr", "BinaryExpr", "UnaryExpr", "ParenExpr"}


def at_modifier_name(node: Any) -> str:
    """``"start"``, ``"end"`` or "" for a selector's/subquery's ``@ start()``/``@ end()`` modifier."""
    modifier = getattr(node, "at_modifier", None)
    if not modifier:
        return ""
    text = str(getattr(modifier, "value", modifier)).lower()
    return "start" if "start" in text else "end" if "end" in text else ""


def range_modifier(node: Any) -> str:
    """``"anchored"``, ``"smoothed"`` or "" for a range selector (experimental Prometheus modifiers)."""
    node = unwrap(node)
    vs = getattr(node, "vector", None) if node_kind(node) == "MatrixSelector" else None
    for candidate in (node, vs):
        if candidate is None:
            continue
        if getattr(candidate, "anchored", False):
            return "anchored"
        if getattr(candidate, "smoothed", False):
            return "smoothed"
    return ""


def selector_matchers(vs: Any) -> list[Matcher]:
    """The matchers of a vector selector, including the metric name."""
    matchers = list(vs.matchers or [])
    name = getattr(vs, "name", None)
    if name and not any(m.name == "__name__" for m in matchers):
        matchers.insert(0, Matcher(MatchType.EQUAL, "__name__", name))
    return matchers


_METHODS = {"NumberLiteral": "number", "StringLiteral": "string", "ParenExpr": "paren", "UnaryExpr": "unary",
            "VectorSelector": "vector_selector", "MatrixSelector": "matrix_selector", "SubqueryExpr": "subquery",
            "BinaryExpr": "binary", "AggregateExpr": "aggregate", "Call": "call"}


TIER_FUNCTIONS = {
    "count_over_time": ("count", "sum_over_time"),
    "sum_over_time": ("sum", "sum_over_time"),
    "min_over_time": ("min", "min_over_time"),
    "max_over_time": ("max", "max_over_time"),
    "avg_over_time": ("sum", "sum_over_time"),  # divided by the sum of counts
    "rate": ("counter", "rate"),
    "increase": ("counter", "increase"),
    "irate": ("counter", "irate"),
}
"""Range functions a downsampled tier can answer: function -> (aggregate read, function applied to it)."""


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
        from tsdb.query import binary

        lhs = self.eval(node.lhs, steps)
        rhs = self.eval(node.rhs, steps)
        return binary.evaluate_binary(node, lhs, rhs, self.annotations)

    def _eval_aggregate(self, node: Any, steps: StepArray) -> Value:
        from tsdb.query.aggregate import aggregate

        inner = self._vector_arg(node.expr, steps)
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

    def matrix_input(self, node: Any, steps: StepArray, hints: SelectHints | None = None
                     ) -> tuple[list[Labels], list[npt.NDArray[np.int64]], list[npt.NDArray[np.float64]],
                                npt.NDArray[np.bool_], StepArray, int]:
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
    def _scalar_arg(self, node: Any, steps: StepArray) -> npt.NDArray[np.float64]:
        value = self.eval(node, steps)
        if not isinstance(value, ScalarValue):
            raise QueryError(f"expected a scalar argument, got {type(value).__name__}")
        return value.values

    def _vector_arg(self, node: Any, steps: StepArray) -> VectorValue:
        value = self.eval(node, steps)
        if not isinstance(value, VectorValue):
            raise QueryError(f"expected an instant vector argument, got {type(value).__name__}")
        return value

    def _eval_call(self, node: Any, steps: StepArray) -> Value:
        name = function_name(node)
        args = list(node.args)
        if name in anomaly.FUNCTIONS:
            return anomaly.evaluate(self, name, args, steps)
        if name in RANGE_FUNCTIONS or name == "absent_over_time":
            return self._range_function(name, args, steps)
        return self._instant_function(name, args, steps)

    def _tier_function(self, name: str, arg: Any, steps: StepArray) -> Value | None:
        """``name`` over a tier's aggregates (docs/tiers.md has the mapping), or None to use raw samples."""
        node = unwrap(arg)
        plan = TIER_FUNCTIONS.get(name)
        if plan is None or node_kind(node) != "MatrixSelector" or range_modifier(arg):
            return None
        aggregate, applied = plan
        hints = self.tier_hints(name, int(node.range_ms), aggregate)
        if hints is None:
            return None
        labels, ts_list, vals_list, _, eval_ts, range_ms = self.matrix_input(arg, steps, hints)
        values, present = rollup(applied, ts_list, vals_list, eval_ts, range_ms, steps)
        if name == "avg_over_time":  # sum of sums / sum of counts, matched by series
            count_hints = dataclasses.replace(hints, aggregate="count")
            c_labels, c_ts, c_vals, _, _, _ = self.matrix_input(arg, steps, count_hints)
            counts, c_present = rollup("sum_over_time", c_ts, c_vals, eval_ts, range_ms, steps)
            row = {lb: i for i, lb in enumerate(c_labels)}
            idx = np.array([row.get(lb, -1) for lb in labels], dtype=np.int64)
            ok = idx >= 0
            denom = np.where(ok[:, None], counts[np.maximum(idx, 0)], np.nan)
            present = present & ok[:, None] & c_present[np.maximum(idx, 0)]
            values = np.where(present, values / np.where(present, denom, 1.0), 0.0)
        drop = np.ones(len(labels), dtype=bool)
        return VectorValue(list(labels), values, present, drop).without_empty_rows()

    def _range_function(self, name: str, args: list[Any], steps: StepArray) -> Value:
        matrix_index = next((i for i, a in enumerate(args)
                             if node_kind(unwrap(a)) in ("MatrixSelector", "SubqueryExpr")), 0)
        if len(args) == 1:
            from_tier = self._tier_function(name, args[0], steps)
            if from_tier is not None:
                return from_tier
        params = [self._scalar_arg(a, steps) for i, a in enumerate(args) if i != matrix_index]
        labels, ts_list, vals_list, drop, eval_ts, range_ms = self.matrix_input(args[matrix_index], steps)
        mode = range_modifier(args[matrix_index])
        allowed = ANCHORED_FUNCTIONS if mode == "anchored" else SMOOTHED_FUNCTIONS
        if mode and name not in allowed:
            raise QueryError(f"{mode} modifier can only be used with: {', '.join(allowed)} - not with {name}")
        if name == "absent_over_time":
            _, present = rollup("count_over_time", ts_list, vals_list, eval_ts, range_ms)
            missing = ~present.any(axis=0)
            arg = unwrap(args[matrix_index])
            lbls = inst.absent_labels(selector_matchers(arg.vector)) if node_kind(arg) == "MatrixSelector" \
                else EMPTY_LABELS
            vec = VectorValue([lbls], np.ones((1, len(steps))), np.asarray(missing).reshape(1, -1),
                              np.ones(1, dtype=bool))
            return vec.without_empty_rows()
        p1 = params[0] if params else None
        p2 = params[1] if len(params) > 1 else None
        if name == "double_exponential_smoothing" and p1 is not None and p2 is not None:
            for factor, what in ((p1, "smoothing"), (p2, "trend")):
                bad = (factor <= 0) | (factor >= 1) | np.isnan(factor)
                if bad.any() and any(len(t) >= 2 for t in ts_list):
                    raise QueryError(f"invalid {what} factor. Expected: 0 < {what[0]}f < 1, got: "
                                     f"{float(factor[np.argmax(bad)]):f}")
        values, present = rollup(name, ts_list, vals_list, eval_ts, range_ms, steps, p1, p2, mode,
                                 self.lookback_ms)
        if name == "quantile_over_time" and p1 is not None and present.any():
            bad = np.isnan(p1) | (p1 < 0) | (p1 > 1)
            for q in dict.fromkeys(p1[bad & present.any(axis=0)].tolist()):
                self.annotations.warn(f"quantile value should be between 0 and 1, got {go_float(q)}")
        if name in ("rate", "increase"):
            for i, lbls in enumerate(labels):
                metric = lbls.metric_name
                if metric and present[i].any() and not metric.endswith(COUNTER_SUFFIXES):
                    self.annotations.info("metric might not be a counter, name does not end in "
                                          f'_total/_sum/_count/_bucket: "{metric}"')
        keep_name = name in ("last_over_time", "first_over_time")
        drop_name = drop | (not keep_name)
        return VectorValue(list(labels), values, present, drop_name).without_empty_rows()

    def _instant_function(self, name: str, args: list[Any], steps: StepArray) -> Value:
        """Functions without a range-vector argument."""
        k = len(steps)
        if name == "time":
            return ScalarValue(steps / 1000.0)
        if name == "pi":
            return ScalarValue(np.full(k, math.pi))
        if name in ("start", "end", "range", "step"):
            value = {"start": self.start_ms / 1000.0, "end": self.end_ms / 1000.0,
                     "range": (self.end_ms - self.start_ms) / 1000.0,
                     "step": float(steps[1] - steps[0]) / 1000.0 if k > 1 else 0.0}[name]
            return ScalarValue(np.full(k, value))
        if name in ("min_of", "max_of"):
            a, b = (self._scalar_arg(x, steps) for x in args[:2])
            return ScalarValue(np.minimum(a, b) if name == "min_of" else np.maximum(a, b))
        if name == "vector":
            scalar = self._scalar_arg(args[0], steps)
            return VectorValue([EMPTY_LABELS], scalar[None, :].copy(), np.ones((1, k), dtype=bool))
        if name == "scalar":
            vec = self._vector_arg(args[0], steps)
            count = vec.present.sum(axis=0)
            total = np.where(vec.present, vec.values, 0.0).sum(axis=0) if vec.num_series else np.zeros(k)
            if vec.num_series:
                first = vec.values[np.argmax(vec.present, axis=0), np.arange(k)]
                total = np.where(count == 1, first, total)
            return ScalarValue(np.where(count == 1, total, np.nan))
        if name in DATE_FUNCTIONS:
            if args:
                vec = self._vector_arg(args[0], steps)
            else:
                vec = VectorValue([EMPTY_LABELS], (steps / 1000.0)[None, :], np.ones((1, k), dtype=bool))
            return inst.with_values(vec, inst.date_function(name, vec.values))
        if name == "timestamp":
            arg = args[0]
            if node_kind(arg) == "VectorSelector":
                vec, sample_ts = self.instant_select(arg, steps)
                return inst.with_values(vec, sample_ts / 1000.0)
            vec = self._vector_arg(arg, steps)
            return inst.with_values(vec, np.broadcast_to(steps / 1000.0, vec.values.shape).copy())
        if name in ("absent", "absent_over_time"):
            vec = self._vector_arg(args[0], steps)
            missing = ~vec.present.any(axis=0)
            arg = args[0]
            if node_kind(arg) == "VectorSelector":
                lbls = inst.absent_labels(selector_matchers(arg))
            else:
                lbls = EMPTY_LABELS
            out = VectorValue([lbls], np.ones((1, k)), np.asarray(missing).reshape(1, -1), np.ones(1, dtype=bool))
            return out.without_empty_rows()
        if name in inst.MATH_FUNCTIONS:
            return inst.apply_math(name, self._vector_arg(args[0], steps))
        if name == "round":
            vec = self._vector_arg(args[0], steps)
            to_nearest = self._scalar_arg(args[1], steps) if len(args) > 1 else np.ones(k)
            return inst.round_to(vec, to_nearest)
        if name in ("clamp", "clamp_min", "clamp_max"):
            vec = self._vector_arg(args[0], steps)
            if name == "clamp":
                return inst.clamp(vec, self._scalar_arg(args[1], steps), self._scalar_arg(args[2], steps))
            bound = self._scalar_arg(args[1], steps)
            return inst.clamp(vec, bound if name == "clamp_min" else None, bound if name == "clamp_max" else None)
        if name == "label_replace":
            vec = self._vector_arg(args[0], steps)
            dst, repl, src, regex = (self._string_arg(a, steps) for a in args[1:5])
            return inst.label_replace(vec, dst, repl, src, regex)
        if name == "label_join":
            vec = self._vector_arg(args[0], steps)
            strings = [self._string_arg(a, steps) for a in args[1:]]
            return inst.label_join(vec, strings[0], strings[1], strings[2:])
        if name in ("sort", "sort_desc", "sort_by_label", "sort_by_label_desc"):
            vec = self._vector_arg(args[0], steps)
            if k > 1 or self.start_ms != self.end_ms:
                self.annotations.warn("sort is ineffective for range queries since results are always "
                                      "ordered by labels")
                return vec
            if name in ("sort", "sort_desc"):
                return inst.sort_rows(vec, name == "sort_desc")
            names = [self._string_arg(a, steps) for a in args[1:]]
            return inst.sort_by_label(vec, names, name.endswith("_desc"))
        if name == "histogram_quantile":
            q = self._scalar_arg(args[0], steps)
            vec = self._vector_arg(args[1], steps)
            for bad in dict.fromkeys(q[np.isnan(q) | (q < 0) | (q > 1)].tolist()):
                self.annotations.warn(f"quantile value should be between 0 and 1, got {go_float(bad)}")
            return inst.histogram_quantile(q, vec, self.annotations.warn, self.annotations.info)
        if name == "histogram_quantiles":
            vec = self._vector_arg(args[0], steps)
            label = self._string_arg(args[1], steps)
            parts: list[VectorValue] = []
            for arg in args[2:]:
                q = self._scalar_arg(arg, steps)
                for bad in dict.fromkeys(q[np.isnan(q) | (q < 0) | (q > 1)].tolist()):
                    self.annotations.warn(f"quantile value should be between 0 and 1, got {go_float(bad)}")
                part = inst.histogram_quantile(q, vec, self.annotations.warn, self.annotations.info)
                text = inst.openmetrics_float(float(q[0]))
                parts.append(VectorValue([lbls.with_labels({label: text}) for lbls in part.labels], part.values,
                                         part.present, part.drop_name))
            return inst.concat(parts, k)
        if name == "histogram_fraction":
            lower = self._scalar_arg(args[0], steps)
            upper = self._scalar_arg(args[1], steps)
            return inst.histogram_fraction(lower, upper, self._vector_arg(args[2], steps), self.annotations.warn)
        if name == "info":
            return self._info(args, steps)
        if name in NATIVE_HISTOGRAM_FUNCTIONS:
            self._vector_arg(args[0], steps)
            return VectorValue.empty(k)
        raise QueryError(f"function {name}() is not supported")

    def _string_arg(self, node: Any, steps: StepArray) -> str:
        value = self.eval(node, steps)
        if not isinstance(value, StringValue):
            raise QueryError(f"expected a string argument, got {type(value).__name__}")
        return value.value

    # -- info() ------------------------------------------------------------------------------------
    def _info(self, args: list[Any], steps: StepArray) -> Value:
        """``info(v, {data matchers})``: add data labels of info series sharing ``instance``/``job``."""
        base = self._vector_arg(args[0], steps)
        data: dict[str, list[Matcher]] = {}
        name_matchers: list[Matcher] = []
        if len(args) > 1:
            for m in selector_matchers(unwrap(args[1])):
                data.setdefault(m.name, []).append(m)
                if m.name == "__name__":
                    name_matchers.append(m)
        else:
            name_matchers = [Matcher(MatchType.EQUAL, "__name__", TARGET_INFO)]
        effective = _effective_info_name_matchers(name_matchers)
        ignored = np.array([all(m.matches(lbls.metric_name) for m in effective) for lbls in base.labels], bool)
        id_values: dict[str, set[str]] = {}
        for lbls, ign in zip(base.labels, ignored, strict=True):
            if ign:
                continue
            for name in IDENTIFYING_LABELS:
                value = lbls.get(name, "")
                if value:
                    id_values.setdefault(name, set()).add(value)
        data_names = [m for ms in data.values() for m in ms if m.name == "__name__"]
        data = {k: v for k, v in data.items() if k != "__name__"}
        info_labels: list[Labels] = []
        info_ts = np.zeros((0, len(steps)), dtype=np.int64)
        info_present = np.zeros((0, len(steps)), dtype=bool)
        if id_values:
            matchers = [Matcher(MatchType.REGEX, name, "|".join(re.escape(v) for v in sorted(vals)))
                        for name, vals in id_values.items()]
            matchers += [m for ms in data.values() for m in ms]
            matchers += _effective_info_name_matchers(data_names)
            offset, at_ms, at_modifier = _info_time(args[0])
            selector = _InfoSelector(matchers, offset, at_ms, at_modifier)
            vec, sample_ts = self.instant_select(selector, steps)
            info_labels, info_ts, info_present = vec.labels, sample_ts, vec.present
        return _combine_info(base, ignored, info_labels, info_ts, info_present, data)


TARGET_INFO = "target_info"
IDENTIFYING_LABELS = ("instance", "job")


@dataclasses.dataclass
class _InfoSelector:
    """A synthetic selector for the info series (same offset/@ as the base expression's selector)."""

    matchers: list[Matcher]
    offset_ms: int
    at_ms: int | None
    at_modifier: Any
    name: str = ""


def _info_time(node: Any) -> tuple[int, int | None, Any]:
    """(offset, @ ms, @ modifier) of the first selector, with enclosing subqueries' offsets and @ applied."""
    stack: list[tuple[Any, list[Any]]] = [(node, [])]
    while stack:
        current, path = stack.pop(0)
        if node_kind(current) == "VectorSelector":
            offset = int(getattr(current, "offset_ms", 0) or 0)
            at_ms, modifier = getattr(current, "at_ms", None), getattr(current, "at_modifier", None)
            for parent in reversed(path):
                if at_ms is not None or modifier:
                    break
                if node_kind(parent) == "SubqueryExpr":
                    offset += int(getattr(parent, "offset_ms", 0) or 0)
                    at_ms, modifier = getattr(parent, "at_ms", None), getattr(parent, "at_modifier", None)
            return offset, at_ms, modifier
        stack[:0] = [(child, [*path, current]) for child in children(current)]
    return 0, None, None


def _effective_info_name_matchers(matchers: list[Matcher]) -> list[Matcher]:
    if any(m.type in (MatchType.EQUAL, MatchType.REGEX) for m in matchers):
        return matchers
    if matchers:
        return [Matcher(MatchType.REGEX, "__name__", ".+_info"), *matchers]
    return [Matcher(MatchType.EQUAL, "__name__", TARGET_INFO)]


def _info_sig(name: str, lbls: Labels) -> tuple[str, ...]:
    return (name, *(f"{n}={lbls.get(n, '')}" for n in IDENTIFYING_LABELS if lbls.get(n, "")))


def _combine_info(base: VectorValue, ignored: npt.NDArray[np.bool_], info_labels: list[Labels],
                  info_ts: npt.NDArray[np.int64], info_present: npt.NDArray[np.bool_],
                  data: dict[str, list[Matcher]]) -> VectorValue:
    """Join base series with info series step by step (Prometheus's combineWithInfoVector)."""
    steps = base.values.shape[1]
    info_names = sorted({lbls.metric_name for lbls in info_labels})
    all_match_empty = all(m.matches("") for ms in data.values() for m in ms)
    out: dict[Labels, tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], bool]] = {}
    for k in range(steps):
        by_sig: dict[tuple[str, ...], int] = {}
        for j, lbls in enumerate(info_labels):
            if not info_present[j, k]:
                continue
            sig = _info_sig(lbls.metric_name, lbls)
            prev = by_sig.get(sig)
            if prev is None or info_ts[prev, k] < info_ts[j, k]:
                by_sig[sig] = j
            elif info_ts[prev, k] == info_ts[j, k]:
                raise QueryError(f"found duplicate series for info metric: existing {info_labels[prev]} @ "
                                 f"{info_ts[prev, k]}, new {lbls} @ {info_ts[j, k]}")
        for i, lbls in enumerate(base.labels):
            if not base.present[i, k]:
                continue
            result = lbls
            if not ignored[i]:
                added: dict[str, str] = {}
                seen = False
                for name in info_names:
                    j_match = by_sig.get(_info_sig(name, lbls))
                    if j_match is None:
                        continue
                    for lname, lvalue in info_labels[j_match].items():
                        if lname == "__name__" or (data and lname not in data):
                            continue
                        if added.get(lname, lvalue) != lvalue:
                            raise QueryError(f"conflicting label: {lname}")
                        if lname not in lbls:
                            added[lname] = lvalue
                    seen = True
                if not seen and not all_match_empty:
                    continue
                result = lbls.with_labels(added) if added else lbls
            row = out.get(result)
            if row is None:
                row = (np.zeros(steps), np.zeros(steps, dtype=bool), bool(base.drop_name[i]))
                out[result] = row
            elif row[1][k]:
                raise QueryError("vector cannot contain metrics with the same labelset")
            row[0][k] = base.values[i, k]
            row[1][k] = True
    labels = list(out)
    if not labels:
        return VectorValue.empty(steps)
    return VectorValue(labels, np.array([out[x][0] for x in labels]), np.array([out[x][1] for x in labels]),
                       np.array([out[x][2] for x in labels], dtype=bool))
