"""Postings: sorted arrays of series refs, their set operations, and label-matcher selection.

A postings list is a sorted, duplicate-free 1-d numpy array of series refs (uint64 for a block index,
int64 for the head). The set operations keep the dtype of their inputs (mixing signed and unsigned
inputs would make numpy fall back to float64, so mixed inputs are brought to uint64 first).

:func:`select_postings` implements Prometheus's matcher semantics over any :class:`PostingsSource`
(a block's :class:`~tsdb.storage.index.reader.IndexReader` or the head): a missing label has the value "",
so ``{a=""}`` selects series without ``a`` and ``{a!="x"}`` also selects series without ``a``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from tsdb.labels import Matcher, MatchType

__all__ = ["PostingsSource", "intersect", "select_postings", "subtract", "union"]

Postings = npt.NDArray[np.integer]


@runtime_checkable
class PostingsSource(Protocol):
    """Anything with an inverted index: postings per label pair and the values of a label name."""

    def postings(self, name: str, value: str) -> Postings:
        """Sorted refs of series with ``name="value"`` (empty array if none)."""
        ...

    def label_values(self, name: str) -> list[str]:
        """Sorted values of ``name`` over all series."""
        ...

    def all_postings(self) -> Postings:
        """Sorted refs of all series."""
        ...


def _common(arrays: Sequence[Postings]) -> list[Postings]:
    kinds = {a.dtype.kind for a in arrays}
    if len(kinds) > 1:
        return [a.astype(np.uint64, copy=False) for a in arrays]
    return list(arrays)


def intersect(a: Postings, b: Postings) -> Postings:
    """Refs in both ``a`` and ``b``."""
    a, b = _common([a, b])
    if not len(a) or not len(b):
        return a[:0] if not len(a) else b[:0]
    return np.intersect1d(a, b, assume_unique=True)


def union(arrays: Iterable[Postings]) -> Postings:
    """Refs in any of the arrays (sorted, unique). An empty iterable gives an empty uint64 array."""
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return np.zeros(0, dtype=np.uint64)
    if len(arrays) == 1:
        return arrays[0]
    return np.unique(np.concatenate(_common(arrays)))


def subtract(a: Postings, b: Postings) -> Postings:
    """Refs in ``a`` but not in ``b``."""
    if not len(a) or not len(b):
        return a
    a, b = _common([a, b])
    return np.setdiff1d(a, b, assume_unique=True)


def _values_postings(source: PostingsSource, m: Matcher, want: bool) -> list[Postings]:
    """Postings of the values ``v`` of ``m.name`` for which ``m.matches(v) == want``.

    Literal matchers are answered by direct look-ups; regular expressions scan ``label_values``.
    """
    exact = m.set_matches()
    if exact is not None:
        if want:
            return [source.postings(m.name, v) for v in sorted(exact) if v]
        if m.type is MatchType.REGEX:  # values not in the set
            return [source.postings(m.name, v) for v in source.label_values(m.name) if v not in exact]
    if not want and m.type is MatchType.NOT_EQUAL:
        return [source.postings(m.name, m.value)] if m.value else []
    if not want and m.type is MatchType.NOT_REGEX:
        literals = Matcher(MatchType.REGEX, m.name, m.value).set_matches()
        if literals is not None:
            return [source.postings(m.name, v) for v in sorted(literals) if v]
    return [source.postings(m.name, v) for v in source.label_values(m.name) if m.matches(v) == want]


def select_postings(source: PostingsSource, matchers: Sequence[Matcher]) -> Postings:
    """Sorted refs of the series matching every matcher (Prometheus semantics).

    Matchers that reject the empty value need the label: their value postings are intersected.
    Matchers that accept the empty value (``a=""``, ``a!="x"``, ``a=~"x|"``, ``a!~"x"``) subtract the
    postings of the values they reject; if no matcher needs a label, selection starts from all
    postings. No matchers select every series.
    """
    result: Postings | None = None
    rejected: list[Postings] = []
    # Cheap, selective matchers first so the running intersection shrinks early.
    ordered = sorted(matchers, key=lambda m: (m.type not in (MatchType.EQUAL, MatchType.REGEX),
                                              m.set_matches() is None))
    for m in ordered:
        if m.matches(""):
            if m.type is MatchType.REGEX and m.value == ".*":
                continue  # matches every series
            rejected.extend(_values_postings(source, m, want=False))
        else:
            if m.type is MatchType.NOT_REGEX and m.value == ".*":
                return source.all_postings()[:0]
            refs = union(_values_postings(source, m, want=True))
            result = refs if result is None else intersect(result, refs)
            if not len(result):
                return result
    if result is None:
        result = source.all_postings()
    if rejected and len(result):
        result = subtract(result, union(rejected))
    return result
