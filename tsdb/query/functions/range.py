"""Range-vector functions (``rate``, ``*_over_time``, ``absent_over_time``, ...): one rollup kernel call over
all series and steps (:mod:`tsdb.query.functions.rollup`), or a downsampled tier's aggregates when the
storage offers one (:data:`TIER_FUNCTIONS`, docs/tiers.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tsdb.errors import QueryError
from tsdb.labels import EMPTY_LABELS
from tsdb.query.functions import instant as inst
from tsdb.query.functions.context import EvalContext
from tsdb.query.functions.rollup import ANCHORED_FUNCTIONS, SMOOTHED_FUNCTIONS, rollup
from tsdb.query.parser.nodes import node_kind, range_modifier, selector_matchers, unwrap
from tsdb.query.value import StepArray, Value, VectorValue, go_float

COUNTER_SUFFIXES = ("_total", "_sum", "_count", "_bucket")

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


def tier_function(ev: EvalContext, name: str, arg: Any, steps: StepArray) -> Value | None:
    """``name`` over a tier's aggregates (docs/tiers.md has the mapping), or None to use raw samples."""
    node = unwrap(arg)
    plan = TIER_FUNCTIONS.get(name)
    if plan is None or node_kind(node) != "MatrixSelector" or range_modifier(arg):
        return None
    aggregate, applied = plan
    hints = ev.tier_hints(name, int(node.range_ms), aggregate)
    if hints is None:
        return None
    labels, ts_list, vals_list, _, eval_ts, range_ms = ev.matrix_input(arg, steps, hints)
    values, present = rollup(applied, ts_list, vals_list, eval_ts, range_ms, steps)
    if name == "avg_over_time":  # sum of sums / sum of counts, matched by series
        count_hints = dataclasses.replace(hints, aggregate="count")
        c_labels, c_ts, c_vals, _, _, _ = ev.matrix_input(arg, steps, count_hints)
        counts, c_present = rollup("sum_over_time", c_ts, c_vals, eval_ts, range_ms, steps)
        row = {lb: i for i, lb in enumerate(c_labels)}
        idx = np.array([row.get(lb, -1) for lb in labels], dtype=np.int64)
        ok = idx >= 0
        denom = np.where(ok[:, None], counts[np.maximum(idx, 0)], np.nan)
        present = present & ok[:, None] & c_present[np.maximum(idx, 0)]
        values = np.where(present, values / np.where(present, denom, 1.0), 0.0)
    drop = np.ones(len(labels), dtype=bool)
    return VectorValue(list(labels), values, present, drop).without_empty_rows()


def range_function(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    matrix_index = next((i for i, a in enumerate(args)
                         if node_kind(unwrap(a)) in ("MatrixSelector", "SubqueryExpr")), 0)
    if len(args) == 1:
        from_tier = tier_function(ev, name, args[0], steps)
        if from_tier is not None:
            return from_tier
    params = [ev.scalar_arg(a, steps) for i, a in enumerate(args) if i != matrix_index]
    labels, ts_list, vals_list, drop, eval_ts, range_ms = ev.matrix_input(args[matrix_index], steps)
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
                             ev.lookback_ms)
    if name == "quantile_over_time" and p1 is not None and present.any():
        bad = np.isnan(p1) | (p1 < 0) | (p1 > 1)
        for q in dict.fromkeys(p1[bad & present.any(axis=0)].tolist()):
            ev.annotations.warn(f"quantile value should be between 0 and 1, got {go_float(q)}")
    if name in ("rate", "increase"):
        for i, lbls in enumerate(labels):
            metric = lbls.metric_name
            if metric and present[i].any() and not metric.endswith(COUNTER_SUFFIXES):
                ev.annotations.info("metric might not be a counter, name does not end in "
                                      f'_total/_sum/_count/_bucket: "{metric}"')
    keep_name = name in ("last_over_time", "first_over_time")
    drop_name = drop | (not keep_name)
    return VectorValue(list(labels), values, present, drop_name).without_empty_rows()
