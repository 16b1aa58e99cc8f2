"""Tests of tsdb.query.engine.aggregate: hand-built cases and hypothesis against tests/reference/aggregate.py."""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.aggregate import Result, Series, ref_basic, ref_count_values, ref_limitk, ref_topk
from tsdb.errors import QueryError
from tsdb.labels import Labels
from tsdb.query.engine.aggregate import (
    aggregate,
    sample_offset,
    stringlabels_bytes,
    xxhash64,
)
from tsdb.query.value import VectorValue, format_go_float, format_go_float_g

NAN = math.nan
INF = math.inf


def vec(rows: list[tuple[dict[str, str], list[float | None]]], drop: list[bool] | None = None) -> VectorValue:
    """A VectorValue from ``(labels, per-step value or None)`` rows."""
    steps = len(rows[0][1]) if rows else 1
    values = np.array([[0.0 if v is None else v for v in vals] for _, vals in rows]).reshape(len(rows), steps)
    present = np.array([[v is not None for v in vals] for _, vals in rows], dtype=bool).reshape(len(rows), steps)
    out = VectorValue([Labels(lbls) for lbls, _ in rows], values, present)
    if drop is not None:
        out.drop_name = np.array(drop, dtype=bool)
    return out


def as_result(v: VectorValue) -> Result:
    out: Result = {}
    for i, lbls in enumerate(v.labels):
        row = {int(t): float(v.values[i, t]) for t in np.flatnonzero(v.present[i])}
        assert row, f"empty row {lbls}"
        assert lbls not in out, f"duplicate row {lbls}"
        out[lbls] = row
    return out


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def assert_results_equal(got: Result, want: Result) -> None:
    assert set(got) == set(want)
    for lbls, row in want.items():
        assert set(got[lbls]) == set(row), lbls
        for t, value in row.items():
            assert same(got[lbls][t], value), (lbls, t, got[lbls][t], value)


def lbl(**kw: str) -> Labels:
    return Labels(kw)


# -- hand-built cases ---------------------------------------------------------------------------------------
HTTP = [
    ({"__name__": "req", "job": "api", "instance": "0"}, [1.0, 2.0, None]),
    ({"__name__": "req", "job": "api", "instance": "1"}, [3.0, None, 5.0]),
    ({"__name__": "req", "job": "db", "instance": "0"}, [10.0, 20.0, 30.0]),
]


@pytest.mark.parametrize(("op", "want_api", "want_db"), [
    ("sum", {0: 4.0, 1: 2.0, 2: 5.0}, {0: 10.0, 1: 20.0, 2: 30.0}),
    ("avg", {0: 2.0, 1: 2.0, 2: 5.0}, {0: 10.0, 1: 20.0, 2: 30.0}),
    ("count", {0: 2.0, 1: 1.0, 2: 1.0}, {0: 1.0, 1: 1.0, 2: 1.0}),
    ("group", {0: 1.0, 1: 1.0, 2: 1.0}, {0: 1.0, 1: 1.0, 2: 1.0}),
    ("min", {0: 1.0, 1: 2.0, 2: 5.0}, {0: 10.0, 1: 20.0, 2: 30.0}),
    ("max", {0: 3.0, 1: 2.0, 2: 5.0}, {0: 10.0, 1: 20.0, 2: 30.0}),
    ("stddev", {0: 1.0, 1: 0.0, 2: 0.0}, {0: 0.0, 1: 0.0, 2: 0.0}),
    ("stdvar", {0: 1.0, 1: 0.0, 2: 0.0}, {0: 0.0, 1: 0.0, 2: 0.0}),
])
def test_basic_ops_by_job(op: str, want_api: dict[int, float], want_db: dict[int, float]) -> None:
    got = as_result(aggregate(op, vec(HTTP), ["job"], False))
    assert got == {lbl(job="api"): want_api, lbl(job="db"): want_db}


def test_without_drops_name_and_listed_labels() -> None:
    got = aggregate("sum", vec(HTTP), ["instance"], True)
    assert got.labels == [lbl(job="api"), lbl(job="db")]
    got = aggregate("sum", vec(HTTP), [], False)
    assert got.labels == [Labels()]
    assert got.values[0].tolist() == [14.0, 22.0, 35.0]


def test_by_name_keeps_name_and_group_absent_everywhere_is_dropped() -> None:
    rows = [*HTTP, ({"__name__": "other", "job": "x"}, [None, None, None])]
    got = aggregate("count", vec(rows), ["__name__"], False)
    assert got.labels == [lbl(__name__="req")]


def test_drop_name_flag_propagates_from_inputs() -> None:
    got = aggregate("sum", vec(HTTP, drop=[False, True, False]), ["job"], False)
    # api's last step with output is step 2, where the flagged series (instance 1) takes part.
    assert got.drop_name.tolist() == [True, False]
    got = aggregate("sum", vec(HTTP, drop=[True, False, False]), ["job"], False)
    assert got.drop_name.tolist() == [False, False]


def test_sum_is_kahan_compensated() -> None:
    rows = [({"i": str(i)}, [v]) for i, v in enumerate([1.0, 1e100, 1.0, -1e100])]
    assert aggregate("sum", vec(rows), [], False).values[0, 0] == 2.0


def test_avg_switches_to_incremental_mean_on_overflow() -> None:
    rows = [({"i": str(i)}, [v]) for i, v in enumerate([1.5e308, 1.5e308, 1.5e308])]
    assert aggregate("avg", vec(rows), [], False).values[0, 0] == 1.5e308
    rows = [({"i": str(i)}, [v]) for i, v in enumerate([INF, -INF])]
    assert math.isnan(aggregate("avg", vec(rows), [], False).values[0, 0])


def test_min_max_skip_nan_unless_only_nan() -> None:
    rows = [({"i": "0"}, [NAN, NAN]), ({"i": "1"}, [3.0, None])]
    assert aggregate("max", vec(rows), [], False).values[0, 0] == 3.0
    assert aggregate("min", vec(rows), [], False).values[0, 0] == 3.0
    assert math.isnan(aggregate("max", vec(rows), [], False).values[0, 1])


def test_stddev_of_inf_is_nan() -> None:
    rows = [({"i": "0"}, [INF]), ({"i": "1"}, [1.0])]
    assert math.isnan(aggregate("stddev", vec(rows), [], False).values[0, 0])


def test_quantile_interpolates_and_handles_bounds() -> None:
    rows = [({"i": str(i)}, [float(v)] * 4) for i, v in enumerate([4, 1, 3, 2])]
    got = aggregate("quantile", vec(rows), [], False, np.array([0.5, -1.0, 2.0, NAN]))
    assert got.values[0, 0] == 2.5
    assert got.values[0, 1] == -INF
    assert got.values[0, 2] == INF
    assert math.isnan(got.values[0, 3])
    assert got.present.all()


def test_quantile_sorts_nan_first() -> None:
    rows = [({"i": "0"}, [2.0]), ({"i": "1"}, [NAN]), ({"i": "2"}, [1.0])]
    assert aggregate("quantile", vec(rows), [], False, 0.5).values[0, 0] == 1.0


def test_topk_bottomk_keep_series_and_order_instant() -> None:
    got = aggregate("topk", vec([(lb, [v[0]]) for lb, v in HTTP]), [], False, 2.0)
    assert [lb["instance"] + lb["job"] for lb in got.labels] == ["0db", "1api"]
    assert got.labels[0]["__name__"] == "req"
    got = aggregate("bottomk", vec([(lb, [v[0]]) for lb, v in HTTP]), ["job"], False, 1.0)
    assert got.labels == [Labels(HTTP[0][0]), Labels(HTTP[2][0])]


def test_topk_ties_follow_go_heap() -> None:
    # Go's heap keeps a at the root after pushing a and b (equal values), so 7 replaces a.
    rows = [({"s": "a"}, [5.0]), ({"s": "b"}, [5.0]), ({"s": "c"}, [7.0])]
    got = aggregate("topk", vec(rows), [], False, 2.0)
    assert [lb["s"] for lb in got.labels] == ["c", "b"]


def test_topk_nan_loses_and_sorts_last() -> None:
    rows = [({"s": "a"}, [NAN]), ({"s": "b"}, [1.0]), ({"s": "c"}, [NAN])]
    got = aggregate("topk", vec(rows), [], False, 2.0)
    assert got.labels[0]["s"] == "b" and math.isnan(got.values[1, 0])
    got = aggregate("bottomk", vec(rows), [], False, 1.0)
    assert [lb["s"] for lb in got.labels] == ["b"]


def test_topk_k_per_step_and_errors() -> None:
    v = vec(HTTP)
    got = aggregate("topk", v, [], False, np.array([0.0, 1.9, 5.0]))
    assert not got.present[:, 0].any()
    assert got.present[:, 1].sum() == 1 and got.present[:, 2].sum() == 2
    assert aggregate("topk", v, [], False, 0.5).num_series == 0
    with pytest.raises(QueryError, match=r"^Parameter value is NaN$"):
        aggregate("topk", VectorValue.empty(1), [], False, NAN)
    with pytest.raises(QueryError, match="overflows int64"):
        aggregate("topk", v, [], False, 1e19)
    with pytest.raises(QueryError, match=r"^Ratio value is NaN$"):
        aggregate("limit_ratio", v, [], False, NAN)


def test_limitk_takes_first_k_present_per_group() -> None:
    got = as_result(aggregate("limitk", vec(HTTP), ["job"], False, 1.0))
    api0, api1, db0 = (Labels(lb) for lb, _ in HTTP)
    assert got == {api0: {0: 1.0, 1: 2.0}, api1: {2: 5.0}, db0: {0: 10.0, 1: 20.0, 2: 30.0}}


def test_limit_ratio_complements() -> None:
    rows = [({"__name__": "m", "i": str(i)}, [float(i)]) for i in range(40)]
    v = vec(rows)
    for r in (0.2, 0.5, 0.8):
        a = set(aggregate("limit_ratio", v, [], False, r).labels)
        b = set(aggregate("limit_ratio", v, [], False, -(1.0 - r)).labels)
        assert not a & b
        assert len(a | b) == 40
    assert aggregate("limit_ratio", v, [], False, 1.0).num_series == 40
    assert aggregate("limit_ratio", v, [], False, 0.0).num_series == 0
    warnings: list[str] = []
    assert aggregate("limit_ratio", v, [], False, 1.1, warnings).num_series == 40
    assert warnings == ["PromQL warning: ratio value should be between -1 and 1, got 1.1, capping to 1"]


def test_stringlabels_encoding_and_offset() -> None:
    assert stringlabels_bytes(lbl(a="b", c="dd")) == b"\x01a\x01b\x01c\x02dd"
    long = "x" * 300
    assert stringlabels_bytes(lbl(a=long))[:6] == b"\x01a\xff\x2c\x01\x00"
    assert 0.0 <= sample_offset(lbl(a="b")) <= 1.0


def test_xxhash64_known_vectors() -> None:
    assert xxhash64(b"") == 0xEF46DB3751D8E999
    assert xxhash64(b"a") == 0xD24EC4F1A98C6E5B
    assert xxhash64(b"abc") == 0x44BC2CF5AD770999


def test_xxhash64_matches_libxxhash() -> None:
    path = ctypes.util.find_library("xxhash")
    if path is None:
        pytest.skip("needs library libxxhash (Debian package libxxhash0): not installed")
    lib = ctypes.CDLL(path)
    lib.XXH64.restype = ctypes.c_uint64
    lib.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
    rng = np.random.default_rng(1)
    for n in range(0, 100):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert xxhash64(data) == lib.XXH64(data, n, 0)


def test_count_values_labels_and_formatting() -> None:
    rows = [({"__name__": "v", "job": "a", "i": "0"}, [1.0, 0.1]),
            ({"__name__": "v", "job": "a", "i": "1"}, [1.0, NAN]),
            ({"__name__": "v", "job": "b", "i": "2"}, [2.0, 1e21])]
    got = as_result(aggregate("count_values", vec(rows), [], False, "val"))
    assert got == {lbl(val="1"): {0: 2.0}, lbl(val="2"): {0: 1.0}, lbl(val="0.1"): {1: 1.0},
                   lbl(val="NaN"): {1: 1.0}, lbl(val="1000000000000000000000"): {1: 1.0}}
    got = as_result(aggregate("count_values", vec(rows), ["job"], False, "val"))
    assert got[lbl(job="a", val="1")] == {0: 2.0}
    # without: the value label replaces a same-named label, unless it is itself dropped.
    got = as_result(aggregate("count_values", vec(rows), ["i"], True, "job"))
    assert got == {lbl(job="1"): {0: 2.0}, lbl(job="2"): {0: 1.0}, lbl(job="0.1"): {1: 1.0},
                   lbl(job="NaN"): {1: 1.0}, lbl(job="1000000000000000000000"): {1: 1.0}}
    got = as_result(aggregate("count_values", vec(rows), ["job"], True, "job"))
    assert got == {lbl(i="0"): {0: 1.0, 1: 1.0}, lbl(i="1"): {0: 1.0, 1: 1.0}, lbl(i="2"): {0: 1.0, 1: 1.0}}
    with pytest.raises(QueryError, match="invalid label name"):
        aggregate("count_values", vec(rows), [], False, "")


def test_go_float_formatting() -> None:
    assert [format_go_float(x) for x in (1.0, -0.0, 0.5, 1e21, INF, -INF, NAN)] == [
        "1", "-0", "0.5", "1000000000000000000000", "+Inf", "-Inf", "NaN"]
    assert [format_go_float_g(x) for x in (9.3e18, 123456.0, 1234567.0, 1e-5, 0.001)] == [
        "9.3e+18", "123456", "1.234567e+06", "1e-05", "0.001"]


def test_unknown_op_and_bad_param() -> None:
    with pytest.raises(QueryError):
        aggregate("median", vec(HTTP), [], False)
    with pytest.raises(QueryError):
        aggregate("topk", vec(HTTP), [], False, "x")
    with pytest.raises(QueryError):
        aggregate("topk", vec(HTTP), [], False, np.array([1.0]))


# -- hypothesis against the per-step reference ------------------------------------------------------------------
VALUES = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 2.0, 0.5, 1e308, -1e308, 1e100, INF, -INF, NAN]),
    st.floats(-1e6, 1e6, allow_nan=False),
)
CANDIDATE_LABELS = [
    {"__name__": n, "g": g, "h": h} for n in ("a", "b") for g in ("x", "y", "") for h in ("1", "2")
]


@st.composite
def inputs(draw: st.DrawFn) -> tuple[list[Series], VectorValue]:
    num_steps = draw(st.integers(1, 4))
    idx = draw(st.lists(st.integers(0, len(CANDIDATE_LABELS) - 1), max_size=7, unique=True))
    series: list[Series] = []
    for i in idx:
        vals = draw(st.lists(st.one_of(st.none(), VALUES), min_size=num_steps, max_size=num_steps))
        series.append((Labels(CANDIDATE_LABELS[i]), vals))
    v = VectorValue([lb for lb, _ in series],
                    np.array([[0.0 if x is None else x for x in vals] for _, vals in series]).reshape(-1, num_steps),
                    np.array([[x is not None for x in vals] for _, vals in series], dtype=bool).reshape(-1, num_steps))
    return series, v


GROUPINGS = st.tuples(st.sampled_from([(), ("g",), ("h",), ("g", "h"), ("__name__",), ("nope",)]), st.booleans())


@pytest.mark.kernel
@given(inputs(), GROUPINGS, st.sampled_from(["sum", "avg", "count", "group", "min", "max", "stddev", "stdvar"]))
def test_basic_matches_reference(data: tuple[list[Series], VectorValue], grouping: tuple[tuple[str, ...], bool],
                                 op: str) -> None:
    series, v = data
    names, without = grouping
    got = as_result(aggregate(op, v, names, without))
    assert_results_equal(got, ref_basic(op, series, names, without, v.values.shape[1]))


@pytest.mark.kernel
@given(inputs(), GROUPINGS, st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0, -0.5, 1.5, NAN]),
                                     min_size=4, max_size=4))
def test_quantile_matches_reference(data: tuple[list[Series], VectorValue],
                                    grouping: tuple[tuple[str, ...], bool], q: list[float]) -> None:
    series, v = data
    names, without = grouping
    qs = np.array(q[:v.values.shape[1]])
    got = as_result(aggregate("quantile", v, names, without, qs))
    assert_results_equal(got, ref_basic("quantile", series, names, without, v.values.shape[1], list(qs)))


@pytest.mark.kernel
@given(inputs(), GROUPINGS, st.sampled_from(["topk", "bottomk", "limitk"]),
       st.lists(st.sampled_from([1.0, 2.0, 3.0, 2.7, 0.0, 10.0]), min_size=4, max_size=4))
def test_selecting_matches_reference(data: tuple[list[Series], VectorValue], grouping: tuple[tuple[str, ...], bool],
                                     op: str, k: list[float]) -> None:
    series, v = data
    names, without = grouping
    num_steps = v.values.shape[1]
    ks = np.array(k[:num_steps])
    got = as_result(aggregate(op, v, names, without, ks))
    if op == "limitk":
        want = ref_limitk(series, names, without, num_steps, list(ks)) if ks.max() >= 1 else {}
    else:
        want = ref_topk(op, series, names, without, num_steps, list(ks)) if ks.max() >= 1 else {}
    assert_results_equal(got, want)


@pytest.mark.kernel
@given(inputs(), GROUPINGS, st.sampled_from(["val", "g", "__name__"]))
def test_count_values_matches_reference(data: tuple[list[Series], VectorValue],
                                        grouping: tuple[tuple[str, ...], bool], label: str) -> None:
    series, v = data
    names, without = grouping
    got = as_result(aggregate("count_values", v, names, without, label))
    assert_results_equal(got, ref_count_values(series, names, without, v.values.shape[1], label, format_go_float))


@pytest.mark.kernel
@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=30, unique=True),
       st.integers(1, 40))
def test_topk_without_ties_is_the_k_largest(values: list[float], k: int) -> None:
    v = vec([({"i": str(i)}, [x]) for i, x in enumerate(values)])
    got = aggregate("topk", v, [], False, float(k))
    assert got.values[:, 0].tolist() == sorted(values, reverse=True)[:k]
    got = aggregate("bottomk", v, [], False, float(k))
    assert got.values[:, 0].tolist() == sorted(values)[:k]
