"""The range result cache over a real DB: cached answers equal uncached ones, and anything that changes past
data (late writes, deletions) or depends on the query's own range is never served from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tsdb.config import QueryOptions
from tsdb.labels import Labels, Matcher
from tsdb.query.engine.engine import Engine
from tsdb.query.engine.result_cache import ResultCache, join_steps
from tsdb.query.value import VectorValue
from tsdb.storage.db import DB

MIN = 60_000
HOUR = 60 * MIN
DATA_END = 6 * HOUR

QUERIES = [
    "up", "rate(req_total[5m])", "sum by (job) (rate(req_total[5m]))", "topk(2, req_total)",
    "max_over_time(temp[10m:1m])", "req_total offset 30m", "absent(nothing)", "temp > 20",
    'label_replace(temp, "x", "$1", "job", "(.*)")', "avg(temp) + on() group_left() count(up)",
    "deriv(temp[15m])", "count_over_time(up[1h])", "timestamp(temp)",
]


class Clock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def _write(db: DB, jobs: list[str], start: int, end: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ts = np.arange(start, end, 15_000, dtype=np.int64)
    app = db.appender()
    for i, job in enumerate(jobs):
        app.append(Labels({"__name__": "up", "job": job}), ts, np.ones(len(ts)))
        app.append(Labels({"__name__": "req_total", "job": job}), ts, np.cumsum(rng.integers(0, 9, len(ts))) * 1.0)
        # one series with a gap, so series come and go across the grid
        keep = (ts // HOUR) % 3 != i % 3
        app.append(Labels({"__name__": "temp", "job": job}), ts[keep], 15 + rng.normal(0, 5, keep.sum()))
    app.commit()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[DB]:
    with DB.open(tmp_path / "data") as store:
        _write(store, ["a", "b", "c"], 0, DATA_END, seed=1)
        yield store


def _engines(db: DB, now_s: float) -> tuple[Engine, Engine, ResultCache]:
    cache = ResultCache(1 << 26, lambda: db.data_generation, clock=Clock(now_s))
    return Engine(db, result_cache=cache), Engine(db), cache


def _same(cached: object, plain: object) -> None:
    assert isinstance(cached, VectorValue) and isinstance(plain, VectorValue)
    assert cached.labels == plain.labels
    np.testing.assert_array_equal(cached.present, plain.present)
    np.testing.assert_array_equal(np.where(plain.present, cached.values, 0), np.where(plain.present, plain.values, 0))


@pytest.mark.parametrize("query", QUERIES)
def test_sliding_window_reuses_steps_and_equals_uncached(db: DB, query: str) -> None:
    cached, plain, cache = _engines(db, DATA_END / 1000 + 3600)
    step = MIN
    for shift in (0, 0, 7, 30, 31, 200):  # again, then moving forward as a relative dashboard does
        start, end = 2 * HOUR + shift * step, 4 * HOUR + shift * step
        _same(cached.range(query, start, end, step), plain.range(query, start, end, step))
    assert cache.hits >= 1 and cache.partial_hits >= 1, (cache.hits, cache.partial_hits, cache.misses)


def test_steps_near_now_are_not_stored(db: DB) -> None:
    now_s = DATA_END / 1000
    cached, _, cache = _engines(db, now_s)
    cached.range("up", DATA_END - HOUR, DATA_END, MIN)
    (entry,) = cache._entries.values()
    assert entry.last <= DATA_END - 5 * MIN
    # a negative offset reads ahead: held back by as much more
    cached.range("up offset -10m", DATA_END - HOUR, DATA_END, MIN)
    assert max(e.last for e in cache._entries.values()) == DATA_END - 5 * MIN
    assert min(e.last for e in cache._entries.values()) <= DATA_END - 15 * MIN


def test_writes_into_the_past_and_deletions_invalidate(db: DB) -> None:
    cached, plain, _ = _engines(db, DATA_END / 1000 + 3600)
    query, start, end = "sum by (job) (up)", HOUR, 5 * HOUR
    before = cached.range(query, start, end, MIN)
    assert isinstance(before, VectorValue) and before.num_series == 3
    _write(db, ["d"], 2 * HOUR, 3 * HOUR, seed=2)  # backfill into the cached range
    after = cached.range(query, start, end, MIN)
    _same(after, plain.range(query, start, end, MIN))
    assert isinstance(after, VectorValue) and after.num_series == 4
    generation = db.data_generation
    db.delete([Matcher("=", "job", "d")], 0, DATA_END)
    assert db.data_generation > generation
    _same(cached.range(query, start, end, MIN), plain.range(query, start, end, MIN))


def test_range_dependent_queries_are_not_cached(db: DB) -> None:
    cached, _, cache = _engines(db, DATA_END / 1000 + 3600)
    for query in ("up @ end()", "up @ 3600", "rate(req_total[step()*5])", "min_over_time(up[1h] @ start())"):
        cached.range(query, HOUR, 2 * HOUR, MIN)
    cached.range("up", HOUR, 2 * HOUR, 30 * MIN)  # a step where auto may take a downsampled tier
    assert len(cache) == 0
    cached.range("up", HOUR, 2 * HOUR, 30 * MIN, max_source_resolution="raw")
    assert len(cache) == 1


def test_eviction_keeps_the_cache_within_its_bytes(db: DB) -> None:
    cache = ResultCache(40_000, lambda: db.data_generation, clock=Clock(DATA_END / 1000 + 3600))
    engine = Engine(db, result_cache=cache)
    for i in range(20):
        engine.range(f"up + {i}", HOUR, 4 * HOUR, MIN)
    assert 0 < len(cache) < 20 and cache.bytes <= 40_000


def test_from_options_caches_only_for_stores_with_a_generation(db: DB) -> None:
    assert Engine.from_options(db, QueryOptions()).result_cache is not None
    assert Engine.from_options(db, QueryOptions(result_cache_max_bytes=0)).result_cache is None
    assert Engine.from_options(object(), QueryOptions()).result_cache is None  # type: ignore[arg-type]


def test_join_steps_matches_series_by_labels() -> None:
    a, b, c = (Labels({"job": j}) for j in "abc")
    left = VectorValue([a, b], np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[True, True], [True, False]]))
    right = VectorValue([c, a], np.array([[5.0], [6.0]]), np.array([[True], [True]]))
    joined = join_steps(left, right)
    assert joined.labels == [a, b, c]
    assert joined.present.tolist() == [[True, True, True], [True, False, False], [False, False, True]]
    assert joined.values[0].tolist() == [1.0, 2.0, 6.0] and joined.values[2, 2] == 5.0
