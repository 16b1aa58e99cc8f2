"""Per-step pure-Python references for tsdb.query.engine.aggregate(_kernels) and tsdb.query.engine.binary.

Each function walks the steps one by one and the series one by one, transcribing Prometheus's
``promql/engine.go`` (``aggregation``, ``aggregationK``, ``aggregationCountValues``, ``VectorBinop``,
``VectorAnd/Or/Unless``) on plain Python floats and dicts. Results are ``{labels: {step: value}}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tests.reference.kahan import kahan_inc
from tsdb.errors import QueryError
from tsdb.labels import METRIC_NAME, Labels

Series = tuple[Labels, list[float | None]]
"""A series: labels and per step a value, None when absent."""

Result = dict[Labels, dict[int, float]]

ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})


def group_key(lbls: Labels, grouping: Sequence[str], without: bool) -> Labels:
    if without:
        return lbls.without((*grouping, METRIC_NAME))
    return lbls.keep(grouping)


def _step_samples(series: Sequence[Series], t: int) -> list[tuple[Labels, float]]:
    return [(lbls, vals[t]) for lbls, vals in series if vals[t] is not None]  # type: ignore[misc]


def ref_basic(op: str, series: Sequence[Series], grouping: Sequence[str], without: bool,
              num_steps: int, q: Sequence[float] = ()) -> Result:
    """sum/avg/count/group/min/max/stddev/stdvar/quantile, one step at a time."""
    out: Result = {}
    for t in range(num_steps):
        groups: dict[Labels, dict[str, object]] = {}
        for lbls, f in _step_samples(series, t):
            key = group_key(lbls, grouping, without)
            g = groups.get(key)
            if g is None:
                g = {"value": f, "mean": f, "c": 0.0, "n": 1.0, "inc": False, "list": [f]}
                if op in ("stddev", "stdvar"):
                    g["value"] = math.nan if (math.isnan(f) or math.isinf(f)) else 0.0
                elif op == "group":
                    g["value"] = 1.0
                groups[key] = g
                continue
            v, c, n, mean = float(g["value"]), float(g["c"]), float(g["n"]), float(g["mean"])  # type: ignore[arg-type]
            if op == "sum":
                g["value"], g["c"] = kahan_inc(f, v, c)
            elif op == "avg":
                n += 1
                g["n"] = n
                if not g["inc"]:
                    nv, nc = kahan_inc(f, v, c)
                    if not math.isinf(nv):
                        g["value"], g["c"] = nv, nc
                        continue
                    g["inc"] = True
                    mean = v / (n - 1)
                    c = c / (n - 1)
                qq = (n - 1) / n
                g["mean"], g["c"] = kahan_inc(f / n, qq * mean, qq * c)
            elif op == "count":
                g["n"] = n + 1
            elif op == "max":
                if v < f or math.isnan(v):
                    g["value"] = f
            elif op == "min":
                if v > f or math.isnan(v):
                    g["value"] = f
            elif op in ("stddev", "stdvar"):
                n += 1
                delta = f - mean
                mean += delta / n
                g["n"], g["mean"] = n, mean
                g["value"] = v + delta * (f - mean)
            elif op == "quantile":
                g["list"].append(f)  # type: ignore[attr-defined]
        for key, g in groups.items():
            v, c, n = float(g["value"]), float(g["c"]), float(g["n"])  # type: ignore[arg-type]
            if op == "sum":
                res = v + c
            elif op == "avg":
                res = float(g["mean"]) + c if g["inc"] else v / n + c / n  # type: ignore[arg-type]
            elif op == "count":
                res = n
            elif op == "stdvar":
                res = v / n
            elif op == "stddev":
                res = math.sqrt(v / n) if v / n >= 0 else math.nan  # as Go's math.Sqrt: NaN below 0
            elif op == "quantile":
                res = ref_quantile(float(q[t]), list(g["list"]))  # type: ignore[call-overload]
            else:
                res = v
            out.setdefault(key, {})[t] = res
    return out


def ref_quantile(q: float, values: list[float]) -> float:
    """Prometheus's quantile(): NaNs sort first, linear interpolation between closest ranks."""
    if not values or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    nans = [v for v in values if math.isnan(v)]
    ordered = nans + sorted(v for v in values if not math.isnan(v))
    n = len(ordered)
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def _less(a: float, b: float, bottom: bool) -> bool:
    if math.isnan(a):
        return True
    return a > b if bottom else a < b


def _up(h: list[tuple[Labels, float]], j: int, bottom: bool) -> None:
    while True:
        i = (j - 1) // 2 if j > 0 else 0
        if i == j or not _less(h[j][1], h[i][1], bottom):
            break
        h[i], h[j] = h[j], h[i]
        j = i


def _down(h: list[tuple[Labels, float]], i0: int, bottom: bool) -> bool:
    i, n = i0, len(h)
    while True:
        j1 = 2 * i + 1
        if j1 >= n:
            break
        j = j1
        if j1 + 1 < n and _less(h[j1 + 1][1], h[j1][1], bottom):
            j = j1 + 1
        if not _less(h[j][1], h[i][1], bottom):
            break
        h[i], h[j] = h[j], h[i]
        i = j
    return i > i0


def ref_topk(op: str, series: Sequence[Series], grouping: Sequence[str], without: bool,
             num_steps: int, k: Sequence[float]) -> Result:
    """topk/bottomk by replaying Go's container/heap, one step at a time."""
    bottom = op == "bottomk"
    out: Result = {}
    for t in range(num_steps):
        kt = min(int(k[t]), len(series))
        if kt < 1:
            continue
        heaps: dict[Labels, list[tuple[Labels, float]]] = {}
        for lbls, f in _step_samples(series, t):
            h = heaps.setdefault(group_key(lbls, grouping, without), [])
            if len(h) < kt:
                h.append((lbls, f))
                _up(h, len(h) - 1, bottom)
                continue
            top = h[0][1]
            better = (top > f if bottom else top < f) or (math.isnan(top) and not math.isnan(f))
            if better:
                h[0] = (lbls, f)
                if kt > 1 and not _down(h, 0, bottom):
                    _up(h, 0, bottom)
        for h in heaps.values():
            for lbls, f in h:
                out.setdefault(lbls, {})[t] = f
    return out


def ref_limitk(series: Sequence[Series], grouping: Sequence[str], without: bool, num_steps: int,
               k: Sequence[float]) -> Result:
    out: Result = {}
    for t in range(num_steps):
        kt = min(int(k[t]), len(series))
        if kt < 1:
            continue
        taken: dict[Labels, int] = {}
        for lbls, f in _step_samples(series, t):
            key = group_key(lbls, grouping, without)
            if taken.get(key, 0) < kt:
                taken[key] = taken.get(key, 0) + 1
                out.setdefault(lbls, {})[t] = f
    return out


def ref_count_values(series: Sequence[Series], grouping: Sequence[str], without: bool, num_steps: int,
                     label: str, fmt: object) -> Result:
    """count_values with ``fmt`` formatting a value as Go's FormatFloat(f, 'f', -1, 64)."""
    names = list(grouping) if without else sorted({*grouping, label})
    out: Result = {}
    for t in range(num_steps):
        counts: dict[Labels, int] = {}
        for lbls, f in _step_samples(series, t):
            metric = lbls.with_labels({label: fmt(f)})  # type: ignore[operator]
            key = group_key(metric, names, without)
            counts[key] = counts.get(key, 0) + 1
        for key, n in counts.items():
            out.setdefault(key, {})[t] = float(n)
    return out


# -- binary operators --------------------------------------------------------------------------------------
def _sig(lbls: Labels, on: bool, names: Sequence[str]) -> Labels:
    return lbls.keep(names) if on else lbls.without((*names, METRIC_NAME))


def elem_op(op: str, a: float, b: float) -> tuple[float, bool]:
    """Prometheus's vectorElemBinop for floats, on Python's math module."""
    if op == "+":
        return a + b, True
    if op == "-":
        return a - b, True
    if op == "*":
        return a * b, True
    if op == "/":
        if b == 0:
            if a == 0 or math.isnan(a):
                return math.nan, True
            return math.copysign(math.inf, a) * math.copysign(1.0, b), True
        return a / b, True
    if op == "%":
        if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
            return math.nan, True
        return math.fmod(a, b), True
    if op == "^":
        odd = math.isfinite(b) and b == math.floor(b) and int(b) % 2 == 1
        try:
            return math.pow(a, b), True
        except OverflowError:
            return (-math.inf if a < 0 and odd else math.inf), True
        except ValueError:
            if a == 0:
                return (math.copysign(math.inf, a) if odd else math.inf), True
            return math.nan, True
    if op == "atan2":
        return math.atan2(a, b), True
    cmp = {"==": a == b, "!=": a != b, ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]
    return a, cmp


def ref_vector_binop(op: str, lhs: Sequence[Series], rhs: Sequence[Series], return_bool: bool, card: str,
                     on: bool, names: Sequence[str], include: Sequence[str], num_steps: int,
                     fill_lhs: float | None = None, fill_rhs: float | None = None) -> Result:
    """VectorBinop / VectorAnd / VectorOr / VectorUnless one step at a time (errors as QueryError)."""
    out: Result = {}
    has_fill = fill_lhs is not None or fill_rhs is not None
    for t in range(num_steps):
        ls_ = _step_samples(lhs, t)
        rs_ = _step_samples(rhs, t)
        step: list[tuple[Labels, float]] = []
        if op in ("and", "unless"):
            rsigs = {_sig(lb, on, names) for lb, _ in rs_}
            want = op == "and"
            step = [(lb, f) for lb, f in ls_ if (_sig(lb, on, names) in rsigs) == want]
        elif op == "or":
            lsigs = {_sig(lb, on, names) for lb, _ in ls_}
            step = list(ls_) + [(lb, f) for lb, f in rs_ if _sig(lb, on, names) not in lsigs]
        elif (ls_ or rs_) and ((ls_ and rs_) or has_fill):
            step = _ref_binop_step(op, ls_, rs_, return_bool, card, on, names, include, fill_lhs, fill_rhs)
        for lb, f in step:
            row = out.setdefault(lb, {})
            if t in row:
                raise QueryError("vector cannot contain metrics with the same labelset")
            row[t] = f
    return out


def _ref_binop_step(op: str, ls_: list[tuple[Labels, float]], rs_: list[tuple[Labels, float]], return_bool: bool,
                    card: str, on: bool, names: Sequence[str], include: Sequence[str], fill_lhs: float | None,
                    fill_rhs: float | None) -> list[tuple[Labels, float]]:
    swapped = card == "one-to-many"
    many, one = (rs_, ls_) if swapped else (ls_, rs_)
    right: dict[Labels, tuple[Labels, float]] = {}
    for lb, f in one:
        s = _sig(lb, on, names)
        if s in right:
            raise QueryError("found duplicate series for the match group")
        right[s] = (lb, f)
    matched: dict[Labels, set[Labels]] = {}
    step: list[tuple[Labels, float]] = []

    def do(lb: Labels, f: float, rlb: Labels, rf: float, s: Labels) -> None:
        fl, fr = (rf, f) if swapped else (f, rf)
        value, keep = elem_op(op, fl, fr)
        if return_bool:
            value, keep = float(keep), True
        metric = lb.without(("__name__", "__type__", "__unit__")) if op in ARITHMETIC else lb
        if card == "one-to-one":
            metric = metric.keep(names) if on else metric.without(names)
        if include:
            metric = metric.with_labels({n: rlb.get(n, "") for n in include})
        seen = matched.setdefault(s, set())
        if card == "one-to-one":
            if seen:
                raise QueryError("multiple matches for labels: many-to-one matching must be explicit")
        elif metric in seen:
            raise QueryError("multiple matches for labels: grouping labels must ensure unique matches")
        seen.add(metric)
        if keep:
            step.append((metric, value))

    for lb, f in many:
        s = _sig(lb, on, names)
        if s in right:
            rlb, rf = right[s]
        elif fill_rhs is not None:
            rlb, rf = _sig(lb, on, names), fill_rhs
        else:
            continue
        do(lb, f, rlb, rf, s)
    if fill_lhs is not None:
        for rlb, rf in one:
            s = _sig(rlb, on, names)
            if matched.get(s):
                continue
            do(_sig(rlb, on, names), fill_lhs, rlb, rf, s)
    return step


# -- grouping kernels used by vector matching ------------------------------------------------------------------
def ref_count_by_key(keys: Sequence[int], mask: Sequence[Sequence[bool]], n_keys: int, steps: int
                     ) -> list[list[int]]:
    out = [[0] * steps for _ in range(n_keys)]
    for r, k in enumerate(keys):
        for t in range(steps):
            out[k][t] += int(bool(mask[r][t]))
    return out


def ref_last_row_by_key(keys: Sequence[int], mask: Sequence[Sequence[bool]], n_keys: int, steps: int
                        ) -> list[list[int]]:
    out = [[-1] * steps for _ in range(n_keys)]
    for r, k in enumerate(keys):
        for t in range(steps):
            if mask[r][t]:
                out[k][t] = r
    return out


def ref_match_partners(sig: Sequence[int], present: Sequence[Sequence[bool]], idx_one: Sequence[Sequence[int]]
                       ) -> tuple[list[int], list[bool], list[list[bool]]]:
    first, uniform, matched = [], [], []
    for r, s in enumerate(sig):
        partners = [idx_one[s][t] if present[r][t] and idx_one[s][t] >= 0 else -1 for t in range(len(present[r]))]
        found = [p for p in partners if p >= 0]
        first.append(found[0] if found else -1)
        uniform.append(len(set(found)) <= 1)
        matched.append([p >= 0 for p in partners])
    return first, uniform, matched
