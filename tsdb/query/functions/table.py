"""The PromQL function table: for every function its signature *and* its implementation (like Prometheus's
``FunctionCalls`` next to its ``Functions``), Prometheus 3.x.

Signature: argument types, variadic arity, return type. ``variadic``: 0 = exactly ``arg_types``; n > 0 =
the last n argument types are optional; -1 = the last argument type may repeat any number of times
(including zero extra). ``experimental`` functions are behind a feature flag in Prometheus; tsdb enables
them. Implementation: ``call(context, name, argument nodes, steps)`` (:mod:`tsdb.query.functions.context`);
the parser checks calls against the signatures, the evaluator runs ``call``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tsdb.query.functions import anomaly, info, range
from tsdb.query.functions import instant as inst
from tsdb.query.functions.context import Implementation

S, V, M, STR = "scalar", "vector", "matrix", "string"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arg_types: tuple[str, ...]
    variadic: int
    return_type: str
    call: Implementation
    experimental: bool = False


def _f(name: str, args: tuple[str, ...], call: Implementation, ret: str = V, variadic: int = 0,
       experimental: bool = False) -> FunctionSpec:
    return FunctionSpec(name, args, variadic, ret, call, experimental)


_RANGE = range.range_function
_MATH = inst.call_math
_DATE = inst.call_date
_HIST = inst.call_native_histogram
_ANOMALY = anomaly.evaluate

_SPECS = [
    _f("abs", (V,), _MATH), _f("absent", (V,), inst.call_absent), _f("absent_over_time", (M,), _RANGE),
    _f("acos", (V,), _MATH), _f("acosh", (V,), _MATH), _f("asin", (V,), _MATH), _f("asinh", (V,), _MATH),
    _f("atan", (V,), _MATH), _f("atanh", (V,), _MATH), _f("avg_over_time", (M,), _RANGE),
    _f("ceil", (V,), _MATH), _f("changes", (M,), _RANGE), _f("clamp", (V, S, S), inst.call_clamp),
    _f("clamp_max", (V, S), inst.call_clamp), _f("clamp_min", (V, S), inst.call_clamp), _f("cos", (V,), _MATH),
    _f("cosh", (V,), _MATH), _f("count_over_time", (M,), _RANGE),
    _f("days_in_month", (V,), _DATE, variadic=1), _f("day_of_month", (V,), _DATE, variadic=1),
    _f("day_of_week", (V,), _DATE, variadic=1), _f("day_of_year", (V,), _DATE, variadic=1),
    _f("deg", (V,), _MATH), _f("delta", (M,), _RANGE), _f("deriv", (M,), _RANGE),
    _f("double_exponential_smoothing", (M, S, S), _RANGE, experimental=True),
    _f("exp", (V,), _MATH), _f("first_over_time", (M,), _RANGE, experimental=True), _f("floor", (V,), _MATH),
    _f("histogram_avg", (V,), _HIST), _f("histogram_count", (V,), _HIST),
    _f("histogram_fraction", (S, S, V), inst.call_histogram_fraction),
    _f("histogram_quantile", (S, V), inst.call_histogram_quantile), _f("histogram_stddev", (V,), _HIST),
    _f("histogram_stdvar", (V,), _HIST), _f("histogram_sum", (V,), _HIST), _f("hour", (V,), _DATE, variadic=1),
    _f("idelta", (M,), _RANGE), _f("increase", (M,), _RANGE),
    _f("info", (V, V), info.call_info, variadic=1, experimental=True), _f("irate", (M,), _RANGE),
    _f("label_join", (V, STR, STR, STR), inst.call_label_join, variadic=-1),
    _f("label_replace", (V, STR, STR, STR, STR), inst.call_label_replace),
    _f("last_over_time", (M,), _RANGE), _f("ln", (V,), _MATH), _f("log10", (V,), _MATH), _f("log2", (V,), _MATH),
    _f("mad_over_time", (M,), _RANGE, experimental=True), _f("max_over_time", (M,), _RANGE),
    _f("min_over_time", (M,), _RANGE), _f("minute", (V,), _DATE, variadic=1),
    _f("month", (V,), _DATE, variadic=1), _f("pi", (), inst.call_pi, S),
    _f("predict_linear", (M, S), _RANGE), _f("present_over_time", (M,), _RANGE),
    _f("quantile_over_time", (S, M), _RANGE), _f("rad", (V,), _MATH), _f("rate", (M,), _RANGE),
    _f("resets", (M,), _RANGE), _f("round", (V, S), inst.call_round, variadic=1),
    _f("scalar", (V,), inst.call_scalar, S), _f("sgn", (V,), _MATH), _f("sin", (V,), _MATH),
    _f("sinh", (V,), _MATH), _f("sort", (V,), inst.call_sort), _f("sort_desc", (V,), inst.call_sort),
    _f("sort_by_label", (V, STR), inst.call_sort, variadic=-1, experimental=True),
    _f("sort_by_label_desc", (V, STR), inst.call_sort, variadic=-1, experimental=True),
    _f("sqrt", (V,), _MATH), _f("stddev_over_time", (M,), _RANGE), _f("stdvar_over_time", (M,), _RANGE),
    _f("sum_over_time", (M,), _RANGE), _f("tan", (V,), _MATH), _f("tanh", (V,), _MATH),
    _f("time", (), inst.call_time, S), _f("timestamp", (V,), inst.call_timestamp),
    _f("vector", (S,), inst.call_vector), _f("year", (V,), _DATE, variadic=1),
    _f("ts_of_first_over_time", (M,), _RANGE, experimental=True),
    _f("ts_of_last_over_time", (M,), _RANGE, experimental=True),
    _f("ts_of_max_over_time", (M,), _RANGE, experimental=True),
    _f("ts_of_min_over_time", (M,), _RANGE, experimental=True),
    _f("histogram_quantiles", (V, STR, S), inst.call_histogram_quantiles, variadic=-1, experimental=True),
    # duration-expression functions (experimental): the query's step, range, start and end in seconds
    _f("step", (), inst.call_query_time, S, experimental=True),
    _f("range", (), inst.call_query_time, S, experimental=True),
    _f("start", (), inst.call_query_time, S, experimental=True),
    _f("end", (), inst.call_query_time, S, experimental=True),
    _f("min_of", (S, S), inst.call_min_max_of, S, experimental=True),
    _f("max_of", (S, S), inst.call_min_max_of, S, experimental=True),
    # tsdb extensions: anomaly detection and dynamic thresholds (tsdb/query/functions/anomaly.py, docs/anomaly.md)
    _f("zscore_over_time", (M,), _ANOMALY), _f("robust_zscore_over_time", (M,), _ANOMALY),
    _f("ewma_over_time", (M, S), _ANOMALY), _f("seasonal_baseline", (M, S), _ANOMALY),
    _f("seasonal_band", (M, S, S), _ANOMALY), _f("holt_winters_forecast", (M, S, S), _ANOMALY),
    _f("anomaly_score", (M, STR), _ANOMALY),
]

FUNCTIONS: dict[str, FunctionSpec] = {spec.name: spec for spec in _SPECS}
"""Every PromQL function by name."""

AGGREGATIONS = frozenset({"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk",
                          "count_values", "quantile", "limitk", "limit_ratio"})
PARAMETER_AGGREGATIONS = {"topk": S, "bottomk": S, "quantile": S, "count_values": STR, "limitk": S,
                          "limit_ratio": S}
"""Aggregations taking a parameter, and its type."""
