"""Series and label limits of the head: which series are refused, under which reason, and that the rest of
a batch is stored; the label checks against a plain reference (property test)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsdb.labels import Labels
from tsdb.storage.head.head import Head
from tsdb.storage.limits import SeriesLimits, label_violation


def _commit(head: Head, series: list[dict[str, str]], t: int = 0) -> dict[str, int]:
    app = head.appender()
    for labels in series:
        app.append(Labels(labels), np.array([t], dtype=np.int64), np.array([1.0]))
    result = app.commit()
    return {"accepted": result.accepted, **{r: x.count for r, x in result.rejected.items()}}


def test_series_limits_refuse_new_series_only() -> None:
    head = Head()
    _commit(head, [{"__name__": "a", "i": str(i)} for i in range(3)])
    head.set_limits(SeriesLimits(max_series=4, max_series_per_metric=2))
    # the three existing series of "a" keep ingesting although "a" is past its new limit
    assert _commit(head, [{"__name__": "a", "i": str(i)} for i in range(3)], t=1) == {"accepted": 3}
    got = _commit(head, [{"__name__": "a", "i": "9"}, {"__name__": "b"}, {"__name__": "c"}], t=1)
    assert got == {"accepted": 1, "metric_series_limit": 1, "series_limit": 1}
    assert head.num_series == 4
    head.set_limits(SeriesLimits())
    assert _commit(head, [{"__name__": "c"}], t=2) == {"accepted": 1}


def test_lowered_label_limits_refuse_existing_series_until_raised() -> None:
    head = Head()
    _commit(head, [{"__name__": "m", "long": "x" * 20}, {"__name__": "m", "short": "x"}])
    head.set_limits(SeriesLimits(max_label_value_length=10))
    assert _commit(head, [{"__name__": "m", "long": "x" * 20}, {"__name__": "m", "short": "x"}], t=1) == {
        "accepted": 1, "label_value_length": 1}
    head.set_limits(SeriesLimits(max_label_value_length=20))
    assert _commit(head, [{"__name__": "m", "long": "x" * 20}], t=2) == {"accepted": 1}


def test_limits_reject_negative_values() -> None:
    with pytest.raises(ValueError, match="max_series"):
        SeriesLimits(max_series=-1)


def _reference(pairs: list[tuple[str, str]], limits: SeriesLimits) -> str | None:
    if limits.max_label_names_per_series and len(pairs) > limits.max_label_names_per_series:
        return "label_count"
    if limits.max_label_name_length and any(len(n.encode()) > limits.max_label_name_length for n, _ in pairs):
        return "label_name_length"
    if limits.max_label_value_length and any(len(v.encode()) > limits.max_label_value_length for _, v in pairs):
        return "label_value_length"
    return None


_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12)


@given(st.dictionaries(_text, _text, min_size=1, max_size=6), st.integers(0, 6), st.integers(0, 20),
       st.integers(0, 20))
def test_label_violation_matches_reference(labels: dict[str, str], count: int, name_len: int,
                                           value_len: int) -> None:
    limits = SeriesLimits(max_label_names_per_series=count, max_label_name_length=name_len,
                          max_label_value_length=value_len)
    labelset = Labels(labels)
    flat = tuple.__getitem__(labelset, slice(None))  # the head's flat (name, value, ...) form
    assert label_violation(flat, limits) == _reference(list(labelset.items()), limits)
