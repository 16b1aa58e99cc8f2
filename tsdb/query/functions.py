"""The PromQL function table: names, argument types, variadic arity, return type (Prometheus 3.x).

``variadic``: 0 = exactly ``arg_types``; n > 0 = the last n argument types are optional; -1 = the last
argument type may repeat any number of times (including zero extra). ``experimental`` functions are
behind a feature flag in Prometheus; tsdb enables them.
"""

from __future__ import annotations

from dataclasses import dataclass

S, V, M, STR = "scalar", "vector", "matrix", "string"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arg_types: tuple[str, ...]
    variadic: int
    return_type: str
    experimental: bool = False


def _f(name: str, args: tuple[str, ...], ret: str = V, variadic: int = 0, experimental: bool = False) -> FunctionSpec:
    return FunctionSpec(name, args, variadic, ret, experimental)


_SPECS = [
    _f("abs", (V,)), _f("absent", (V,)), _f("absent_over_time", (M,)), _f("acos", (V,)), _f("acosh", (V,)),
    _f("asin", (V,)), _f("asinh", (V,)), _f("atan", (V,)), _f("atanh", (V,)), _f("avg_over_time", (M,)),
    _f("ceil", (V,)), _f("changes", (M,)), _f("clamp", (V, S, S)), _f("clamp_max", (V, S)),
    _f("clamp_min", (V, S)), _f("cos", (V,)), _f("cosh", (V,)), _f("count_over_time", (M,)),
    _f("days_in_month", (V,), variadic=1), _f("day_of_month", (V,), variadic=1),
    _f("day_of_week", (V,), variadic=1), _f("day_of_year", (V,), variadic=1), _f("deg", (V,)),
    _f("delta", (M,)), _f("deriv", (M,)), _f("double_exponential_smoothing", (M, S, S), experimental=True),
    _f("exp", (V,)), _f("first_over_time", (M,), experimental=True), _f("floor", (V,)),
    _f("histogram_avg", (V,)), _f("histogram_count", (V,)), _f("histogram_fraction", (S, S, V)),
    _f("histogram_quantile", (S, V)), _f("histogram_stddev", (V,)), _f("histogram_stdvar", (V,)),
    _f("histogram_sum", (V,)), _f("hour", (V,), variadic=1), _f("idelta", (M,)), _f("increase", (M,)),
    _f("info", (V, V), variadic=1, experimental=True), _f("irate", (M,)),
    _f("label_join", (V, STR, STR, STR), variadic=-1), _f("label_replace", (V, STR, STR, STR, STR)),
    _f("last_over_time", (M,)), _f("ln", (V,)), _f("log10", (V,)), _f("log2", (V,)),
    _f("mad_over_time", (M,), experimental=True), _f("max_over_time", (M,)), _f("min_over_time", (M,)),
    _f("minute", (V,), variadic=1), _f("month", (V,), variadic=1), _f("pi", (), S),
    _f("predict_linear", (M, S)), _f("present_over_time", (M,)), _f("quantile_over_time", (S, M)),
    _f("rad", (V,)), _f("rate", (M,)), _f("resets", (M,)), _f("round", (V, S), variadic=1), _f("scalar", (V,), S),
    _f("sgn", (V,)), _f("sin", (V,)), _f("sinh", (V,)), _f("sort", (V,)), _f("sort_desc", (V,)),
    _f("sort_by_label", (V, STR), variadic=-1, experimental=True),
    _f("sort_by_label_desc", (V, STR), variadic=-1, experimental=True), _f("sqrt", (V,)),
    _f("stddev_over_time", (M,)), _f("stdvar_over_time", (M,)), _f("sum_over_time", (M,)), _f("tan", (V,)),
    _f("tanh", (V,)), _f("time", (), S), _f("timestamp", (V,)), _f("vector", (S,)), _f("year", (V,), variadic=1),
    _f("ts_of_first_over_time", (M,), experimental=True), _f("ts_of_last_over_time", (M,), experimental=True),
    _f("ts_of_max_over_time", (M,), experimental=True), _f("ts_of_min_over_time", (M,), experimental=True),
    _f("histogram_quantiles", (V, STR, S), variadic=-1, experimental=True),
    # duration-expression functions (experimental): the query's step, range, start and end in seconds
    _f("step", (), S, experimental=True), _f("range", (), S, experimental=True),
    _f("start", (), S, experimental=True), _f("end", (), S, experimental=True),
    _f("min_of", (S, S), S, experimental=True), _f("max_of", (S, S), S, experimental=True),
    # tsdb extensions: anomaly detection and dynamic thresholds (tsdb/query/anomaly.py, docs/anomaly.md)
    _f("zscore_over_time", (M,)), _f("robust_zscore_over_time", (M,)), _f("ewma_over_time", (M, S)),
    _f("seasonal_baseline", (M, S)), _f("seasonal_band", (M, S, S)), _f("holt_winters_forecast", (M, S, S)),
    _f("anomaly_score", (M, STR)),
]

FUNCTIONS: dict[str, FunctionSpec] = {spec.name: spec for spec in _SPECS}
"""Every PromQL function by name."""

AGGREGATIONS = frozenset({"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk",
                          "count_values", "quantile", "limitk", "limit_ratio"})
PARAMETER_AGGREGATIONS = {"topk": S, "bottomk": S, "quantile": S, "count_values": STR, "limitk": S,
                          "limit_ratio": S}
"""Aggregations taking a parameter, and its type."""
