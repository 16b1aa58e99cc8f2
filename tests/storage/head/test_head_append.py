"""Tests of the head's Appender: validation per reason, WAL hook, rollback, OOO window, model comparison."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsdb.errors import InvalidArgumentError, StorageError
from tsdb.labels import Labels, Matcher
from tsdb.storage.head.head import Head
from tsdb.storage.head.state import I64
from tsdb.storage.interfaces import Appender, TimestampArray, ValueArray
from tsdb.storage.memory import MemoryStore

A = Labels({"__name__": "a"})
B = Labels({"__name__": "b", "x": "1"})


def arr(*ts: int) -> TimestampArray:
    return np.array(ts, dtype=np.int64)


def vals(*v: float) -> ValueArray:
    return np.array(v, dtype=np.float64)


def read(head: Head, labels: Labels) -> tuple[list[int], list[float]]:
    for s in head.querier(-(2**62), 2**62).select([Matcher("=", k, v) for k, v in labels.items()]):
        if s.labels == labels:
            ts, values = s.samples()
            return ts.tolist(), values.tolist()
    return [], []


class RecordingWal:
    """A wal_write that records calls and can be told to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[tuple[int, Labels]], list[int], list[int], list[float]]] = []
        self.fail = False

    def __call__(self, new_series: list[tuple[int, Labels]], refs: I64, ts: TimestampArray,
                 values: ValueArray) -> None:
        if self.fail:
            raise StorageError("disk full (test)")
        self.calls.append((list(new_series), refs.tolist(), ts.tolist(), values.tolist()))


def test_appender_protocol_and_refs() -> None:
    head = Head()
    app = head.appender()
    assert isinstance(app, Appender)
    assert app.append(A, arr(1), vals(1.0)) == 0  # not yet created
    app.commit()
    assert head.appender().append(A, arr(2), vals(2.0)) == head.get_ref(A) > 0


def test_validation_outcomes_per_reason_and_partial_acceptance() -> None:
    head = Head()
    app = head.appender()
    app.append(A, arr(10, 20, 30), vals(1, 2, 3))
    app.commit()
    head.truncate(5)
    app = head.appender()
    app.append(A, arr(30, 30, 25, 40, 3), vals(3, 9, 1, 4, 1))  # noop, duplicate, out of order, ok, bounds
    app.append(B, arr(1, 50), vals(1, 1))  # out of bounds, ok
    app.append(Labels(), arr(1), vals(1))
    app.append(Labels({"": "v", "a": "b"}), arr(1, 2), vals(1, 1))
    result = app.commit()
    assert result.accepted == 2
    counts = {reason: r.count for reason, r in result.rejected.items()}
    assert counts == {"duplicate": 1, "out_of_order": 1, "out_of_bounds": 2, "invalid_labels": 3}
    assert result.rejected["duplicate"].examples == ["a @ 30"]
    assert result.rejected["out_of_bounds"].examples == ["a @ 3", 'b{x="1"} @ 1']
    assert "invalid_labels" in result.summary()
    assert read(head, A) == ([10, 20, 30, 40], [1, 2, 3, 4])
    assert read(head, B) == ([50], [1])
    assert head.num_series == 2


def test_examples_are_capped() -> None:
    head = Head()
    app = head.appender()
    app.append(A, arr(*range(100, 0, -1)), vals(*([1.0] * 100)))
    result = app.commit()
    assert result.accepted == 1 and result.rejected["out_of_order"].count == 99
    assert len(result.rejected["out_of_order"].examples) == 5


def test_order_within_batch_across_appends() -> None:
    head = Head()
    app = head.appender()
    app.append(A, arr(1, 2), vals(1, 2))
    app.append(A, arr(2, 3), vals(2, 3))  # 2 again with the same value: a no-op
    app.append(A, arr(1), vals(5))
    result = app.commit()
    assert result.accepted == 3 and result.rejected_count == 1
    assert read(head, A) == ([1, 2, 3], [1, 2, 3])


def test_rollback_drops_batch() -> None:
    head = Head()
    app = head.appender()
    app.append(A, arr(1), vals(1))
    app.rollback()
    assert app.commit().accepted == 0
    assert head.num_series == 0


def test_wal_write_gets_new_series_and_accepted_samples() -> None:
    wal = RecordingWal()
    head = Head(wal_write=wal)
    app = head.appender()
    app.append(A, arr(1, 2), vals(1, 2))
    app.append(B, arr(5), vals(5))
    app.commit()
    app = head.appender()
    app.append(A, arr(2, 3), vals(7, 3))
    app.commit()
    ra, rb = head.get_ref(A), head.get_ref(B)
    assert wal.calls == [([(ra, A), (rb, B)], [ra, ra, rb], [1, 2, 5], [1, 2, 5]), ([], [ra], [3], [3])]


def test_wal_failure_applies_nothing() -> None:
    wal = RecordingWal()
    head = Head(wal_write=wal)
    app = head.appender()
    app.append(A, arr(1), vals(1))
    app.commit()
    wal.fail = True
    app = head.appender()
    app.append(A, arr(2), vals(2))
    app.append(B, arr(2), vals(2))
    with pytest.raises(StorageError):
        app.commit()
    assert read(head, A) == ([1], [1]) and read(head, B) == ([], [])
    assert head.max_time == 1
    wal.fail = False
    app = head.appender()
    app.append(A, arr(2), vals(2))  # not a duplicate: the failed sample was never applied
    assert app.commit().accepted == 1
    # B's series record never reached the WAL: the next batch touching B logs it
    app = head.appender()
    app.append(B, arr(3), vals(3))
    app.commit()
    assert wal.calls[-1][0] == [(head.get_ref(B), B)]
    app = head.appender()
    app.append(B, arr(4), vals(4))
    app.commit()
    assert wal.calls[-1][0] == []
    # a series created by a failed commit is known (harmless) and collected by truncate if left empty
    wal.fail = True
    app = head.appender()
    app.append(Labels({"__name__": "c"}), arr(5), vals(5))
    with pytest.raises(StorageError):
        app.commit()
    ref_c = head.get_ref(Labels({"__name__": "c"}))
    assert ref_c > 0 and head.truncate(0) == [ref_c]


def test_append_validates_shapes() -> None:
    app = Head().appender()
    with pytest.raises(InvalidArgumentError):
        app.append(A, arr(1, 2), vals(1))
    with pytest.raises(InvalidArgumentError):
        app.append_batch([A, B], np.array([0, 1]), arr(1), vals(1))


def test_append_batch_columnar() -> None:
    head = Head()
    app = head.appender()
    app.append_batch([A, B, A], np.array([0, 2, 3, 4]), arr(1, 2, 7, 3), vals(1, 2, 7, 3))
    app.append(B, arr(8), vals(8))
    assert app.commit().accepted == 5
    assert read(head, A) == ([1, 2, 3], [1, 2, 3]) and read(head, B) == ([7, 8], [7, 8])
    app = head.appender()  # singles, a batch, singles: batch order is kept
    app.append(A, arr(4), vals(4))
    app.append_batch([A, B], np.array([0, 1, 1]), arr(5), vals(5))
    app.append(A, arr(5, 6), vals(9, 6))
    result = app.commit()
    assert result.accepted == 3 and result.rejected["duplicate"].examples == ["a @ 5"]
    assert read(head, A) == ([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6])


def test_out_of_order_window() -> None:
    head = Head(out_of_order_window=100)
    app = head.appender()
    app.append(A, arr(1000, 1010), vals(1, 2))
    app.append(B, arr(2000), vals(0))  # head max time 2000
    app.commit()
    app = head.appender()
    app.append(A, arr(1950, 1900, 1005, 1950, 1899), vals(5, 4, 3, 9, 0))
    result = app.commit()
    # 1950, 1900 ok (window [1900, 2000]); 1005 too old; 1950 again with another value; 1899 too old
    assert result.accepted == 2
    assert {k: r.count for k, r in result.rejected.items()} == {"out_of_order": 2, "duplicate": 1}
    assert read(head, A) == ([1000, 1010, 1900, 1950], [1, 2, 4, 5])
    assert head.querier(1900, 1950).label_values("__name__") == ["a"]
    app = head.appender()
    app.append(A, arr(1960, 2050), vals(6, 7))  # in order: the newest in-order sample of a is 1010
    assert app.commit().accepted == 2
    assert read(head, A)[0] == [1000, 1010, 1900, 1950, 1960, 2050]


def test_concurrent_appenders_and_queries() -> None:
    head = Head()
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for c in range(30):
                app = head.appender()
                for i in range(20):
                    app.append(Labels({"__name__": "m", "w": str(w), "i": str(i)}), arr(c * 10), vals(c))
                assert app.commit().accepted == 20
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    def reader() -> None:
        try:
            for _ in range(30):
                for s in head.querier(0, 10_000).select([Matcher("=", "__name__", "m")]):
                    ts, _ = s.samples()
                    assert np.all(np.diff(ts) > 0)
        except BaseException as err:  # pragma: no cover
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert head.num_series == 80 and head.stats().num_samples == 80 * 30


# -- comparison with the MemoryStore model -----------------------------------------------------------
NAMES = [Labels({"__name__": "m", "k": str(k)}) for k in range(3)] + [Labels({"__name__": "n"})]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 3),
                  st.lists(st.tuples(st.integers(0, 300), st.sampled_from([0.0, 1.0, 2.5])), min_size=1, max_size=8)),
        st.tuples(st.just("commit"), st.just(0), st.just([])),
        st.tuples(st.just("rollback"), st.just(0), st.just([])),
        st.tuples(st.just("query"), st.integers(0, 300), st.lists(st.integers(0, 300), min_size=1, max_size=1)),
        st.tuples(st.just("truncate"), st.integers(0, 300), st.just([])),
    ),
    max_size=30,
)


def _compare(head: Head, model: MemoryStore, mint: int, maxt: int) -> None:
    matchers = [Matcher("=~", "__name__", ".+")]
    got = [(s.labels, *(a.tolist() for a in s.samples())) for s in head.querier(mint, maxt).select(matchers)]
    want = [(s.labels, *(a.tolist() for a in s.samples())) for s in model.querier(mint, maxt).select(matchers)]
    assert got == want
    assert head.querier(mint, maxt).label_values("k") == model.querier(mint, maxt).label_values("k")


def _run_ops(head: Head, model: MemoryStore, steps: list[tuple[str, int, list]]) -> None:  # type: ignore[type-arg]
    """Apply the same operations to both; after ``truncate(m)`` only data >= m is fed and compared."""
    app, mapp = head.appender(), model.appender()
    floor = -1
    for op, arg, payload in steps:
        if op == "append":
            payload = [(t, v) for t, v in payload if t >= floor]
            ts = np.array([t for t, _ in payload], dtype=np.int64)
            values = np.array([v for _, v in payload], dtype=np.float64)
            app.append(NAMES[arg], ts, values)
            mapp.append(NAMES[arg], ts, values)
        elif op == "commit":
            got, want = app.commit(), mapp.commit()
            assert got.accepted == want.accepted
            # an old timestamp repeated with the same value is out of order for the head (as in
            # Prometheus) but a silent no-op for the model
            assert got.rejected_count >= want.rejected_count
        elif op == "rollback":
            app.rollback()
            mapp.rollback()
        elif op == "truncate":
            app.commit()
            mapp.commit()
            floor = max(floor, arg)
            head.truncate(floor)
            assert head.min_time >= floor
        else:
            lo = max(min(arg, payload[0]), floor)
            _compare(head, model, lo, max(arg, payload[0]))
    app.commit()
    mapp.commit()
    _compare(head, model, floor, 10_000)


@given(steps=ops, chunk_samples=st.sampled_from([2, 5, 120]))
def test_head_matches_memory_store(steps: list[tuple[str, int, list]], chunk_samples: int) -> None:  # type: ignore[type-arg]
    _run_ops(Head(chunk_samples=chunk_samples, chunk_range=64), MemoryStore(), steps)


unique_ooo = st.lists(
    st.tuples(st.integers(0, 3), st.lists(st.integers(0, 400), min_size=1, max_size=6, unique=True)),
    max_size=12,
)


@given(batches=unique_ooo, chunk_samples=st.sampled_from([2, 120]))
def test_head_with_ooo_window_matches_memory_store(batches: list[tuple[int, list[int]]], chunk_samples: int) -> None:
    """With a window covering everything, the head keeps every sample, like an out-of-order MemoryStore.

    Timestamps are unique per series (duplicates against encoded chunks are not detected by the head).
    """
    head, model = Head(chunk_samples=chunk_samples, chunk_range=64, out_of_order_window=10**6), MemoryStore(True)
    seen: dict[int, set[int]] = {}
    for series, ts_list in batches:
        fresh = [t for t in ts_list if t not in seen.setdefault(series, set())]
        seen[series].update(fresh)
        if not fresh:
            continue
        ts = np.array(fresh, dtype=np.int64)
        values = ts.astype(np.float64) / 7
        app, mapp = head.appender(), model.appender()
        app.append(NAMES[series], ts, values)
        mapp.append(NAMES[series], ts, values)
        assert app.commit().accepted == mapp.commit().accepted == len(fresh)
    _compare(head, model, -1, 10_000)
    _compare(head, model, 100, 200)
