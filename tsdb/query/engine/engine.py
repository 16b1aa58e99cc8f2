"""The PromQL query engine: parse, open one querier, evaluate, finish the result.

``Engine(queryable).instant(query, t_ms)`` and ``.range(query, start_ms, end_ms, step_ms)`` return a
:class:`~tsdb.query.value.Value`; ``query_instant``/``query_range`` return it as a
:class:`~tsdb.query.result.QueryResult` with the annotations (warnings and infos). One querier is opened
per query over the time range the AST needs (offsets, ``@``, ranges, lookback and subqueries included)
and each distinct selector is selected once. :meth:`Engine.from_options` builds an engine from a config's
``query`` section.

Limits: ``max_samples`` (samples loaded and points of any intermediate vector), ``max_series`` (series
selected by all the query's selectors together; 0 = no limit), ``timeout_s`` (checked between nodes, between
batches of series read from storage and between batches of series in range functions and aggregations, so a
query stops within about a second of it) and ``max_points`` per series for range queries; exceeding one raises
:class:`~tsdb.errors.QueryLimitError` or :class:`~tsdb.errors.QueryTimeoutError`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from tsdb.config import QueryOptions
from tsdb.errors import InvalidArgumentError, QueryError, QueryLimitError
from tsdb.labels import Labels
from tsdb.query.engine.evaluator import Evaluator
from tsdb.query.engine.result_cache import CacheKey, ResultCache
from tsdb.query.parser.ast import has_duration_exprs, resolve_durations, walk
from tsdb.query.parser.nodes import at_modifier_name, children, node_kind, range_modifier
from tsdb.query.parser.parser import parse
from tsdb.query.result import QueryResult, to_result
from tsdb.query.value import (
    Annotations,
    MatrixValue,
    ScalarValue,
    StringValue,
    Value,
    VectorValue,
    label_order_key,
)
from tsdb.storage.interfaces import Queryable, SelectHints, deadline_scope

METADATA_LABELS = ("__name__", "__type__", "__unit__")
DUPLICATE_LABELSET = "vector cannot contain metrics with the same labelset"


def _parse(query: Any) -> Any:
    if isinstance(query, str):
        return parse(query)
    return query


def _at_range(node: Any, lo: int, hi: int, start: int, end: int) -> tuple[int, int]:
    modifier = at_modifier_name(node)
    if modifier:
        t = start if modifier == "start" else end
        return t, t
    at = getattr(node, "at_ms", None)
    if at is not None:
        return int(at), int(at)
    return lo, hi


def time_bounds(node: Any, lo: int, hi: int, start: int, end: int, lookback: int,
                default_step: int) -> tuple[int, int] | None:
    """The ``[mint, maxt]`` of samples ``node`` reads when evaluated at times in ``[lo, hi]``."""
    kind = node_kind(node)
    if kind == "VectorSelector":
        a, b = _at_range(node, lo, hi, start, end)
        off = int(node.offset_ms or 0)
        ahead = lookback if getattr(node, "smoothed", False) else 0  # smoothed interpolates towards the next sample
        return a - off - lookback + 1, b - off + ahead
    if kind == "MatrixSelector":
        vs = node.vector
        a, b = _at_range(vs, lo, hi, start, end)
        off = int(vs.offset_ms or 0)
        mode = range_modifier(node)
        extra = lookback if mode else 0
        return a - off - int(node.range_ms) - extra + 1, b - off + (lookback if mode == "smoothed" else 0)
    if kind == "SubqueryExpr":
        a, b = _at_range(node, lo, hi, start, end)
        off = int(node.offset_ms or 0)
        return time_bounds(node.expr, a - off - int(node.range_ms), b - off, start, end, lookback, default_step)
    result: tuple[int, int] | None = None
    if kind == "Call" and str(getattr(node.func, "name", node.func)) == "info" and node.args:
        # the info series are read with the first argument's offset/@ and the lookback
        sub = time_bounds(node.args[0], lo, hi, start, end, lookback, default_step)
        if sub is not None:
            result = (sub[0] - lookback, sub[1])
    for child in children(node):
        sub = time_bounds(child, lo, hi, start, end, lookback, default_step)
        if sub is not None:
            result = sub if result is None else (min(result[0], sub[0]), max(result[1], sub[1]))
    return result


TIER_STEP_MS = 25 * 60_000
"""The smallest step at which ``auto`` may answer from a downsampled tier (5m resolution at most step/5)."""

SOURCE_RESOLUTIONS = ("auto", "raw", "5m", "1h")
"""Values of ``max_source_resolution``: which downsampled tier may answer (auto: by step and range)."""


class Engine:
    """Evaluates PromQL over any :class:`~tsdb.storage.interfaces.Queryable`. Thread-safe (no shared state)."""

    def __init__(self, queryable: Queryable, lookback_delta_ms: int = 300_000, max_samples: int = 50_000_000,
                 timeout_s: float = 120, max_points: int = 11_000, default_subquery_step_ms: int = 60_000,
                 result_cache: ResultCache | None = None, max_series: int = 500_000) -> None:
        self.queryable = queryable
        self.max_series = max_series
        self.lookback_delta_ms = lookback_delta_ms
        self.max_samples = max_samples
        self.timeout_s = timeout_s
        self.max_points = max_points
        self.default_subquery_step_ms = default_subquery_step_ms
        self.result_cache = result_cache

    @classmethod
    def from_options(cls, queryable: Queryable, options: QueryOptions) -> Engine:
        """An engine with the limits and defaults of a config's ``query`` section (server and embedded API);
        with a range result cache of ``options.result_cache_max_bytes`` when the queryable has a
        ``data_generation`` (see :mod:`~tsdb.query.engine.result_cache`)."""
        cache = None
        if options.result_cache_max_bytes > 0 and hasattr(queryable, "data_generation"):
            cache = ResultCache(options.result_cache_max_bytes, lambda: int(queryable.data_generation))
        return cls(queryable, lookback_delta_ms=options.lookback_delta_ms, max_samples=options.max_samples,
                   timeout_s=options.timeout_ms / 1000, max_points=options.max_points_per_series,
                   default_subquery_step_ms=options.default_subquery_step_ms, result_cache=cache,
                   max_series=options.max_series)

    def instant(self, query: Any, t_ms: int, max_source_resolution: str = "auto") -> Value:
        """Evaluate ``query`` (text or parsed AST) at ``t_ms``; a range-vector query gives a MatrixValue.

        ``max_source_resolution`` (raw, 5m, 1h, auto) limits which downsampled tier may answer."""
        return self.instant_annotated(query, t_ms, max_source_resolution)[0]

    def range(self, query: Any, start_ms: int, end_ms: int, step_ms: int, max_source_resolution: str = "auto"
              ) -> Value:
        """Evaluate ``query`` at ``start, start+step, ... <= end``: a VectorValue over that grid or a scalar."""
        return self._range(query, start_ms, end_ms, step_ms, max_source_resolution)[0]

    def instant_annotated(self, query: Any, t_ms: int, max_source_resolution: str = "auto",
                          timeout_s: float | None = None) -> tuple[Value, Annotations]:
        """:meth:`instant` with the query's warnings and infos; ``timeout_s`` shortens the engine's timeout
        for this query (never lengthens it, as Prometheus's ``timeout`` parameter)."""
        return self._run(_parse(query), np.array([t_ms], dtype=np.int64), t_ms, t_ms, instant=True, step_ms=0,
                         resolution=max_source_resolution, timeout_s=timeout_s)

    def range_annotated(self, query: Any, start_ms: int, end_ms: int, step_ms: int,
                        max_source_resolution: str = "auto", timeout_s: float | None = None
                        ) -> tuple[Value, Annotations]:
        """:meth:`range` with the query's warnings and infos; ``timeout_s`` as for :meth:`instant_annotated`."""
        return self._range(query, start_ms, end_ms, step_ms, max_source_resolution, timeout_s)

    def query_instant(self, query: Any, t_ms: int, max_source_resolution: str = "auto") -> QueryResult:
        """Like :meth:`instant`, as a :class:`~tsdb.query.result.QueryResult` with the annotations."""
        steps = np.array([t_ms], dtype=np.int64)
        value, annotations = self._run(_parse(query), steps, t_ms, t_ms, instant=True, step_ms=0,
                                       resolution=max_source_resolution)
        return to_result(value, steps, annotations.warnings, annotations.infos)

    def query_range(self, query: Any, start_ms: int, end_ms: int, step_ms: int, max_source_resolution: str = "auto"
                    ) -> QueryResult:
        """Like :meth:`range`, as a :class:`~tsdb.query.result.QueryResult` with the annotations."""
        value, annotations = self._range(query, start_ms, end_ms, step_ms, max_source_resolution)
        steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        return to_result(value, steps, annotations.warnings, annotations.infos)

    def _range(self, query: Any, start_ms: int, end_ms: int, step_ms: int, max_source_resolution: str,
               timeout_s: float | None = None) -> tuple[Value, Annotations]:
        if step_ms <= 0:
            raise InvalidArgumentError("zero or negative query resolution step widths are not accepted. "
                                       "Try a positive integer")
        if end_ms < start_ms:
            raise InvalidArgumentError("end timestamp must not be before start time")
        if (end_ms - start_ms) // step_ms > self.max_points:  # as Prometheus: 11,000 steps allowed
            raise QueryLimitError(f"exceeded maximum resolution of {self.max_points:,} points per timeseries. "
                                  "Try decreasing the query resolution (?step=XX)")
        expr = _parse(query)

        def compute(first: int, last: int) -> tuple[Value, Annotations]:
            steps = np.arange(first, last + 1, step_ms, dtype=np.int64)
            return self._run(expr, steps, first, last, instant=False, step_ms=step_ms,
                             resolution=max_source_resolution, timeout_s=timeout_s)

        key = self._cache_key(expr, start_ms, step_ms, max_source_resolution)
        if key is None or self.result_cache is None:
            return compute(start_ms, end_ms)
        bounds = time_bounds(expr, 0, 0, 0, 0, self.lookback_delta_ms, self.default_subquery_step_ms)
        ahead = bounds[1] if bounds is not None else 0
        return self.result_cache.range(key, start_ms, end_ms, step_ms, ahead, compute)

    def _cache_key(self, expr: Any, start_ms: int, step_ms: int, resolution: str) -> CacheKey | None:
        """The result cache key of a range query, or None when its results depend on its start and end
        (``@`` modifiers, ``step()``/``range()`` durations) or may come from downsampled tiers (steps of
        25 minutes or more, where ``auto`` picks tiers by the whole range)."""
        if self.result_cache is None or has_duration_exprs(expr):
            return None
        if resolution != "raw" and step_ms >= TIER_STEP_MS:
            return None
        for node in walk(expr):
            if at_modifier_name(node) or getattr(node, "at_ms", None) is not None:
                return None
        return (str(expr), step_ms, start_ms % step_ms, resolution, self.lookback_delta_ms,
                self.default_subquery_step_ms)

    def _run(self, expr: Any, steps: np.ndarray, start: int, end: int, instant: bool, step_ms: int,
             resolution: str = "auto", timeout_s: float | None = None) -> tuple[Value, Annotations]:
        if resolution not in SOURCE_RESOLUTIONS:
            raise InvalidArgumentError(f"invalid max_source_resolution {resolution!r}: use one of "
                                       f"{', '.join(SOURCE_RESOLUTIONS)}")
        if has_duration_exprs(expr):  # step()/range() durations take this query's values
            try:
                expr = resolve_durations(expr, step_ms, end - start)
            except (ZeroDivisionError, OverflowError, ValueError) as err:
                raise QueryError(f"invalid duration expression: {err}") from err
            for node in walk(expr):
                if node_kind(node) in ("MatrixSelector", "SubqueryExpr") and (
                        getattr(node, "range_ms", 1) <= 0 or getattr(node, "step_ms", 0) < 0):
                    raise QueryError(f"duration must be greater than 0 in {node}")
        bounds = time_bounds(expr, start, end, start, end, self.lookback_delta_ms, self.default_subquery_step_ms)
        mint, maxt = bounds if bounds is not None else (start, end)
        annotations = Annotations()
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else min(timeout_s, self.timeout_s))
        querier = self.queryable.querier(mint, maxt)
        try:
            evaluator = Evaluator(querier, start_ms=start, end_ms=end, lookback_ms=self.lookback_delta_ms,
                                  default_subquery_step_ms=self.default_subquery_step_ms,
                                  max_samples=self.max_samples, max_series=self.max_series, deadline=deadline,
                                  annotations=annotations,
                                  hints=SelectHints(mint=mint, maxt=maxt,
                                                    step_ms=int(steps[1] - steps[0]) if len(steps) > 1 else 0,
                                                    max_source_resolution=resolution))
            with deadline_scope(deadline):
                value = evaluator.eval(expr, steps)
            for warning in getattr(querier, "warnings", ()):  # stores of a global view that failed
                annotations.warn(warning)
        finally:
            querier.close()
        if not instant and isinstance(value, MatrixValue | StringValue):
            kind = "range vector" if isinstance(value, MatrixValue) else "string"
            raise QueryError(f"invalid expression type \"{kind}\" for range query, must be Scalar or instant Vector")
        value = finish(value, instant)
        return value, annotations


def _drop_names(labels: list[Labels], drop: np.ndarray) -> list[Labels]:
    return [lbls.without(METADATA_LABELS) if d else lbls for lbls, d in zip(labels, drop, strict=True)]


def finish(value: Value, instant: bool) -> Value:
    """Apply delayed name removal, reject or merge duplicate label sets, order a range result by labels."""
    if isinstance(value, ScalarValue | StringValue):
        return value
    if isinstance(value, MatrixValue):
        labels = _drop_names(value.labels, value.drop_name)
        if len(set(labels)) != len(labels):
            raise QueryError(DUPLICATE_LABELSET)
        order = sorted(range(len(labels)), key=lambda i: labels[i])
        return MatrixValue([labels[i] for i in order], [value.ts[i] for i in order],
                           [value.values[i] for i in order])
    vec = value.without_empty_rows()
    labels = _drop_names(vec.labels, vec.drop_name)
    if instant:
        if len(set(labels)) != len(labels):
            raise QueryError(DUPLICATE_LABELSET)
        return VectorValue(labels, vec.values, vec.present)
    rows: dict[Labels, list[int]] = {}
    for i, lbls in enumerate(labels):
        rows.setdefault(lbls, []).append(i)
    ordered: list[Labels] = sorted(rows.keys(), key=label_order_key)
    values = np.zeros((len(ordered), vec.values.shape[1]))
    present = np.zeros((len(ordered), vec.values.shape[1]), dtype=bool)
    for j, lbls in enumerate(ordered):
        members = rows[lbls]
        if len(members) > 1 and (vec.present[members].sum(axis=0) > 1).any():
            raise QueryError(DUPLICATE_LABELSET)
        for i in members:
            values[j] = np.where(vec.present[i], vec.values[i], values[j])
            present[j] |= vec.present[i]
    return VectorValue(ordered, values, present)
