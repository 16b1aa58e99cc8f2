"""Comparing an eval case's expectations with a query's value, error message and annotations."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Sequence

import numpy as np

from tsdb.labels import Labels
from tsdb.query.promqltest.script import EvalCase
from tsdb.query.value import MatrixValue, ScalarValue, StringValue, Value, VectorValue
from tsdb.storage.interfaces import STALE_NAN

SMALLEST_NORMAL = 2.2250738585072014e-308
MAX_FLOAT = 1.7976931348623157e308
EPSILON = 1e-6


def almost_equal(a: float, b: float) -> bool:
    """Go's ``almost.Equal(a, b, 1e-6)`` with the stale marker handled bit-exactly."""
    sa = struct.pack("<d", a) == struct.pack("<d", STALE_NAN)
    sb = struct.pack("<d", b) == struct.pack("<d", STALE_NAN)
    if sa or sb:
        return sa and sb
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    diff = abs(a - b)
    if a == 0 or b == 0 or abs(a) + abs(b) < SMALLEST_NORMAL:
        return diff < EPSILON * SMALLEST_NORMAL
    return diff / min(abs(a) + abs(b), MAX_FLOAT) < EPSILON

def _match_text(how: str, pattern: str, message: str) -> bool:
    if not how:
        return True
    if how == "msg":
        return message.strip() == pattern
    try:
        return re.search(pattern, message) is not None
    except re.error:
        return False


def check_fail_message(case: EvalCase, message: str) -> str:
    if case.fail_match is None:
        return ""
    how, text = case.fail_match
    if _match_text(how, text, message):
        return ""
    return f"error message {message!r} does not match {how}:{text!r}"


def check_annotations(case: EvalCase, warnings: Sequence[str], infos: Sequence[str]) -> str:
    for kind, expected, none_allowed, produced in (("warning", case.warn, case.no_warn, warnings),
                                                   ("info", case.info, case.no_info, infos)):
        rendered = [f"PromQL {kind}: {p}" for p in produced]
        if none_allowed and rendered:
            return f"unexpected {kind} annotations: {rendered}"
        if expected is None:
            continue
        if not rendered:
            return f"expected {kind} annotations, got none"
        for how, text in expected:
            if not any(_annotation_matches(how, text, r) for r in rendered):
                return f"no {kind} annotation matches {how}:{text!r}; got {rendered}"
        for r in rendered:
            if not any(_annotation_matches(how, text, r) for how, text in expected):
                return f"{kind} annotation {r!r} not expected"
    return ""


def _annotation_matches(how: str, text: str, rendered: str) -> bool:
    """Match an annotation; when the engine has no position, the expected ``(l:c)`` suffix is ignored."""
    if _match_text(how, text, rendered):
        return True
    if how == "msg":
        return re.sub(r" \(\d+:\d+\)$", "", text) == re.sub(r" \(\d+:\d+\)$", "", rendered.strip())
    if how == "regex":
        return _match_text(how, re.sub(r" ?\\\(\[?\d.*\\\)$", "", text), rendered)
    return False


# -- comparing results ------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return "stale" if struct.pack("<d", v) == struct.pack("<d", STALE_NAN) else repr(v)


def compare_result(case: EvalCase, value: Value) -> str:
    """Compare a query result with the expectations of ``case``; "" when they match, else the reason."""
    if case.string is not None:
        if not isinstance(value, StringValue):
            return f"expected string, got {type(value).__name__}"
        return "" if value.value == case.string else f"expected string {case.string!r}, got {value.value!r}"
    if case.scalar is not None:
        if not isinstance(value, ScalarValue):
            return f"expected scalar {case.scalar}, got {type(value).__name__}"
        got = float(value.values[0])
        if not almost_equal(case.scalar, got):
            return f"expected scalar {case.scalar}, got {got}"
        return ""
    if isinstance(value, ScalarValue) and not case.instant:  # a range query's scalar is a series {}
        value = VectorValue([Labels()], value.values[None, :].copy(), np.ones((1, len(value.values)), dtype=bool))
    if isinstance(value, ScalarValue | StringValue):
        return f"expected a vector, got {type(value).__name__}"
    if isinstance(value, MatrixValue):
        if case.instant and case.range_vector is None:
            return "expected an instant vector, got a range vector"
        start, end, step = case.range_vector if case.range_vector else (case.start, case.end, case.step)
        return compare_matrix(case, value.labels, value.ts, value.values, start, end, step)
    if case.instant:
        return compare_vector(case, value, 0)
    ts_list: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    steps = np.arange(case.start, case.end + 1, case.step, dtype=np.int64) if case.step else np.array(
        [case.start], dtype=np.int64)
    for i in range(value.num_series):
        mask = value.present[i]
        ts_list.append(steps[mask])
        vals.append(value.values[i][mask])
    return compare_matrix(case, value.labels, ts_list, vals, case.start, case.end, case.step)


def compare_vector(case: EvalCase, value: VectorValue, col: int) -> str:
    got: list[tuple[Labels, float]] = [(value.labels[i], float(value.values[i, col]))
                                       for i in range(value.num_series) if value.present[i, col]]
    expected = case.series
    if len(got) != len(expected) or {g[0] for g in got} != {e.labels for e in expected}:
        exp_set = {e.labels for e in expected}
        got_set = {g[0] for g in got}
        missing = sorted(str(x) for x in exp_set - got_set)
        extra = sorted(str(x) for x in got_set - exp_set)
        return f"series mismatch: missing {missing[:5]}, unexpected {extra[:5]} ({len(got)} got)"
    by_labels = {e.labels: e for e in expected}
    for idx, (labels, v) in enumerate(got):
        exp = by_labels[labels]
        if case.ordered and expected[idx].labels != labels:
            return f"order mismatch at {idx}: expected {expected[idx].labels}, got {labels}"
        if len(exp.slots) != 1 or exp.slots[0].value is None:
            return f"expected series {labels} needs one float value"
        if not almost_equal(exp.slots[0].value, v):
            return f"{labels}: expected {_fmt(exp.slots[0].value)}, got {_fmt(v)}"
    return ""


def compare_matrix(case: EvalCase, labels: list[Labels], ts: list[np.ndarray], values: list[np.ndarray],
                   start: int, end: int, step: int) -> str:
    for i in range(1, len(labels)):
        if not labels[i - 1] < labels[i]:
            return f"matrix not sorted by labels at {labels[i]}"
    got = {labels[i]: (ts[i], values[i]) for i in range(len(labels)) if len(ts[i])}
    exp_set = {e.labels for e in case.series}
    if set(got) != exp_set:
        missing = sorted(str(x) for x in exp_set - set(got))
        extra = sorted(str(x) for x in set(got) - exp_set)
        return f"series mismatch: missing {missing[:5]}, unexpected {extra[:5]}"
    for e in case.series:
        g_ts, g_vals = got[e.labels]
        exp_ts = [start + k * step for k, s in enumerate(e.slots) if s.value is not None or s.histogram]
        exp_vals = [s.value for s in e.slots if s.value is not None or s.histogram]
        if len(exp_ts) != len(g_ts) or any(int(a) != b for a, b in zip(g_ts, exp_ts, strict=False)):
            return f"{e.labels}: expected points at {exp_ts[:12]}, got {[int(x) for x in g_ts[:12]]}"
        for t, a, b in zip(exp_ts, exp_vals, g_vals, strict=True):
            if a is None or not almost_equal(a, float(b)):
                return f"{e.labels} @ {t}: expected {a}, got {_fmt(float(b))}"
    return ""


def range_point_vector_check(case: EvalCase, value: Value, t: int, start: int, step: int) -> str:
    """Take the point at ``t`` of a range-query result and compare it with the instant expectations."""
    col = (t - start) // step
    if isinstance(value, ScalarValue):
        if case.scalar is None:
            return "got a scalar"
        got = float(value.values[col])
        return "" if almost_equal(case.scalar, got) else f"expected scalar {case.scalar}, got {got}"
    if not isinstance(value, VectorValue):
        return f"got {type(value).__name__}"
    if case.scalar is not None:
        return "expected a scalar, got a vector"
    for i in range(1, value.num_series):
        if not value.labels[i - 1] < value.labels[i]:
            return f"matrix not sorted by labels at {value.labels[i]}"
    return compare_vector(case, value, col)
