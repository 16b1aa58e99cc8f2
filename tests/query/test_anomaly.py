"""Anomaly functions: kernels against the reference, through the engine, and their errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference import anomaly as ref
from tsdb.errors import QueryError
from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.query.functions import anomaly_kernels as k
from tsdb.storage.memory import MemoryStore

FNS = {"zscore": (k.ZSCORE, 0.0, 0.0), "robust": (k.ROBUST, 0.0, 0.0), "ewma": (k.EWMA, 0.4, 0.0),
       "ewma_score": (k.EWMA_SCORE, 0.3, 0.0), "seasonal_baseline": (k.SEASONAL_BASELINE, 40.0, 0.0),
       "seasonal_band": (k.SEASONAL_BAND, 40.0, 2.0), "seasonal": (k.SEASONAL_SCORE, 40.0, 0.0),
       "holt_winters": (k.HOLT_WINTERS, 40.0, 20.0)}

_values = st.lists(st.one_of(st.floats(-100, 100), st.just(float("nan"))), min_size=1, max_size=30)


def _same(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@pytest.mark.kernel
@settings(max_examples=60)
@given(st.sampled_from(sorted(FNS)), _values, st.lists(st.integers(0, 400), min_size=1, max_size=4),
       st.integers(10, 300))
def test_kernels_match_reference(name: str, values: list[float], times: list[int], range_ms: int) -> None:
    fn, p1, p2 = FNS[name]
    ts = np.arange(len(values), dtype=np.int64) * 10
    eval_ts = np.array(sorted(times), dtype=np.int64)
    out = np.zeros((1, len(eval_ts)))
    present = np.zeros((1, len(eval_ts)), dtype=bool)
    k.anomaly(fn, ts, np.array(values), np.array([0, len(values)], np.int64), eval_ts, range_ms,
              np.full(len(eval_ts), p1), np.full(len(eval_ts), p2), out, present)
    for j, t in enumerate(eval_ts.tolist()):
        want = ref.evaluate(name, ts.tolist(), values, t, range_ms, p1, p2)
        assert present[0, j] == (want is not None), (name, t)
        if want is not None:
            assert _same(float(out[0, j]), want), (name, t, out[0, j], want)


@pytest.fixture(scope="module")
def engine() -> Engine:
    store = MemoryStore()
    ts = np.arange(0, 4 * 86_400_000, 300_000, dtype=np.int64)
    rng = np.random.default_rng(3)
    daily = 100 + 50 * np.sin(2 * np.pi * ts / 86_400_000) + rng.normal(0, 2, len(ts))
    spiked = daily.copy()
    spiked[-1] += 80
    store.add(Labels({"__name__": "traffic", "kind": "normal"}), ts, daily)
    store.add(Labels({"__name__": "traffic", "kind": "spike"}), ts, spiked)
    return Engine(store)


def _by_kind(value: object) -> dict[str, float]:
    return {lb.get("kind"): float(value.values[i, 0]) for i, lb in enumerate(value.labels)}  # type: ignore[attr-defined]


def test_scores_separate_the_spike(engine: Engine) -> None:
    t = 4 * 86_400_000 - 300_000
    for query in ('anomaly_score(traffic[3d], "seasonal")', 'anomaly_score(traffic[1h], "robust")',
                  'anomaly_score(traffic[2h], "ewma")', "abs(zscore_over_time(traffic[1h]))"):
        scores = _by_kind(engine.instant(query, t))
        # a plain z-score over n samples that include the spike is at most sqrt(n - 1): 3.3 for 12 samples
        assert scores["spike"] > 3 and scores["normal"] < scores["spike"] / 2, (query, scores)
    base = _by_kind(engine.instant("seasonal_baseline(traffic[3d], 86400)", t))
    band = _by_kind(engine.instant("seasonal_band(traffic[3d], 86400, 3)", t))
    assert abs(base["normal"] - (100 + 50 * math.sin(2 * math.pi * t / 86_400_000))) < 10 and band["normal"] > 0
    forecast = _by_kind(engine.instant("holt_winters_forecast(traffic[3d], 86400, 3600)", t))
    assert abs(forecast["normal"] - (100 + 50 * math.sin(2 * math.pi * (t + 3_600_000) / 86_400_000))) < 15
    ewma = _by_kind(engine.instant("ewma_over_time(traffic[30m], 0.5)", t))
    assert 0 < ewma["normal"] < 200
    assert engine.range('anomaly_score(traffic[1h], "robust")', t - 3_600_000, t, 300_000).values.shape[1] == 13


@pytest.mark.parametrize(("query", "message"), [
    ('anomaly_score(traffic[1h], "magic")', 'unknown method "magic"'),
    ("ewma_over_time(traffic[1h], 1.5)", "alpha must be in"),
    ("seasonal_baseline(traffic[1h], 0)", "period must be positive"),
    ("seasonal_band(traffic[1h], 86400, -1)", "k must not be negative"),
    ("holt_winters_forecast(traffic[1h], 86400, -5)", "horizon must not be negative"),
])
def test_bad_parameters(engine: Engine, query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        engine.instant(query, 86_400_000)


def test_functions_parse_and_print() -> None:
    from tsdb.query.parser.parser import parse

    expr = parse('anomaly_score(rate(x[5m])[1d:5m], "seasonal") > 4')
    assert "anomaly_score" in str(expr)
