"""The engine over a real MemoryStore: selectors, lookback, staleness, offset/@, subqueries, limits."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from tsdb.config import StorageOptions
from tsdb.errors import QueryError, QueryLimitError, QueryTimeoutError
from tsdb.labels import Labels, Matcher
from tsdb.query.engine.engine import Engine
from tsdb.query.value import MatrixValue, ScalarValue, StringValue, VectorValue
from tsdb.storage.db import DB
from tsdb.storage.interfaces import STALE_NAN, deadline_scope
from tsdb.storage.memory import MemoryStore

MIN = 60_000


def _store() -> MemoryStore:
    store = MemoryStore()
    app = store.appender()
    ts = np.arange(0, 11) * MIN
    app.append(Labels({"__name__": "x_total", "job": "a"}), ts, np.arange(0, 11) * 10.0)
    app.append(Labels({"__name__": "x_total", "job": "b"}), ts[:3], np.array([1.0, 2.0, STALE_NAN]))
    app.append(Labels({"__name__": "gauge", "job": "a"}), ts, np.array([5, 1, 4, 2, 3, 9, 0, 7, 6, 8, 1.0]))
    app.commit()
    return store


def _values(vec: object) -> dict[str, float]:
    assert isinstance(vec, VectorValue)
    return {str(lbls): float(vec.values[i, 0]) for i, lbls in enumerate(vec.labels) if vec.present[i, 0]}


@pytest.fixture
def engine() -> Engine:
    return Engine(_store())


def test_instant_selector_and_staleness(engine: Engine) -> None:
    assert _values(engine.instant("x_total", 60_000)) == {'x_total{job="a"}': 10.0, 'x_total{job="b"}': 2.0}
    # the newest sample of job="b" at 2m is a stale marker: the series is gone
    assert _values(engine.instant("x_total", 2 * MIN)) == {'x_total{job="a"}': 20.0}


def test_lookback_window_is_left_open(engine: Engine) -> None:
    # the last sample of job="a" is at 10m; 15m is exactly 5m later, so it is out of (t-5m, t]
    assert _values(engine.instant("x_total", 15 * MIN - 1)) == {'x_total{job="a"}': 100.0}
    assert _values(engine.instant("x_total", 15 * MIN)) == {}


def test_range_query_matches_instant_queries(engine: Engine) -> None:
    result = engine.range('x_total{job="a"}', 0, 10 * MIN, MIN)
    assert isinstance(result, VectorValue)
    assert result.values[0].tolist() == [i * 10.0 for i in range(11)]
    for k, t in enumerate(range(0, 10 * MIN + 1, MIN)):
        single = _values(engine.instant('rate(x_total{job="a"}[3m])', t))
        ranged = engine.range('rate(x_total{job="a"}[3m])', 0, 10 * MIN, MIN)
        assert isinstance(ranged, VectorValue)
        if single:
            assert ranged.present[0, k]
            assert ranged.values[0, k] == pytest.approx(next(iter(single.values())))
        else:
            assert not ranged.present.any(axis=0)[k]


def test_rate_drops_name_and_offset_at(engine: Engine) -> None:
    assert _values(engine.instant('rate(x_total{job="a"}[5m])', 10 * MIN)) == {
        '{job="a"}': pytest.approx(10 / 60)}
    assert _values(engine.instant('x_total{job="a"} offset 2m', 5 * MIN)) == {'x_total{job="a"}': 30.0}
    assert _values(engine.instant('x_total{job="a"} @ 120', 10 * MIN)) == {'x_total{job="a"}': 20.0}
    assert _values(engine.instant('last_over_time(x_total{job="a"}[5m])', 10 * MIN)) == {
        'x_total{job="a"}': 100.0}


def test_subquery_aligned_to_step(engine: Engine) -> None:
    # max over 5 aligned 1m points (6m..10m], i.e. 7m,8m,9m,10m: 7, 6, 8, 1
    assert _values(engine.instant("max_over_time(gauge[4m:1m])", 10 * MIN)) == {'{job="a"}': 8.0}
    assert _values(engine.instant("count_over_time(gauge[4m:1m])", 10 * MIN)) == {'{job="a"}': 4.0}


def test_scalars_strings_and_matrices(engine: Engine) -> None:
    assert isinstance(engine.instant("1", 0), ScalarValue)
    value = engine.instant('"hello"', 0)
    assert isinstance(value, StringValue) and value.value == "hello"
    matrix = engine.instant('x_total{job="a"}[2m]', 10 * MIN)
    assert isinstance(matrix, MatrixValue)
    assert matrix.ts[0].tolist() == [9 * MIN, 10 * MIN]
    with pytest.raises(QueryError):
        engine.range('x_total[2m]', 0, MIN, MIN)


def test_functions(engine: Engine) -> None:
    assert _values(engine.instant('timestamp(x_total{job="a"})', 10 * MIN + 30_000)) == {'{job="a"}': 600.0}
    assert _values(engine.instant('absent(nonexistent{job="z"})', 0)) == {'{job="z"}': 1.0}
    scalar = engine.instant('scalar(x_total{job="a"})', 10 * MIN)
    assert isinstance(scalar, ScalarValue) and scalar.values[0] == 100.0
    labelled = engine.instant('label_replace(gauge, "dst", "v-$1", "job", "(.*)")', 0)
    assert _values(labelled) == {'gauge{dst="v-a", job="a"}': 5.0}
    assert math.isnan(next(iter(_values(engine.instant("ln(-gauge)", 0)).values())))


def test_limits() -> None:
    engine = Engine(_store(), max_samples=3)
    with pytest.raises(QueryLimitError):
        engine.instant("x_total", 10 * MIN)
    with pytest.raises(QueryLimitError):
        Engine(_store(), max_points=10).range("x_total", 0, 20 * MIN, MIN)
    with pytest.raises(QueryTimeoutError):
        Engine(_store(), timeout_s=-1).instant("x_total", 0)


def test_duplicate_labelset_after_name_drop(engine: Engine) -> None:
    # rate() drops the names of two series that differ only by name: same label set at the end
    with pytest.raises(QueryError, match="same labelset"):
        engine.instant('rate({__name__=~"x_total|gauge", job="a"}[5m])', 5 * MIN)


def _hist_store() -> MemoryStore:
    store = MemoryStore()
    app = store.appender()
    for le, count in (("0.1", 10.0), ("1", 50.0), ("+Inf", 100.0)):
        app.append(Labels({"__name__": "lat_bucket", "le": le}), np.array([0]), np.array([count]))
    app.commit()
    return store


def test_histogram_quantile_classic_buckets() -> None:
    engine = Engine(_hist_store())
    # rank 50 falls at the top of the (0.1, 1] bucket
    assert _values(engine.instant("histogram_quantile(0.5, lat_bucket)", 0)) == {"{}": pytest.approx(1.0)}
    # rank 30: 10 + 20/40 of the way through (0.1, 1]
    assert _values(engine.instant("histogram_quantile(0.3, lat_bucket)", 0)) == {"{}": pytest.approx(0.55)}
    assert _values(engine.instant("histogram_fraction(0, 0.1, lat_bucket)", 0)) == {"{}": pytest.approx(0.1)}
    result = engine.query_instant("histogram_quantile(2, lat_bucket)", 0)
    assert result.warnings == ["quantile value should be between 0 and 1, got 2"]


def test_sort_and_label_functions(engine: Engine) -> None:
    ordered = engine.instant("sort_desc(gauge or x_total)", 0)
    assert isinstance(ordered, VectorValue)
    # `or` drops x_total{job="a"}: same labels as gauge{job="a"} once the name is ignored
    assert [float(v) for v in ordered.values[:, 0]] == [5.0, 1.0]
    joined = engine.instant('label_join(gauge, "both", "-", "__name__", "job")', 0)
    assert _values(joined) == {'gauge{both="gauge-a", job="a"}': 5.0}


def test_absent_over_time_and_info_annotation(engine: Engine) -> None:
    assert _values(engine.instant('absent_over_time(nothing{job="q"}[5m])', 0)) == {'{job="q"}': 1.0}
    assert _values(engine.instant('absent_over_time(gauge[5m])', 0)) == {}
    result = engine.query_instant("rate(gauge[5m])", 10 * MIN)
    assert result.infos == ['metric might not be a counter, name does not end in _total/_sum/_count/_bucket: '
                            '"gauge"']
    assert engine.query_instant("rate(x_total[5m])", 10 * MIN).infos == []


def test_range_query_subquery_and_offset_agree_with_instant(engine: Engine) -> None:
    query = "max_over_time(gauge[3m:1m] offset 1m)"
    ranged = engine.range(query, 3 * MIN, 10 * MIN, 30_000)
    assert isinstance(ranged, VectorValue)
    for k, t in enumerate(range(3 * MIN, 10 * MIN + 1, 30_000)):
        assert ranged.values[0, k] == next(iter(_values(engine.instant(query, t)).values()))


def test_series_limit_names_the_selector_and_the_limit() -> None:
    """``max_series`` counts the series of every selector of the query together; 0 turns it off."""
    with pytest.raises(QueryLimitError, match=r'__name__="x_total".*limit of 1 \(query.max_series\)'):
        Engine(_store(), max_series=1).instant("x_total", MIN)
    with pytest.raises(QueryLimitError, match=r'__name__="gauge".*limit of 2'):
        Engine(_store(), max_series=2).instant("x_total + on(job) gauge", MIN)
    assert len(_values(Engine(_store(), max_series=3).instant("x_total + on(job) gauge", MIN))) == 1
    assert len(_values(Engine(_store(), max_series=0).instant("x_total", MIN))) == 2


def _wide_store(series: int, samples: int) -> MemoryStore:
    store = MemoryStore()
    app = store.appender()
    ts = np.arange(samples, dtype=np.int64) * 15_000
    for i in range(series):
        app.append(Labels({"__name__": "m", "i": str(i)}), ts, np.arange(samples, dtype=np.float64) * (i % 7))
    app.commit()
    return store


def test_timeout_stops_a_long_range_function_midway() -> None:
    """One node (a range function over many series and steps) stops at the deadline, not after it: the
    full query here needs about 20 s on 2 cores; with a 0.2 s timeout it ends within a second or so."""
    store = _wide_store(1_000, 2_880)  # 12 h at 15 s
    engine = Engine(store, timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError):
        engine.range("quantile_over_time(0.5, m[2h])", 0, 2_879 * 15_000, 15_000)
    assert time.monotonic() - started < 10  # hang guard, not a performance bound


def test_storage_reads_check_the_deadline(tmp_path: Path) -> None:
    """Head and block reads stop between batches of series once the query's deadline has passed."""
    options = StorageOptions(block_range_ms=10_000, retention_ms=10**12, out_of_order_window_ms=0)
    with DB.open(tmp_path, options) as db:
        app = db.appender()
        for i in range(50):
            app.append(Labels({"__name__": "m", "i": str(i)}), np.arange(0, 40_000, 1_000, dtype=np.int64),
                       np.ones(40))
        app.commit()
        db.maintain(now_ms=40_000)
        assert db.blocks, "the test needs blocks as well as the head"
        querier = db.querier(0, 40_000)
        try:
            assert len(querier.select_flat([Matcher("=", "__name__", "m")]).labels) == 50
            with deadline_scope(time.monotonic() - 1), pytest.raises(QueryTimeoutError, match="reading"):
                querier.select_flat([Matcher("=", "__name__", "m")])
        finally:
            querier.close()
