"""Tests of tsdb.query.engine.binary: hand-built cases and hypothesis against tests/reference/aggregate.py."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.query.test_aggregate import as_result, assert_results_equal, vec
from tests.reference.aggregate import Result, Series, elem_op, ref_vector_binop
from tsdb.errors import QueryError
from tsdb.labels import Labels
from tsdb.query.engine.binary import (
    apply_op,
    binary_op,
    card_name,
    evaluate_binary,
    go_labels_string,
    merge_same_labels,
    operator_symbol,
)
from tsdb.query.value import ScalarValue, VectorValue

NAN = math.nan
INF = math.inf


@dataclass
class Matching:
    """Stand-in for the parser's VectorMatching (same attribute names)."""

    card: str = "one-to-one"
    on: bool = False
    labels: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    fill_lhs: float | None = None
    fill_rhs: float | None = None


@dataclass
class Node:
    """Stand-in for the parser's BinaryExpr."""

    op: str
    lhs: object = None
    rhs: object = None
    return_bool: bool = False
    matching: Matching | None = field(default_factory=Matching)


def lbl(**kw: str) -> Labels:
    return Labels(kw)


def sc(*values: float) -> ScalarValue:
    return ScalarValue(np.array(values, dtype=np.float64))


# -- scalars and vector/scalar ----------------------------------------------------------------------------------
def test_scalar_scalar() -> None:
    got = binary_op("+", sc(1, 2), sc(3, 4))
    assert isinstance(got, ScalarValue) and got.values.tolist() == [4.0, 6.0]
    got = binary_op(">", sc(1, 5), sc(3, 4), True)
    assert isinstance(got, ScalarValue) and got.values.tolist() == [0.0, 1.0]
    with pytest.raises(QueryError):
        binary_op("and", sc(1), sc(1))


@pytest.mark.parametrize(("op", "a", "b", "want"), [
    ("/", 1.0, 0.0, INF), ("/", -1.0, 0.0, -INF), ("/", 0.0, 0.0, NAN), ("%", 5.0, 3.0, 2.0),
    ("%", -5.0, 3.0, -2.0), ("%", 5.0, 0.0, NAN), ("%", INF, 2.0, NAN), ("%", 5.0, INF, 5.0),
    ("^", 2.0, 10.0, 1024.0), ("^", NAN, 0.0, 1.0), ("^", 1.0, NAN, 1.0), ("^", 0.0, -1.0, INF),
    ("atan2", 1.0, 0.0, math.pi / 2), ("-", INF, INF, NAN), ("*", 0.0, INF, NAN),
])
def test_float_semantics_match_go(op: str, a: float, b: float, want: float) -> None:
    res, keep = apply_op(op, np.array([a]), np.array([b]))
    assert keep.all()
    assert (math.isnan(want) and math.isnan(res[0])) or res[0] == want
    ref, _ = elem_op(op, a, b)
    assert (math.isnan(want) and math.isnan(ref)) or ref == want


def test_vector_scalar_arithmetic_sets_drop_name() -> None:
    v = vec([({"__name__": "m", "a": "1"}, [1.0, None, 3.0])])
    got = binary_op("*", v, sc(2, 2, 2))
    assert isinstance(got, VectorValue)
    assert got.labels == [lbl(__name__="m", a="1")] and got.drop_name.tolist() == [True]
    assert got.present.tolist() == [[True, False, True]] and got.values[0, [0, 2]].tolist() == [2.0, 6.0]
    got = binary_op("-", sc(10, 10, 10), v)
    assert isinstance(got, VectorValue) and got.values[0, [0, 2]].tolist() == [9.0, 7.0]


def test_vector_scalar_comparison_filters_and_keeps_vector_value() -> None:
    v = vec([({"__name__": "m", "a": "1"}, [1.0, 5.0, 3.0]), ({"__name__": "m", "a": "2"}, [0.0, 0.0, 0.0])])
    got = binary_op("<", sc(2, 2, 2), v)  # 2 < v keeps v's values where true
    assert isinstance(got, VectorValue)
    assert got.labels == [lbl(__name__="m", a="1")] and got.drop_name.tolist() == [False]
    assert got.present.tolist() == [[False, True, True]] and got.values[0, 1:].tolist() == [5.0, 3.0]
    got = binary_op(">", v, sc(2, 2, 2), True)
    assert isinstance(got, VectorValue) and got.drop_name.all()
    assert got.values.tolist() == [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    assert got.present.tolist() == [[True, True, True], [True, True, True]]


def test_nan_comparisons_are_false() -> None:
    v = vec([({"a": "1"}, [NAN])])
    assert binary_op("==", v, sc(NAN)).num_series == 0  # type: ignore[union-attr]
    got = binary_op("!=", v, sc(NAN))
    assert isinstance(got, VectorValue) and got.num_series == 1


# -- vector/vector ----------------------------------------------------------------------------------------------
A = vec([({"__name__": "a", "job": "x", "i": "0"}, [1.0, 2.0]),
         ({"__name__": "a", "job": "x", "i": "1"}, [3.0, None]),
         ({"__name__": "a", "job": "y", "i": "0"}, [5.0, 6.0])])
B = vec([({"__name__": "b", "job": "x", "i": "0"}, [10.0, 20.0]),
         ({"__name__": "b", "job": "y", "i": "0"}, [None, 60.0]),
         ({"__name__": "b", "job": "z", "i": "0"}, [7.0, 7.0])])
ONE = vec([({"__name__": "one", "job": "x", "team": "t1"}, [100.0, 200.0]),
           ({"__name__": "one", "job": "y", "team": "t2"}, [300.0, None])])


def test_one_to_one_arithmetic_drops_name_immediately() -> None:
    got = as_result(binary_op("+", A, B, False, Matching()))  # type: ignore[arg-type]
    assert got == {lbl(job="x", i="0"): {0: 11.0, 1: 22.0}, lbl(job="y", i="0"): {1: 66.0}}


def test_one_to_one_comparison_keeps_lhs_labels_and_value() -> None:
    got = binary_op("<", A, B, False, Matching())
    assert isinstance(got, VectorValue)
    assert as_result(got) == {lbl(__name__="a", job="x", i="0"): {0: 1.0, 1: 2.0},
                              lbl(__name__="a", job="y", i="0"): {1: 6.0}}
    got = binary_op("<", A, B, True, Matching())
    assert isinstance(got, VectorValue) and got.drop_name.all()
    assert as_result(got)[lbl(__name__="a", job="x", i="0")] == {0: 1.0, 1: 1.0}


def test_on_keeps_only_on_labels_in_one_to_one() -> None:
    b = vec([({"__name__": "b", "i": "0"}, [1.0, 1.0])])
    got = as_result(binary_op("-", A.select_rows([0]), b, False, Matching(on=True, labels=("i",))))  # type: ignore[arg-type]
    assert got == {lbl(i="0"): {0: 0.0, 1: 1.0}}


def test_many_to_one_group_left_includes_labels() -> None:
    m = Matching(card="many-to-one", on=True, labels=("job",), include=("team",))
    got = as_result(binary_op("*", A, ONE, False, m))  # type: ignore[arg-type]
    assert got == {lbl(job="x", i="0", team="t1"): {0: 100.0, 1: 400.0},
                   lbl(job="x", i="1", team="t1"): {0: 300.0},
                   lbl(job="y", i="0", team="t2"): {0: 1500.0}}


def test_one_to_many_group_right_swaps_sides() -> None:
    m = Matching(card="one-to-many", on=True, labels=("job",), include=("team",))
    got = as_result(binary_op("-", ONE, A, False, m))  # type: ignore[arg-type]
    assert got[lbl(job="x", i="0", team="t1")] == {0: 99.0, 1: 198.0}
    # Comparisons return the left operand's value under the right side's labels.
    got = as_result(binary_op(">", ONE, A, False, m))  # type: ignore[arg-type]
    assert got[lbl(__name__="a", job="x", i="0", team="t1")] == {0: 100.0, 1: 200.0}


def test_duplicate_one_side_error_message() -> None:
    dup = vec([({"__name__": "dup_metric", "label": "beta"}, [1.0]),
               ({"__name__": "dup_metric", "label": "alpha"}, [1.0])])
    scalar_metric = vec([({"__name__": "scalar_metric"}, [3.0])])
    with pytest.raises(QueryError) as err:
        binary_op(">", scalar_metric, dup, False, Matching(on=True))
    assert str(err.value) == (
        'found duplicate series for the match group {} on the right hand-side of the operation: '
        '[{__name__="dup_metric", label="alpha"}, {__name__="dup_metric", label="beta"}];'
        'many-to-many matching not allowed: matching labels must be unique on one side')
    with pytest.raises(QueryError, match="on the left hand-side"):
        binary_op("+", dup, scalar_metric, False, Matching(card="one-to-many", on=True))


def test_one_to_one_needs_explicit_grouping() -> None:
    with pytest.raises(QueryError, match="many-to-one matching must be explicit"):
        binary_op("+", A, ONE, False, Matching(on=True, labels=("job",)))


def test_group_left_needs_unique_result_labels() -> None:
    lhs = vec([({"__name__": "a", "job": "x"}, [1.0]), ({"__name__": "b", "job": "x"}, [2.0])])
    with pytest.raises(QueryError, match="grouping labels must ensure unique matches"):
        binary_op("+", lhs, vec([({"__name__": "one", "job": "x"}, [1.0])]), False,
                  Matching(card="many-to-one", on=True, labels=("job",)))


def test_duplicate_labelset_after_matching() -> None:
    lhs = vec([({"__name__": "a", "job": "x", "k": "1"}, [1.0]), ({"__name__": "a", "job": "y", "k": "1"}, [2.0])])
    rhs = vec([({"__name__": "b", "job": "x"}, [1.0]), ({"__name__": "b", "job": "y"}, [2.0])])
    # group_left(job) copies job from the one side, so both results are {k="1", job=...}: fine.
    got = binary_op("+", lhs, rhs, False, Matching(card="many-to-one", on=True, labels=("job",), include=("job",)))
    assert isinstance(got, VectorValue) and got.num_series == 2
    # ignoring(job) one-to-one: both results are {k="1"} at the same step.
    rhs2 = vec([({"__name__": "b", "job": "x", "k": "1"}, [1.0]), ({"__name__": "b", "job": "y", "k": "2"}, [2.0])])
    with pytest.raises(QueryError):
        binary_op("+", lhs, rhs2, False, Matching(on=False, labels=("job",)))


def test_set_operators_per_step() -> None:
    m = Matching(card="many-to-many", on=True, labels=("job",))
    got = as_result(binary_op("and", A, ONE, False, m))  # type: ignore[arg-type]
    assert got == {lbl(__name__="a", job="x", i="0"): {0: 1.0, 1: 2.0}, lbl(__name__="a", job="x", i="1"): {0: 3.0},
                   lbl(__name__="a", job="y", i="0"): {0: 5.0}}
    got = as_result(binary_op("unless", A, ONE, False, m))  # type: ignore[arg-type]
    assert got == {lbl(__name__="a", job="y", i="0"): {1: 6.0}}
    got = as_result(binary_op("or", ONE, A, False, m))  # type: ignore[arg-type]
    assert got == {lbl(__name__="one", job="x", team="t1"): {0: 100.0, 1: 200.0},
                   lbl(__name__="one", job="y", team="t2"): {0: 300.0},
                   lbl(__name__="a", job="y", i="0"): {1: 6.0}}


def test_or_merges_same_labels_at_disjoint_steps() -> None:
    a = vec([({"__name__": "m"}, [1.0, None])])
    b = vec([({"__name__": "m"}, [9.0, 2.0])])
    got = as_result(binary_op("or", a, b, False, Matching(card="many-to-many")))  # type: ignore[arg-type]
    assert got == {lbl(__name__="m"): {0: 1.0, 1: 2.0}}


def test_merge_same_labels_rejects_overlap() -> None:
    v = vec([({"a": "1"}, [1.0, None]), ({"a": "1"}, [None, 2.0])])
    assert as_result(merge_same_labels(v)) == {lbl(a="1"): {0: 1.0, 1: 2.0}}
    v = vec([({"a": "1"}, [1.0]), ({"a": "1"}, [2.0])])
    with pytest.raises(QueryError, match="vector cannot contain metrics with the same labelset"):
        merge_same_labels(v)


def test_evaluator_entry_point_and_names() -> None:
    got = evaluate_binary(Node("ADD", matching=Matching()), A, B)
    assert isinstance(got, VectorValue) and got.num_series == 2
    assert operator_symbol("LUNLESS") == "unless" and operator_symbol("atan2") == "atan2"
    assert card_name("CardManyToOne") == "many-to-one" and card_name("ONE_TO_MANY") == "one-to-many"
    assert go_labels_string(lbl(__name__="m", b='q"')) == '{__name__="m", b="q\\""}'
    with pytest.raises(QueryError):
        operator_symbol("**")


# -- hypothesis against the per-step reference ------------------------------------------------------------------
BIN_VALUES = st.sampled_from([0.0, 1.0, 2.0, -1.0, 0.5, 3.0, NAN, INF, -INF])
POOL = [{"__name__": n, "g": g, "h": h} for n in ("a", "b") for g in ("x", "y") for h in ("1", "")]


@st.composite
def sides(draw: st.DrawFn, num_steps: int) -> tuple[list[Series], VectorValue]:
    idx = draw(st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=4, unique=True))
    series: list[Series] = []
    for i in idx:
        value_or_none = st.one_of(BIN_VALUES, BIN_VALUES, BIN_VALUES, st.none())
        vals = draw(st.lists(value_or_none, min_size=num_steps, max_size=num_steps))
        series.append((Labels(POOL[i]), vals))
    v = VectorValue([lb for lb, _ in series],
                    np.array([[0.0 if x is None else x for x in vals] for _, vals in series]).reshape(-1, num_steps),
                    np.array([[x is not None for x in vals] for _, vals in series], dtype=bool).reshape(-1, num_steps))
    return series, v


@st.composite
def binop_cases(draw: st.DrawFn) -> tuple[object, ...]:
    num_steps = draw(st.integers(1, 3))
    lhs = draw(sides(num_steps))
    rhs = draw(sides(num_steps))
    op = draw(st.sampled_from(["+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=",
                               "and", "or", "unless"]))
    if op in ("and", "or", "unless"):
        card = "many-to-many"
    else:
        card = draw(st.sampled_from(["one-to-one", "many-to-one", "one-to-many"]))
    on = draw(st.booleans())
    names = tuple(draw(st.lists(st.sampled_from(["g", "h", "__name__"]), unique=True, max_size=2)))
    include = tuple(draw(st.lists(st.sampled_from(["g", "h", "k"]), unique=True, max_size=2))) \
        if card in ("many-to-one", "one-to-many") else ()
    return_bool = draw(st.booleans()) if op in ("==", "!=", ">", "<", ">=", "<=") else False
    fills = (None, None) if card == "many-to-many" else draw(st.tuples(*[st.sampled_from([None, None, 0.0, 2.0])] * 2))
    return num_steps, lhs, rhs, op, card, on, names, include, return_bool, fills


def error_kind(message: str) -> str:
    for kind in ("found duplicate series", "must be explicit", "grouping labels must ensure unique",
                 "same labelset"):
        if kind in message:
            return kind
    return message


@pytest.mark.kernel
@given(binop_cases())
def test_vector_binop_matches_reference(case: tuple[object, ...]) -> None:
    num_steps, (lser, lvec), (rser, rvec), op, card, on, names, include, return_bool, fills = case  # type: ignore[misc]
    want: Result | str
    try:
        want = ref_vector_binop(op, lser, rser, return_bool, card, on, names, include, num_steps, *fills)
    except QueryError as err:
        want = error_kind(str(err))
    try:
        got_v = binary_op(op, lvec, rvec, return_bool, Matching(card, on, names, include, *fills))
    except QueryError as err:
        assert want == error_kind(str(err))
        return
    assert isinstance(want, dict), f"expected error {want}"
    assert isinstance(got_v, VectorValue)
    assert_results_equal(as_result(got_v), want)


@pytest.mark.kernel
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_grouping_kernels_match_reference(n_keys: int, num_steps: int, data: st.DataObject) -> None:
    from tests.reference.aggregate import ref_count_by_key, ref_last_row_by_key, ref_match_partners
    from tsdb.query.engine import aggregate_kernels as kern

    n_rows = data.draw(st.integers(0, 6))
    keys = np.array(data.draw(st.lists(st.integers(0, n_keys - 1), min_size=n_rows, max_size=n_rows)),
                    dtype=np.int64)
    mask = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=num_steps, max_size=num_steps),
                                       min_size=n_rows, max_size=n_rows)), dtype=bool).reshape(n_rows, num_steps)
    assert kern.count_by_key(keys, mask, n_keys).tolist() == ref_count_by_key(keys.tolist(), mask.tolist(), n_keys,
                                                                                      num_steps)
    idx = kern.last_row_by_key(keys, mask, n_keys)
    assert idx.tolist() == ref_last_row_by_key(keys.tolist(), mask.tolist(), n_keys, num_steps)
    first, uniform, matched = kern.match_partners(keys, mask, idx)
    want = ref_match_partners(keys.tolist(), mask.tolist(), idx.tolist())
    assert (first.tolist(), uniform.tolist(), matched.tolist()) == want


# -- fill modifiers (cases from Prometheus's fill-modifier.test) ------------------------------------------------
LEFT = vec([({"__name__": "left_vector", "label": "a"}, [10.0]), ({"__name__": "left_vector", "label": "b"}, [20.0]),
            ({"__name__": "left_vector", "label": "c"}, [30.0])])
RIGHT = vec([({"__name__": "right_vector", "label": "a"}, [100.0]),
             ({"__name__": "right_vector", "label": "b"}, [200.0]),
             ({"__name__": "right_vector", "label": "d"}, [400.0])])


def instant(v: object) -> dict[Labels, float]:
    assert isinstance(v, VectorValue)
    return {lb: x[0] for lb, x in as_result(v).items()}


def test_fill_both_sides_and_one_side() -> None:
    got = instant(binary_op("+", LEFT, RIGHT, False, Matching(fill_lhs=0.0, fill_rhs=0.0)))
    assert got == {lbl(label="a"): 110.0, lbl(label="b"): 220.0, lbl(label="c"): 30.0, lbl(label="d"): 400.0}
    got = instant(binary_op("+", LEFT, RIGHT, False, Matching(fill_lhs=5.0, fill_rhs=7.0)))
    assert got[lbl(label="c")] == 37.0 and got[lbl(label="d")] == 405.0
    got = instant(binary_op("+", LEFT, RIGHT, False, Matching(fill_lhs=0.0)))
    assert set(got) == {lbl(label="a"), lbl(label="b"), lbl(label="d")}


def test_fill_with_comparisons() -> None:
    got = instant(binary_op("!=", LEFT, RIGHT, False, Matching(fill_lhs=30.0, fill_rhs=30.0)))
    assert got == {lbl(__name__="left_vector", label="a"): 10.0, lbl(__name__="left_vector", label="b"): 20.0,
                   lbl(label="d"): 30.0}
    got = instant(binary_op(">", LEFT, RIGHT, True, Matching(fill_lhs=25.0, fill_rhs=25.0)))
    assert got == {lbl(__name__="left_vector", label="a"): 0.0, lbl(__name__="left_vector", label="b"): 0.0,
                   lbl(__name__="left_vector", label="c"): 1.0, lbl(label="d"): 0.0}


def test_fill_with_group_left_and_group_right() -> None:
    requests = vec([({"__name__": "requests", "method": m, "status": st_}, [v])
                    for m, st_, v in [("GET", "200", 100.0), ("POST", "200", 200.0), ("GET", "500", 10.0),
                                      ("POST", "500", 20.0)]])
    limits = vec([({"__name__": "limits", "status": st_}, [v]) for st_, v in [("200", 1000.0), ("404", 500.0),
                                                                           ("500", 50.0)]])
    m = Matching(card="many-to-one", on=True, labels=("status",), fill_lhs=0.0)
    got = instant(binary_op("+", requests, limits, False, m))
    assert got[lbl(status="404")] == 500.0 and got[lbl(method="POST", status="500")] == 70.0
    cpu = vec([({"__name__": "cpu_info", "instance": i, "cpu": c}, [1.0]) for i, c in [("a", "0"), ("a", "1"),
                                                                                     ("b", "0")]])
    meta = vec([({"__name__": "node_meta", "instance": "a"}, [100.0]), ({"__name__": "node_meta", "instance": "c"},
                                                                        [300.0])])
    right = Matching(card="one-to-many", on=True, labels=("instance",))
    right.fill_lhs = 1.0
    got = instant(binary_op("*", meta, cpu, False, right))
    assert got == {lbl(instance="a", cpu="0"): 100.0, lbl(instance="a", cpu="1"): 100.0, lbl(instance="c"): 300.0}
    right.fill_lhs, right.fill_rhs = None, 0.0
    got = instant(binary_op("*", meta, cpu, False, right))
    assert got == {lbl(instance="a", cpu="0"): 100.0, lbl(instance="a", cpu="1"): 100.0,
                   lbl(instance="b", cpu="0"): 0.0}


def test_fill_with_an_empty_side() -> None:
    empty = VectorValue.empty(1)
    assert instant(binary_op("+", LEFT, empty, False, Matching(fill_rhs=0.0))) == {
        lbl(label="a"): 10.0, lbl(label="b"): 20.0, lbl(label="c"): 30.0}
    assert instant(binary_op("+", LEFT, empty, False, Matching(fill_lhs=0.0))) == {}


def test_fill_values_reads_prometheus_shape() -> None:
    from tsdb.query.engine.binary import fill_values

    @dataclass
    class Fill:
        lhs: float | None
        rhs: float | None

    @dataclass
    class WithFill:
        card: str = "one-to-one"
        on: bool = False
        labels: tuple[str, ...] = ()
        include: tuple[str, ...] = ()
        fill_values: Fill = field(default_factory=lambda: Fill(1.0, None))

    assert fill_values(WithFill()) == (1.0, None)  # type: ignore[arg-type]
    assert fill_values(None) == (None, None)
