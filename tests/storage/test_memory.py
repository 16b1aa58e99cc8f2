"""The in-memory reference store: the model the real storage is tested against."""

from __future__ import annotations

import numpy as np

from tsdb.labels import Labels, Matcher
from tsdb.storage.interfaces import (
    STALE_NAN,
    Appendable,
    CommitResult,
    Queryable,
    Series,
    is_stale,
)
from tsdb.storage.memory import MemoryStore

A = Labels({"__name__": "m", "job": "a"})
B = Labels({"__name__": "m", "job": "b"})


def test_protocols_are_implemented() -> None:
    store = MemoryStore()
    assert isinstance(store, Appendable) and isinstance(store, Queryable)


def test_append_commit_select_clip() -> None:
    store = MemoryStore()
    app = store.appender()
    app.append(A, np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]))
    app.append(B, np.array([2]), np.array([5.0]))
    result = app.commit()
    assert result.accepted == 4 and result.rejected_count == 0
    q = store.querier(2, 3)
    series = list(q.select([Matcher("=", "__name__", "m")]))
    assert [s.labels for s in series] == [A, B]
    assert isinstance(series[0], Series)
    ts, values = series[0].samples()
    assert ts.tolist() == [2, 3] and values.tolist() == [2.0, 3.0]
    assert q.label_names() == ["__name__", "job"]
    assert q.label_values("job") == ["a", "b"]
    assert q.label_values("job", [Matcher("=", "job", "b")]) == ["b"]
    assert q.label_names([Matcher("=", "job", "zz")]) == []
    q.close()


def test_rejections_and_rollback() -> None:
    store = MemoryStore()
    app = store.appender()
    app.append(A, np.array([10, 20]), np.array([1.0, 2.0]))
    app.commit()
    app.append(A, np.array([5, 20, 20, 30]), np.array([0.0, 2.0, 9.0, 3.0]))
    result = app.commit()
    assert result.accepted == 1
    assert result.rejected["out_of_order"].count == 1
    assert result.rejected["duplicate"].count == 1
    assert "duplicate" in result.summary() and 'job="a"' in result.summary()
    app.append(A, np.array([40]), np.array([4.0]))
    app.rollback()
    assert app.commit().accepted == 0
    assert store.raw(A)[0].tolist() == [10, 20, 30]


def test_out_of_order_allowed_and_delete() -> None:
    store = MemoryStore(allow_out_of_order=True)
    store.add(A, [30, 10], [3.0, 1.0])
    store.add(A, [20], [2.0])
    assert store.raw(A)[0].tolist() == [10, 20, 30]
    store.delete([Matcher("=", "job", "a")], 15, 25)
    assert store.raw(A)[0].tolist() == [10, 30]
    store.delete([Matcher("=", "job", "a")], 0, 100)
    assert store.series_labels() == []
    store.delete([Matcher("=", "job", "zz")], 0, 100)


def test_stale_marker_is_bit_exact() -> None:
    values = np.array([STALE_NAN, np.nan, 1.0])
    assert is_stale(values).tolist() == [True, False, False]


def test_commit_result_examples_are_capped() -> None:
    result = CommitResult()
    for i in range(10):
        result.reject("duplicate", 1, f"s{i}")
    assert result.rejected_count == 10 and len(result.rejected["duplicate"].examples) == 5
