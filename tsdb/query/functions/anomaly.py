"""Anomaly detection and dynamic thresholds as PromQL functions (tsdb extensions; docs/anomaly.md).

``zscore_over_time(v[w])``, ``robust_zscore_over_time(v[w])``, ``ewma_over_time(v[w], alpha)``,
``seasonal_baseline(v[w], period)``, ``seasonal_band(v[w], period, k)``,
``holt_winters_forecast(v[w], period, horizon)`` and ``anomaly_score(v[w], "robust"|"seasonal"|"ewma")``;
periods and horizons are scalars in seconds. Each runs one numba kernel over all series and steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsdb.errors import QueryError
from tsdb.query.functions import anomaly_kernels as k
from tsdb.query.functions.context import EvalContext
from tsdb.query.functions.rollup import pack
from tsdb.query.value import StepArray, StringValue, Value, VectorValue

FUNCTIONS = {
    "zscore_over_time": k.ZSCORE,
    "robust_zscore_over_time": k.ROBUST,
    "ewma_over_time": k.EWMA,
    "seasonal_baseline": k.SEASONAL_BASELINE,
    "seasonal_band": k.SEASONAL_BAND,
    "holt_winters_forecast": k.HOLT_WINTERS,
    "anomaly_score": -1,
}
METHODS = {"robust": k.ROBUST, "seasonal": k.SEASONAL_SCORE, "ewma": k.EWMA_SCORE}
DEFAULT_PERIOD_S = 86_400.0
DEFAULT_EWMA_ALPHA = 0.3


def _check(ok: np.ndarray, message: str, values: np.ndarray) -> None:
    if not ok.all():
        raise QueryError(f"{message}, got {float(values[np.argmin(ok)])}")


def evaluate(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    """Evaluate anomaly function ``name`` (see module docstring) at ``steps``."""
    labels, ts_list, vals_list, _, eval_ts, range_ms = ev.matrix_input(args[0], steps)
    n_steps = len(steps)
    p1 = np.zeros(n_steps)
    p2 = np.zeros(n_steps)
    fn = FUNCTIONS[name]
    if name == "ewma_over_time":
        p1 = ev.scalar_arg(args[1], steps)
        _check((p1 > 0) & (p1 <= 1), "ewma_over_time: alpha must be in (0, 1]", p1)
    elif name in ("seasonal_baseline", "seasonal_band", "holt_winters_forecast"):
        period = ev.scalar_arg(args[1], steps)
        _check(period > 0, f"{name}: period must be positive (seconds)", period)
        p1 = period * 1000.0
        if name == "seasonal_band":
            p2 = ev.scalar_arg(args[2], steps)
            _check(p2 >= 0, "seasonal_band: k must not be negative", p2)
        elif name == "holt_winters_forecast":
            horizon = ev.scalar_arg(args[2], steps)
            _check(horizon >= 0, "holt_winters_forecast: horizon must not be negative (seconds)", horizon)
            p2 = horizon * 1000.0
    elif name == "anomaly_score":
        method = ev.eval(args[1], steps)
        if not isinstance(method, StringValue) or method.value not in METHODS:
            got = method.value if isinstance(method, StringValue) else type(method).__name__
            raise QueryError(f'anomaly_score: unknown method "{got}"; use one of {", ".join(METHODS)}')
        fn = METHODS[method.value]
        p1 = np.full(n_steps, DEFAULT_PERIOD_S * 1000.0 if fn == k.SEASONAL_SCORE else DEFAULT_EWMA_ALPHA)
    ts, values, offsets = pack(ts_list, vals_list)
    out = np.zeros((len(labels), n_steps))
    present = np.zeros((len(labels), n_steps), dtype=bool)
    k.anomaly(fn, ts, values, offsets, np.ascontiguousarray(eval_ts, np.int64), int(range_ms), np.ascontiguousarray(p1),
              np.ascontiguousarray(p2), out, present)
    if name == "anomaly_score" and fn == k.ROBUST:
        out = np.abs(out)
    return VectorValue(list(labels), out, present, np.ones(len(labels), dtype=bool)).without_empty_rows()
