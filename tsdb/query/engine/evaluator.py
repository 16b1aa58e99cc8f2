"""The PromQL evaluator: walks the AST over a step grid and produces values.

Every node is evaluated for all steps at once: an instant selector finds, for every series, the last
sample of each step's lookback window in one kernel call over all steps (:mod:`.selection`); range
functions run as one numba kernel call over all series and steps (:mod:`tsdb.query.functions.rollup`);
function calls go through the function table (:mod:`tsdb.query.functions.table`).
Windows are left-open, ``(t - lookback, t]`` and ``(t - range, t]`` (Prometheus 3.x). Stale markers
end a series. ``__name__`` removal is delayed: operations set ``drop_name`` flags and the engine
removes the names at the end.

One evaluator serves one query: it owns the querier's selected series (each distinct selector is
selected once) and the annotations. Not thread-safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.errors import QueryError, QueryLimitError, QueryTimeoutError
from tsdb.query.engine import binary
from tsdb.query.engine.aggregate import aggregate
from tsdb.query.engine.selection import Selection
from tsdb.query.functions.context import MatrixInput
from tsdb.query.functions.rollup import packed_views
from tsdb.query.functions.table import FUNCTIONS
from tsdb.query.parser.nodes import function_name, node_kind, unwrap
from tsdb.query.value import Annotations, MatrixValue, ScalarValue, StepArray, StringValue, Value, VectorValue
from tsdb.storage.interfaces import Querier, SelectHints, is_stale

_METHODS = {"NumberLiteral": "number", "StringLiteral": "string", "ParenExpr": "paren", "UnaryExpr": "unary",
            "VectorSelector": "vector_selector", "MatrixSelector": "matrix_selector", "SubqueryExpr": "subquery",
            "BinaryExpr": "binary", "AggregateExpr": "aggregate", "Call": "call"}


class Evaluator(Selection):
    """Evaluates AST nodes of one query over step grids (see module docstring)."""

    def __init__(self, querier: Querier, *, start_ms: int, end_ms: int, lookback_ms: int,
                 default_subquery_step_ms: int, max_samples: int, deadline: float,
                 annotations: Annotations | None = None, hints: SelectHints | None = None,
                 max_series: int = 0) -> None:
        super().__init__(querier, start_ms=start_ms, end_ms=end_ms, lookback_ms=lookback_ms,
                         max_samples=max_samples, hints=hints, max_series=max_series)
        self.default_subquery_step_ms = default_subquery_step_ms
        self.deadline = deadline
        self.annotations = annotations or Annotations()

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
