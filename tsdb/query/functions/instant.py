"""PromQL functions over instant vectors: math, trig, time/date, labels, sorting, classic histograms.

Every function takes a :class:`VectorValue` over the step grid (and per-step scalar parameters as
``float64[steps]`` arrays) and returns a new one; inputs are never modified. Semantics follow
Prometheus's promql/functions.go and quantile.go (float samples only). The ``call_*`` functions at the end
are the entries of the function table (:mod:`tsdb.query.functions.table`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cmp_to_key
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.errors import QueryError
from tsdb.labels import EMPTY_LABELS, Labels, Matcher, MatchType, compare_labels, compile_anchored
from tsdb.query.functions.context import EvalContext
from tsdb.query.parser.nodes import node_kind, selector_matchers
from tsdb.query.value import ScalarValue, StepArray, Value, VectorValue, go_float

FloatArray = npt.NDArray[np.float64]


def _sgn(x: FloatArray) -> FloatArray:
    return np.where(np.isnan(x), x, np.sign(x))


MATH_FUNCTIONS: dict[str, Callable[[FloatArray], FloatArray]] = {
    "abs": np.abs, "ceil": np.ceil, "floor": np.floor, "exp": np.exp, "sqrt": np.sqrt, "ln": np.log,
    "log2": np.log2, "log10": np.log10, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin,
    "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "rad": np.radians, "deg": np.degrees,
    "sgn": _sgn,
}
"""Element-wise float functions (they drop the metric name)."""


def with_values(vec: VectorValue, values: FloatArray, drop_name: bool = True,
                present: npt.NDArray[np.bool_] | None = None) -> VectorValue:
    """A copy of ``vec`` with new values (and optionally presence), marking names for removal."""
    names = np.ones(vec.num_series, dtype=bool) if drop_name else vec.drop_name.copy()
    return VectorValue(list(vec.labels), values, vec.present.copy() if present is None else present, names)


def apply_math(name: str, vec: VectorValue) -> VectorValue:
    """An element-wise math function (``abs``, ``ln``, ``sin``, ...)."""
    with np.errstate(all="ignore"):
        return with_values(vec, MATH_FUNCTIONS[name](vec.values).astype(np.float64))


def round_to(vec: VectorValue, to_nearest: FloatArray) -> VectorValue:
    """``round(v, to_nearest)``: ties round up, as Prometheus does (via the inverse)."""
    with np.errstate(all="ignore"):
        inverse = 1.0 / to_nearest[None, :]
        return with_values(vec, np.floor(vec.values * inverse + 0.5) / inverse)


def clamp(vec: VectorValue, lo: FloatArray | None, hi: FloatArray | None) -> VectorValue:
    """``clamp``/``clamp_min``/``clamp_max``; with ``lo > hi`` the result is empty at that step."""
    values = vec.values
    present = vec.present.copy()
    if lo is not None and hi is not None:
        present &= ~(lo > hi)[None, :]
    if lo is not None:
        values = np.where(np.isnan(values), values, np.maximum(values, lo[None, :]))
        values = np.where(np.isnan(lo)[None, :], np.nan, values)
    if hi is not None:
        values = np.where(np.isnan(values), values, np.minimum(values, hi[None, :]))
        values = np.where(np.isnan(hi)[None, :], np.nan, values)
    return with_values(vec, values, present=present)


# -- time and date -------------------------------------------------------------------------------
# Go's time package counts seconds from an "absolute" epoch, 1 January of year -292277022399, in uint64; a Unix
# second s is absolute second (s + _UNIX_TO_ABSOLUTE) mod 2**64. Computing dates the same way gives Go's answers
# for every input, including the wrapped-around ones Prometheus returns for absurd timestamps (1e21 seconds).
_ABSOLUTE_ZERO_YEAR = -292277022399
_UNIX_TO_ABSOLUTE = np.uint64(9223372028715321600)  # days from the absolute epoch to 1970 x 86,400
_DAYS_400, _DAYS_100, _DAYS_4 = np.uint64(146097), np.uint64(36524), np.uint64(1461)
_DAYS_BEFORE = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365], dtype=np.int64)
_INT64_LIMIT = 2.0**63


def _civil(values: FloatArray) -> tuple[npt.NDArray[np.int64], ...]:
    """(year, month, day, hour, minute, day_of_week, day_of_year) of Unix seconds (UTC), as Go computes them."""
    # Go's int64(f) truncates towards zero; out of range, NaN and ±Inf give the minimum int64 (amd64), and
    # Prometheus converts without checking, so those get the date of that second too
    inside = np.abs(values) < _INT64_LIMIT  # False for NaN and ±Inf
    secs = np.where(inside, np.trunc(np.where(inside, values, 0.0)), -_INT64_LIMIT).astype(np.int64)
    absolute = secs.view(np.uint64) + _UNIX_TO_ABSOLUTE  # wraps around modulo 2**64, as Go's does
    day_secs = (absolute % np.uint64(86_400)).astype(np.int64)
    dow = ((absolute + np.uint64(86_400)) % np.uint64(604_800) // np.uint64(86_400)).astype(np.int64)
    d = absolute // np.uint64(86_400)
    n = d // _DAYS_400
    y = np.uint64(400) * n
    d -= _DAYS_400 * n
    n = d // _DAYS_100
    n -= n >> np.uint64(2)
    y += np.uint64(100) * n
    d -= _DAYS_100 * n
    n = d // _DAYS_4
    y += np.uint64(4) * n
    d -= _DAYS_4 * n
    n = d // np.uint64(365)
    n -= n >> np.uint64(2)
    y += n
    d -= np.uint64(365) * n
    years = y.astype(np.int64) + _ABSOLUTE_ZERO_YEAR
    yday = d.astype(np.int64)
    leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
    # day of year without 29 February, then month by the common-year table
    feb29 = leap & (yday == 59)
    plain = np.where(leap & (yday > 59), yday - 1, yday)
    months = np.searchsorted(_DAYS_BEFORE, plain, side="right")  # 1..12
    day = plain - _DAYS_BEFORE[months - 1] + 1
    months = np.where(feb29, 2, months)
    day = np.where(feb29, 29, day)
    return years, months, day, day_secs // 3600, (day_secs % 3600) // 60, dow, yday + 1


def date_function(name: str, values: FloatArray) -> FloatArray:
    """A date function of Unix seconds, as Prometheus computes it (see :func:`_civil` for absurd inputs)."""
    years, months, day, hour, minute, dow, doy = _civil(values)
    if name == "year":
        out = years
    elif name == "month":
        out = months
    elif name == "day_of_month":
        out = day
    elif name == "day_of_week":
        out = dow
    elif name == "day_of_year":
        out = doy
    elif name == "hour":
        out = hour
    elif name == "minute":
        out = minute
    elif name == "days_in_month":
        leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
        out = np.diff(_DAYS_BEFORE)[months - 1] + (leap & (months == 2))
    else:
        raise QueryError(f"unknown date function {name!r}")
    return out.astype(np.float64)


# -- labels --------------------------------------------------------------------------------------
def label_replace(vec: VectorValue, dst: str, replacement: str, src: str, regex: str) -> VectorValue:
    """``label_replace``: when ``regex`` fully matches the ``src`` value, set ``dst`` to the expansion."""
    try:
        pattern = compile_anchored(regex)
    except Exception as err:
        raise QueryError(f"invalid regular expression in label_replace(): {regex}") from err
    if not _valid_label_name(dst):
        raise QueryError(f"invalid destination label name in label_replace(): {dst}")
    template = _go_template(replacement)
    labels: list[Labels] = []
    drop = vec.drop_name.copy()
    for i, lbls in enumerate(vec.labels):
        m = pattern.fullmatch(lbls.get(src, ""))
        if m is None:
            labels.append(lbls)
            continue
        value = template(m)
        labels.append(lbls.with_labels({dst: value}))
        if dst == "__name__":
            drop[i] = False
    return VectorValue(labels, vec.values.copy(), vec.present.copy(), drop)


def label_join(vec: VectorValue, dst: str, sep: str, srcs: list[str]) -> VectorValue:
    """``label_join``: ``dst`` becomes the values of ``srcs`` joined by ``sep``."""
    if not _valid_label_name(dst):
        raise QueryError(f"invalid destination label name in label_join(): {dst}")
    drop = vec.drop_name.copy()
    labels: list[Labels] = []
    for i, lbls in enumerate(vec.labels):
        labels.append(lbls.with_labels({dst: sep.join(lbls.get(s, "") for s in srcs)}))
        if dst == "__name__":
            drop[i] = False
    return VectorValue(labels, vec.values.copy(), vec.present.copy(), drop)


def _valid_label_name(name: str) -> bool:
    """UTF-8 label names (Prometheus 3.x); the parser keeps invalid UTF-8 bytes as lone surrogates."""
    return bool(name) and not any("\ud800" <= c <= "\udfff" for c in name)


_GO_GROUP = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+)|(\$))")


def _go_template(replacement: str) -> Callable[[re.Match[str]], str]:
    """Go's Regexp.Expand: ``$1``, ``${name}``, ``$$``; an unknown group expands to ""."""

    def expand(m: re.Match[str]) -> str:
        def sub(g: re.Match[str]) -> str:
            if g.group(3):
                return "$"
            key = g.group(1) or g.group(2)
            try:
                value = m.group(int(key)) if key.isdigit() else m.group(key)
            except (IndexError, re.error):
                return ""
            return value or ""

        return _GO_GROUP.sub(sub, replacement)

    return expand


# -- sorting -------------------------------------------------------------------------------------
def sort_rows(vec: VectorValue, descending: bool) -> VectorValue:
    """Rows ordered by the value at step 0 (instant queries); NaN last either way."""
    values = vec.values[:, 0] if vec.values.shape[1] else np.zeros(vec.num_series)
    nan = np.isnan(values)
    key = -values if descending else values
    order = np.lexsort((key, nan))
    return vec.select_rows(order)


def _natural_less(a: str, b: str) -> bool:
    """natsort.Compare: digit runs compared numerically, the rest bytewise."""
    parts_a = re.findall(r"\d+|\D+", a)
    parts_b = re.findall(r"\d+|\D+", b)
    for x, y in zip(parts_a, parts_b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            if int(x) != int(y):
                return int(x) < int(y)
            return len(x) < len(y)
        return x < y
    return len(parts_a) < len(parts_b)


def sort_by_label(vec: VectorValue, names: list[str], descending: bool) -> VectorValue:
    """``sort_by_label[_desc]``: natural order on the given labels, then the full label set."""

    def cmp(i: int, j: int) -> int:
        a, b = vec.labels[i], vec.labels[j]
        for name in names:
            va, vb = a.get(name, ""), b.get(name, "")
            if va == vb:
                continue
            less = _natural_less(va, vb)
            return (-1 if less else 1) * (-1 if descending else 1)
        return compare_labels(a, b) * (-1 if descending else 1)

    order = sorted(range(vec.num_series), key=cmp_to_key(cmp))
    return vec.select_rows(order)


# -- absent --------------------------------------------------------------------------------------
def absent_labels(matchers: list[Matcher]) -> Labels:
    """The labels ``absent()`` gives its result: the equality matchers (not on the name) used once."""
    values: dict[str, str] = {}
    seen: set[str] = set()
    for m in matchers:
        if m.name == "__name__":
            continue
        if m.type is MatchType.EQUAL and m.name not in seen:
            values[m.name] = m.value
            seen.add(m.name)
        else:
            values.pop(m.name, None)
            seen.add(m.name)
    return Labels(values)


# -- classic histograms ------------------------------------------------------------------------------
SMALL_DELTA_TOLERANCE = 1e-12


def _coalesce(buckets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for upper, count in buckets:
        if out and out[-1][0] == upper:
            out[-1] = (upper, out[-1][1] + count)
        else:
            out.append((upper, count))
    return out


def _go_div(num: float, den: float) -> float:
    """``num / den`` with IEEE 754 semantics as Go computes it (x/0 is ±Inf, 0/0 is NaN), never an exception."""
    if den == 0:
        if num == 0 or math.isnan(num):
            return math.nan
        return math.copysign(math.inf, num) * math.copysign(1.0, den)
    return num / den


def _fix_precision(counts: list[float], tolerance: float) -> None:
    """Prometheus's correctPrecisionErrors: a count within ``tolerance`` (relative) of the previous one is
    set equal to it, so float noise from aggregation does not look like a decrease."""
    prev = counts[0]
    for i in range(1, len(counts)):
        curr = counts[i]
        delta = abs(curr - prev)
        if delta == 0:
            continue
        if _go_div(delta, curr) <= tolerance:
            counts[i] = prev
        else:
            prev = curr


def _ensure_monotonic(counts: list[float]) -> bool:
    """Prometheus's ensureMonotonic: the running maximum of the counts (True when any count was raised)."""
    forced = False
    top = counts[0]
    for i in range(1, len(counts)):
        if counts[i] > top:
            top = counts[i]
        elif counts[i] < top:
            counts[i] = top
            forced = True
    return forced


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> tuple[float, bool]:
    """Prometheus's bucketQuantile over (upper bound, cumulative count): (quantile, forced monotonic).

    NaN for NaN φ, fewer than two buckets, no ``+Inf`` bucket or no observations; -Inf / +Inf for φ below 0 /
    above 1; an empty bucket that holds the rank gives NaN (0/0) exactly as Prometheus does."""
    if math.isnan(q):
        return math.nan, False
    if q < 0:
        return -math.inf, False
    if q > 1:
        return math.inf, False
    buckets = sorted(buckets, key=lambda b: b[0])
    if not (math.isinf(buckets[-1][0]) and buckets[-1][0] > 0):
        return math.nan, False
    buckets = _coalesce(buckets)
    counts = [c for _, c in buckets]
    _fix_precision(counts, SMALL_DELTA_TOLERANCE)
    forced = _ensure_monotonic(counts)
    if len(buckets) < 2:
        return math.nan, False
    observations = counts[-1]
    if observations == 0:
        return math.nan, False
    rank = q * observations
    b = len(buckets) - 1
    for i in range(len(buckets) - 1):
        if counts[i] >= rank:
            b = i
            break
    if b == len(buckets) - 1:
        return buckets[-2][0], forced
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0], forced
    start = 0.0
    end = buckets[b][0]
    count = counts[b]
    if b > 0:
        start = buckets[b - 1][0]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * _go_div(rank, count), forced


def bucket_fraction(lower: float, upper: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus's BucketFraction: the estimated fraction of observations in ``[lower, upper]``."""
    buckets = sorted(buckets, key=lambda b: b[0])
    if not (math.isinf(buckets[-1][0]) and buckets[-1][0] > 0):
        return math.nan
    buckets = _coalesce(buckets)
    count = buckets[-1][1]
    if count == 0 or math.isnan(lower) or math.isnan(upper):
        return math.nan
    if lower >= upper:
        return 0.0
    rank = lower_rank = upper_rank = 0.0
    lower_set = upper_set = False
    lower_bound = -math.inf if buckets[0][0] <= 0 else 0.0
    for i, (upper_bound, bcount) in enumerate(buckets):
        if i > 0:
            lower_bound = buckets[i - 1][0]

        def interpolate(v: float, lb: float = lower_bound, ub: float = upper_bound, bc: float = bcount,
                        r: float = rank) -> float:
            if lb == -math.inf:
                return bc
            return r + (bc - r) * (v - lb) / (ub - lb)

        if not lower_set and lower_bound >= lower:
            lower_rank, lower_set = rank, True
        if not upper_set and lower_bound >= upper:
            upper_rank, upper_set = rank, True
        if lower_set and upper_set:
            break
        if not lower_set and lower_bound < lower < upper_bound:
            lower_rank, lower_set = interpolate(lower), True
        if not upper_set and lower_bound < upper < upper_bound:
            upper_rank, upper_set = interpolate(upper), True
        if lower_set and upper_set:
            break
        rank = bcount
    if not lower_set or lower_rank > count:
        lower_rank = count
    if not upper_set or upper_rank > count:
        upper_rank = count
    return (upper_rank - lower_rank) / count


def _parse_le(value: str) -> float | None:
    text = value.strip()
    try:
        return float(text.replace("_", "")) if text else None
    except ValueError:
        lowered = text.lower().lstrip("+-")
        if lowered in ("inf", "infinity"):
            return -math.inf if text.startswith("-") else math.inf
        return None


def histogram_buckets(vec: VectorValue, warn: Callable[[str], None],
                      ) -> tuple[list[Labels], list[list[tuple[int, float]]]]:
    """Group classic bucket series by their labels without ``le``: (group labels, [(row, le)])."""
    groups: dict[Labels, list[tuple[int, float]]] = {}
    for row, lbls in enumerate(vec.labels):
        le = _parse_le(lbls.get("le", ""))
        if le is None:
            if vec.present[row].any():
                warn(f'bucket label "le" is missing or has a malformed value of {lbls.get("le", "")!r}'
                     .replace("'", '"') + f' for metric name "{lbls.metric_name}"')
            continue
        groups.setdefault(lbls.without(("le",)), []).append((row, le))
    return list(groups), list(groups.values())


def histogram_quantile(q: FloatArray, vec: VectorValue, warn: Callable[[str], None],
                       info: Callable[[str], None]) -> VectorValue:
    """``histogram_quantile(q, buckets)`` on classic ``le`` buckets, per step."""
    return _per_group(vec, warn, lambda k, b: bucket_quantile(float(q[k]), b), info, "quantile")


def histogram_fraction(lower: FloatArray, upper: FloatArray, vec: VectorValue,
                       warn: Callable[[str], None]) -> VectorValue:
    """``histogram_fraction(lower, upper, buckets)`` on classic ``le`` buckets, per step."""
    return _per_group(vec, warn, lambda k, b: (bucket_fraction(float(lower[k]), float(upper[k]), b), False),
                      None, "fraction")


def _per_group(vec: VectorValue, warn: Callable[[str], None],
               fn: Callable[[int, list[tuple[float, float]]], tuple[float, bool]],
               info: Callable[[str], None] | None, what: str) -> VectorValue:
    group_labels, members = histogram_buckets(vec, warn)
    steps = vec.values.shape[1]
    out = np.zeros((len(group_labels), steps))
    present = np.zeros((len(group_labels), steps), dtype=bool)
    forced_names: list[str] = []
    for g, rows in enumerate(members):
        for k in range(steps):
            buckets = [(le, float(vec.values[row, k])) for row, le in rows if vec.present[row, k]]
            if not buckets:
                continue
            value, forced = fn(k, buckets)
            out[g, k] = value
            present[g, k] = True
            if forced and info is not None:
                forced_names.append(group_labels[g].metric_name)
    if info is not None:
        for name in dict.fromkeys(forced_names):
            info("input to histogram_quantile needed to be fixed for monotonicity (see "
                 "https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)"
                 + (f' for metric name "{name}"' if name else ""))
    return VectorValue(group_labels, out, present, np.ones(len(group_labels), dtype=bool)).without_empty_rows()



def openmetrics_float(value: float) -> str:
    """Go's labels.FormatOpenMetricsFloat: ``1.0``, ``0.25``, ``NaN``, ``+Inf``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    if "e" in text:
        mantissa, exp = text.split("e")
        mantissa = mantissa.removesuffix(".0")
        text = f"{mantissa}e{'-' if exp.startswith('-') else '+'}{abs(int(exp)):02d}"
    return text


def concat(parts: list[VectorValue], num_steps: int) -> VectorValue:
    """The rows of several vectors, in order."""
    if not parts:
        return VectorValue.empty(num_steps)
    return VectorValue([lbls for p in parts for lbls in p.labels],
                       np.concatenate([p.values for p in parts]).reshape(-1, num_steps),
                       np.concatenate([p.present for p in parts]).reshape(-1, num_steps),
                       np.concatenate([p.drop_name for p in parts]))


# -- implementations: the function table's entries for functions without a range-vector argument ----------
def call_time(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    return ScalarValue(steps / 1000.0)


def call_pi(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    return ScalarValue(np.full(len(steps), math.pi))


def call_query_time(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    """``start()``, ``end()``, ``range()``, ``step()``: the query's own times in seconds."""
    k = len(steps)
    value = {"start": ev.start_ms / 1000.0, "end": ev.end_ms / 1000.0,
             "range": (ev.end_ms - ev.start_ms) / 1000.0,
             "step": float(steps[1] - steps[0]) / 1000.0 if k > 1 else 0.0}[name]
    return ScalarValue(np.full(k, value))


def call_min_max_of(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    a, b = (ev.scalar_arg(x, steps) for x in args[:2])
    return ScalarValue(np.minimum(a, b) if name == "min_of" else np.maximum(a, b))


def call_vector(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    scalar = ev.scalar_arg(args[0], steps)
    return VectorValue([EMPTY_LABELS], scalar[None, :].copy(), np.ones((1, len(steps)), dtype=bool))


def call_scalar(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    k = len(steps)
    vec = ev.vector_arg(args[0], steps)
    count = vec.present.sum(axis=0)
    total = np.where(vec.present, vec.values, 0.0).sum(axis=0) if vec.num_series else np.zeros(k)
    if vec.num_series:
        first = vec.values[np.argmax(vec.present, axis=0), np.arange(k)]
        total = np.where(count == 1, first, total)
    return ScalarValue(np.where(count == 1, total, np.nan))


def call_date(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    """``year()``, ``hour(v)``, ...: of the argument's values, or of the step times without one."""
    if args:
        vec = ev.vector_arg(args[0], steps)
    else:
        vec = VectorValue([EMPTY_LABELS], (steps / 1000.0)[None, :], np.ones((1, len(steps)), dtype=bool))
    return with_values(vec, date_function(name, vec.values))


def call_timestamp(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    arg = args[0]
    if node_kind(arg) == "VectorSelector":
        vec, sample_ts = ev.instant_select(arg, steps)
        return with_values(vec, sample_ts / 1000.0)
    vec = ev.vector_arg(arg, steps)
    return with_values(vec, np.broadcast_to(steps / 1000.0, vec.values.shape).copy())


def call_absent(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    vec = ev.vector_arg(args[0], steps)
    missing = ~vec.present.any(axis=0)
    arg = args[0]
    lbls = absent_labels(selector_matchers(arg)) if node_kind(arg) == "VectorSelector" else EMPTY_LABELS
    out = VectorValue([lbls], np.ones((1, len(steps))), np.asarray(missing).reshape(1, -1), np.ones(1, dtype=bool))
    return out.without_empty_rows()


def call_math(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    return apply_math(name, ev.vector_arg(args[0], steps))


def call_round(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    vec = ev.vector_arg(args[0], steps)
    to_nearest = ev.scalar_arg(args[1], steps) if len(args) > 1 else np.ones(len(steps))
    return round_to(vec, to_nearest)


def call_clamp(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    """``clamp``, ``clamp_min``, ``clamp_max``."""
    vec = ev.vector_arg(args[0], steps)
    if name == "clamp":
        return clamp(vec, ev.scalar_arg(args[1], steps), ev.scalar_arg(args[2], steps))
    bound = ev.scalar_arg(args[1], steps)
    return clamp(vec, bound if name == "clamp_min" else None, bound if name == "clamp_max" else None)


def call_label_replace(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    vec = ev.vector_arg(args[0], steps)
    dst, repl, src, regex = (ev.string_arg(a, steps) for a in args[1:5])
    return label_replace(vec, dst, repl, src, regex)


def call_label_join(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    vec = ev.vector_arg(args[0], steps)
    strings = [ev.string_arg(a, steps) for a in args[1:]]
    return label_join(vec, strings[0], strings[1], strings[2:])


def call_sort(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    """``sort``, ``sort_desc``, ``sort_by_label``, ``sort_by_label_desc`` (no-ops for range queries)."""
    vec = ev.vector_arg(args[0], steps)
    if len(steps) > 1 or ev.start_ms != ev.end_ms:
        ev.annotations.warn("sort is ineffective for range queries since results are always "
                            "ordered by labels")
        return vec
    if name in ("sort", "sort_desc"):
        return sort_rows(vec, name == "sort_desc")
    names = [ev.string_arg(a, steps) for a in args[1:]]
    return sort_by_label(vec, names, name.endswith("_desc"))


def _warn_quantiles(ev: EvalContext, q: FloatArray) -> None:
    for bad in dict.fromkeys(q[np.isnan(q) | (q < 0) | (q > 1)].tolist()):
        ev.annotations.warn(f"quantile value should be between 0 and 1, got {go_float(bad)}")


def call_histogram_quantile(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    q = ev.scalar_arg(args[0], steps)
    vec = ev.vector_arg(args[1], steps)
    _warn_quantiles(ev, q)
    return histogram_quantile(q, vec, ev.annotations.warn, ev.annotations.info)


def call_histogram_quantiles(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    vec = ev.vector_arg(args[0], steps)
    label = ev.string_arg(args[1], steps)
    parts: list[VectorValue] = []
    for arg in args[2:]:
        q = ev.scalar_arg(arg, steps)
        _warn_quantiles(ev, q)
        part = histogram_quantile(q, vec, ev.annotations.warn, ev.annotations.info)
        text = openmetrics_float(float(q[0]))
        parts.append(VectorValue([lbls.with_labels({label: text}) for lbls in part.labels], part.values,
                                 part.present, part.drop_name))
    return concat(parts, len(steps))


def call_histogram_fraction(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    lower = ev.scalar_arg(args[0], steps)
    upper = ev.scalar_arg(args[1], steps)
    return histogram_fraction(lower, upper, ev.vector_arg(args[2], steps), ev.annotations.warn)


def call_native_histogram(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    """``histogram_count`` etc.: tsdb stores no native histograms, so the result is always empty."""
    ev.vector_arg(args[0], steps)
    return VectorValue.empty(len(steps))
