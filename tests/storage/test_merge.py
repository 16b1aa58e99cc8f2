"""Merging queriers: sorted merge by labels, dedup, later source wins, fast concatenation."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tsdb.labels import Labels, Matcher
from tsdb.storage.memory import MemoryStore
from tsdb.storage.merge import MergeQuerier, merge_samples

ALL = [Matcher("=~", "__name__", ".+")]


def _store(data: dict[str, list[tuple[int, float]]]) -> MemoryStore:
    store = MemoryStore()
    for name, samples in data.items():
        store.add(Labels({"__name__": name}), [t for t, _ in samples], [v for _, v in samples])
    return store


def test_merge_by_labels_and_priority() -> None:
    old = _store({"a": [(1, 1.0), (2, 2.0)], "b": [(1, 5.0)]})
    new = _store({"a": [(2, 20.0), (3, 3.0)], "c": [(9, 9.0)]})
    closed: list[bool] = []
    q = MergeQuerier([old.querier(0, 100), new.querier(0, 100)], on_close=lambda: closed.append(True))
    series = list(q.select(ALL))
    assert [s.labels.metric_name for s in series] == ["a", "b", "c"]
    ts, values = series[0].samples()
    assert ts.tolist() == [1, 2, 3] and values.tolist() == [1.0, 20.0, 3.0]
    assert q.label_names() == ["__name__"]
    assert q.label_values("__name__") == ["a", "b", "c"]
    q.close()
    q.close()
    assert closed == [True]


def test_single_source_passes_through() -> None:
    store = _store({"a": [(1, 1.0)]})
    q = MergeQuerier([store.querier(0, 10)])
    assert [s.labels.metric_name for s in q.select(ALL)] == ["a"]


def test_merge_samples_edge_cases() -> None:
    empty = (np.empty(0, np.int64), np.empty(0, np.float64))
    assert merge_samples([empty, empty])[0].tolist() == []
    ts, values = merge_samples([(np.array([5, 6]), np.array([1.0, 2.0])), (np.array([1, 2]), np.array([3.0, 4.0]))])
    assert ts.tolist() == [1, 2, 5, 6] and values.tolist() == [3.0, 4.0, 1.0, 2.0]


samples = st.dictionaries(st.integers(0, 50), st.floats(allow_nan=False), max_size=10)


@given(st.lists(samples, min_size=1, max_size=4))
def test_merge_samples_matches_dict_model(parts: list[dict[int, float]]) -> None:
    expected: dict[int, float] = {}
    for part in parts:
        expected.update(part)
    arrays = [(np.array(sorted(p), dtype=np.int64), np.array([p[t] for t in sorted(p)], dtype=np.float64))
              for p in parts]
    ts, values = merge_samples(arrays)
    assert ts.tolist() == sorted(expected)
    assert values.tolist() == [expected[t] for t in sorted(expected)]


def _as_dict(flat: object) -> dict[Labels, tuple[list[int], list[float]]]:
    from tsdb.storage.interfaces import FlatSeries

    assert isinstance(flat, FlatSeries)
    b = flat.offsets.tolist()
    assert len(b) == len(flat.labels) + 1 and all(b[i] < b[i + 1] for i in range(len(flat.labels)))
    assert flat.labels == sorted(flat.labels)
    return {lb: (flat.ts[b[i]:b[i + 1]].tolist(), flat.values[b[i]:b[i + 1]].tolist())
            for i, lb in enumerate(flat.labels)}


def test_select_flat_equals_select_over_head_and_blocks(tmp_path: object) -> None:
    """The columnar path (head, blocks, merge, tombstones) answers exactly what select() answers."""
    from pathlib import Path

    from tsdb.config import StorageOptions
    from tsdb.storage.db import DB
    from tsdb.storage.interfaces import FlatSeries

    options = StorageOptions(block_range_ms=60_000, retention_ms=10**12)
    with DB.open(Path(str(tmp_path)), options) as db:
        for step in range(0, 400):  # 400 s of data at 1 s: blocks get cut, the rest stays in the head
            app = db.appender()
            for i in range(30):
                app.append(Labels({"__name__": "m", "i": str(i), "odd": str(i % 2)}),
                           np.array([step * 1000], np.int64), np.array([float(step * i)], np.float64))
            app.commit()
            if step % 100 == 99:
                db.maintain(now_ms=step * 1000)
        assert db.blocks, "the test needs blocks"
        db.delete([Matcher("=", "i", "3")], 50_000, 70_000)
        for matchers in ([Matcher("=", "__name__", "m")], [Matcher("=", "odd", "1")], [Matcher("=", "i", "3")]):
            for mint, maxt in ((0, 10**9), (55_000, 250_000), (390_000, 395_000)):
                q = db.querier(mint, maxt)
                try:
                    want = _as_dict(FlatSeries.from_series(q.select(matchers)))
                    got = _as_dict(q.select_flat(matchers))
                finally:
                    q.close()
                assert got == want
                assert got
