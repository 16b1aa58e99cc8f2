"""Postings set operations against Python sets; select_postings against brute-force matching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.labels import Labels, Matcher, MatchType, matches_all
from tsdb.storage.index.postings import PostingsSource, intersect, select_postings, subtract, union
from tsdb.storage.index.reader import IndexReader
from tsdb.storage.index.writer import write_index

ref_sets = st.sets(st.integers(0, 200), max_size=40)


def _arr(s: set[int], dtype: type = np.uint64) -> np.ndarray:
    return np.array(sorted(s), dtype=dtype)


@given(ref_sets, ref_sets, ref_sets)
def test_set_operations(a: set[int], b: set[int], c: set[int]) -> None:
    assert list(intersect(_arr(a), _arr(b))) == sorted(a & b)
    assert list(subtract(_arr(a), _arr(b))) == sorted(a - b)
    assert list(union([_arr(a), _arr(b), _arr(c)])) == sorted(a | b | c)
    assert list(union([])) == []
    mixed = intersect(_arr(a, np.int64), _arr(b))
    assert mixed.dtype.kind in "iu" and list(mixed) == sorted(a & b)
    assert union([_arr(a, np.int64), _arr(b)]).dtype.kind in "iu"
    assert subtract(_arr(a, np.int64), _arr(b)).dtype.kind in "iu"


class ListSource:
    """A brute-force PostingsSource over a list of label sets (ref = position)."""

    def __init__(self, labels: list[Labels]) -> None:
        self.labels = labels

    def postings(self, name: str, value: str) -> np.ndarray:
        if not name and not value:
            return self.all_postings()
        return np.array([i for i, lb in enumerate(self.labels) if name in lb and lb[name] == value], np.int64)

    def label_values(self, name: str) -> list[str]:
        return sorted({lb[name] for lb in self.labels if name in lb})

    def all_postings(self) -> np.ndarray:
        return np.arange(len(self.labels), dtype=np.int64)


NAMES = ["__name__", "a", "b", "c"]
VALUES = ["x", "y", "xy", "z1"]
PATTERNS = ["", ".*", ".+", "x.*", "x|y", "x|", "y|z1", "(x|z)1?", "[xy]+", "nope"]

label_sets = st.lists(st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VALUES), max_size=4),
                      min_size=1, max_size=30)
matchers = st.one_of(
    st.builds(Matcher, st.sampled_from([MatchType.EQUAL, MatchType.NOT_EQUAL]), st.sampled_from([*NAMES, "d"]),
              st.sampled_from(["", *VALUES])),
    st.builds(Matcher, st.sampled_from([MatchType.REGEX, MatchType.NOT_REGEX]), st.sampled_from([*NAMES, "d"]),
              st.sampled_from(PATTERNS)),
)


def test_list_source_is_a_postings_source() -> None:
    assert isinstance(ListSource([]), PostingsSource)


@settings(max_examples=150)
@given(sets=label_sets, ms=st.lists(matchers, max_size=3))
def test_select_matches_brute_force(sets: list[dict[str, str]], ms: list[Matcher]) -> None:
    labels = sorted({Labels(s) for s in sets})
    expected = [i for i, lb in enumerate(labels) if matches_all(ms, lb)]
    assert list(select_postings(ListSource(labels), ms)) == expected


@settings(max_examples=40)
@given(sets=label_sets, ms=st.lists(matchers, min_size=1, max_size=3))
def test_select_on_index_reader(tmp_path_factory: pytest.TempPathFactory, sets: list[dict[str, str]],
                                ms: list[Matcher]) -> None:
    labels = sorted({Labels(s) for s in sets if s})
    path = tmp_path_factory.mktemp("idx") / "index"
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64))
    refs = write_index(path, [(lb, *empty) for lb in labels])
    with IndexReader(path) as r:
        got = select_postings(r, ms)
    assert got.dtype == np.uint64
    assert list(got) == [ref for ref, lb in zip(refs, labels, strict=True) if matches_all(ms, lb)]


def test_empty_value_semantics() -> None:
    labels = [Labels({"a": "1"}), Labels({"b": "2"}), Labels({"a": "2", "b": "2"})]
    src = ListSource(labels)

    def sel(*ms: Matcher) -> list[int]:
        return [int(x) for x in select_postings(src, ms)]

    assert sel(Matcher("=", "a", "")) == [1]
    assert sel(Matcher("!=", "a", "")) == [0, 2]
    assert sel(Matcher("!=", "a", "1")) == [1, 2]
    assert sel(Matcher("=~", "a", "1|")) == [0, 1]
    assert sel(Matcher("!~", "a", "1|")) == [2]
    assert sel(Matcher("!~", "a", ".*")) == []
    assert sel(Matcher("=~", "a", ".*")) == [0, 1, 2]
    assert sel() == [0, 1, 2]
    assert sel(Matcher("=", "b", "2"), Matcher("=", "a", "")) == [1]
