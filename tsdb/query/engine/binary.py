"""PromQL binary operators over the whole step grid.

:func:`binary_op` evaluates ``+ - * / % ^ atan2``, the comparisons ``== != > < >= <=`` (filtering, or
0/1 with ``bool``) and the set operators ``and or unless`` between scalars and instant vectors, with
Prometheus 3.x semantics (``promql/engine.go``: ``VectorBinop``, ``VectorAnd/Or/Unless``,
``VectorscalarBinop``, ``resultMetric``, ``rangeEval``):

* vector/vector matching joins on the signature of ``on (l...)`` labels, or of all labels but
  ``ignoring (l...)`` and ``__name__``; one-to-one, many-to-one (``group_left``) and one-to-many
  (``group_right``) with ``include`` labels copied from the "one" side. The join is a hash join on
  signature ordinals; matching at each step is done for all steps at once with numpy.
* ``__name__``: vector/vector arithmetic removes ``__name__`` (and ``__type__``/``__unit__``) from the
  result labels at once, as Prometheus does; ``bool`` comparisons and every vector/scalar arithmetic
  or ``bool`` comparison only set ``drop_name`` (delayed removal, done by the evaluator at the end);
  filtering comparisons and set operators keep labels and flags.
* values: ``%`` is Go's ``math.Mod`` (C ``fmod``), ``^`` is ``math.Pow``, division by zero gives ±Inf
  or NaN, comparisons of NaN are false.
* errors: :class:`QueryError` with Prometheus's messages for duplicate series on the "one" side,
  ambiguous one-to-one matches, non-unique group_left/group_right results, and output series sharing a
  label set at one step ("vector cannot contain metrics with the same labelset"). Output rows with the
  same label set that never overlap in time are merged into one row, as Prometheus's range evaluation
  does. When several errors apply, the one Prometheus meets first (earliest step) is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from tsdb.errors import QueryError
from tsdb.labels import METRIC_NAME, Labels, is_legacy_label_name
from tsdb.query.engine import aggregate_kernels as kern
from tsdb.query.value import ScalarValue, Value, VectorValue, go_quote
from tsdb.storage.interfaces import check_deadline

ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})
COMPARISON_OPS = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})

METADATA_LABELS = (METRIC_NAME, "__type__", "__unit__")
"""Labels Prometheus removes when an operation changes a metric's meaning (schema.IsMetadataLabel)."""

_DUP_LABELSET = "vector cannot contain metrics with the same labelset"
_MANY_TO_MANY = "many-to-many matching not allowed: matching labels must be unique on one side"
_EXPLICIT = "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
_UNIQUE = "multiple matches for labels: grouping labels must ensure unique matches"


class VectorMatchingLike(Protocol):
    """What :func:`binary_op` reads of the parser's ``VectorMatching`` (``tsdb.query.parser.ast``).

    ``card`` is the cardinality: an enum or string whose name/value reads one-to-one, many-to-one,
    one-to-many or many-to-many (any case, ``-`` or ``_``). ``on`` says whether ``labels`` are ``on``
    (True) or ``ignoring`` (False) labels; ``include`` are the ``group_left/right`` extra labels.
    """

    @property
    def card(self) -> Any: ...

    @property
    def on(self) -> bool: ...

    @property
    def labels(self) -> Sequence[str]: ...

    @property
    def include(self) -> Sequence[str]: ...


def card_name(card: Any) -> str:
    """Normalise a cardinality (enum or string) to ``one-to-one`` / ``many-to-one`` / ... ."""
    for candidate in (getattr(card, "value", None), getattr(card, "name", None), card):
        if isinstance(candidate, str):
            text = candidate.lower().replace("_", "-").replace("card", "").strip("-")
            for known in ("one-to-one", "many-to-one", "one-to-many", "many-to-many"):
                if text == known or text.replace("-", "") == known.replace("-", ""):
                    return known
    raise QueryError(f"unknown vector matching cardinality {card!r}")


def binary_op(op: str, lhs: Value, rhs: Value, return_bool: bool = False,
              matching: VectorMatchingLike | None = None) -> Value:
    """Evaluate ``lhs op rhs`` at every step; scalars and vectors as in PromQL.

    Scalar/scalar gives a :class:`ScalarValue` (comparisons need ``bool`` and give 0/1). Any operand
    being a vector gives a :class:`VectorValue`. ``matching`` (the parser's VectorMatching) is used for
    vector/vector operations; None means one-to-one (many-to-many for set operators) ignoring nothing.
    """
    if op not in ARITHMETIC_OPS | COMPARISON_OPS | SET_OPS:
        raise QueryError(f"unknown binary operator {op!r}")
    lscalar, rscalar = isinstance(lhs, ScalarValue), isinstance(rhs, ScalarValue)
    if lscalar and rscalar:
        assert isinstance(lhs, ScalarValue) and isinstance(rhs, ScalarValue)
        if op in SET_OPS:
            raise QueryError(f"set operator {op!r} not allowed in binary scalar expression")
        res, keep = apply_op(op, lhs.values, rhs.values)
        return ScalarValue(keep.astype(np.float64) if op in COMPARISON_OPS else res)
    if isinstance(lhs, VectorValue) and rscalar:
        assert isinstance(rhs, ScalarValue)
        return _vector_scalar(op, lhs, rhs, False, return_bool)
    if lscalar and isinstance(rhs, VectorValue):
        assert isinstance(lhs, ScalarValue)
        return _vector_scalar(op, rhs, lhs, True, return_bool)
    if isinstance(lhs, VectorValue) and isinstance(rhs, VectorValue):
        if lhs.values.shape[1] != rhs.values.shape[1]:
            raise QueryError(f"operands of {op!r} have {lhs.values.shape[1]} and {rhs.values.shape[1]} steps")
        if op in SET_OPS:
            return _set_op(op, lhs, rhs, matching)
        return _vector_vector(op, lhs, rhs, return_bool, matching)
    raise QueryError(f"binary operator {op!r} not allowed between {type(lhs).__name__} and {type(rhs).__name__}")


_OP_TOKENS = {
    "ADD": "+", "SUB": "-", "MUL": "*", "DIV": "/", "MOD": "%", "POW": "^", "ATAN2": "atan2",
    "EQLC": "==", "EQL": "==", "NEQ": "!=", "GTR": ">", "LSS": "<", "GTE": ">=", "LTE": "<=",
    "LAND": "and", "LOR": "or", "LUNLESS": "unless",
}


def operator_symbol(op: Any) -> str:
    """A binary operator (string, enum or Prometheus token name) as its PromQL spelling (``+``, ``and``)."""
    for candidate in (getattr(op, "value", None), getattr(op, "name", None), op):
        if isinstance(candidate, str):
            if candidate.lower() in ARITHMETIC_OPS | COMPARISON_OPS | SET_OPS:
                return candidate.lower()
            if candidate.upper() in _OP_TOKENS:
                return _OP_TOKENS[candidate.upper()]
    raise QueryError(f"unknown binary operator {op!r}")


def evaluate_binary(node: Any, lhs: Value, rhs: Value, annotations: Any = None) -> Value:
    """Evaluate a parsed ``BinaryExpr`` node on its already evaluated operands (evaluator entry point).

    Reads ``node.op``, ``node.return_bool`` and ``node.matching`` (or ``node.vector_matching``).
    ``annotations`` is accepted for the evaluator's interface; float operations raise no warnings.
    """
    matching = getattr(node, "matching", None)
    if matching is None:
        matching = getattr(node, "vector_matching", None)
    return binary_op(operator_symbol(node.op), lhs, rhs, bool(getattr(node, "return_bool", False)), matching)


def apply_op(op: str, left: npt.NDArray[np.float64], right: npt.NDArray[np.float64]
             ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Elementwise ``left op right``: ``(result, keep)``.

    Arithmetic keeps everything; comparisons return ``left`` as the result and the comparison as
    ``keep`` (Prometheus's vectorElemBinop).
    """
    with np.errstate(all="ignore"):
        if op in COMPARISON_OPS:
            if op == "==":
                keep = left == right
            elif op == "!=":
                keep = left != right
            elif op == ">":
                keep = left > right
            elif op == "<":
                keep = left < right
            elif op == ">=":
                keep = left >= right
            else:
                keep = left <= right
            return np.asarray(left, dtype=np.float64), np.asarray(keep, dtype=bool)
        if op == "+":
            res = left + right
        elif op == "-":
            res = left - right
        elif op == "*":
            res = left * right
        elif op == "/":
            res = np.true_divide(left, right)
        elif op == "%":
            res = np.fmod(left, right)  # Go's math.Mod: sign of the dividend, NaN for x % 0 and Inf % y
        elif op == "^":
            res = np.power(left, right)
        elif op == "atan2":
            res = np.arctan2(left, right)
        else:
            raise QueryError(f"operator {op!r} not allowed for float operations")
    res = np.asarray(res, dtype=np.float64)
    return res, np.ones(res.shape, dtype=bool)


def _vector_scalar(op: str, vec: VectorValue, scalar: ScalarValue, swap: bool, return_bool: bool) -> VectorValue:
    """vector op scalar (``swap``: scalar op vector); comparisons keep the vector's value."""
    if op in SET_OPS:
        raise QueryError(f"set operator {op!r} not allowed in binary scalar expression")
    sv = np.broadcast_to(scalar.values[None, :], vec.values.shape)
    res, keep = apply_op(op, sv, vec.values) if swap else apply_op(op, vec.values, sv)
    if op in COMPARISON_OPS:
        res = vec.values
    if return_bool:
        values = keep.astype(np.float64)
        present = vec.present.copy()
    else:
        values = np.array(res, dtype=np.float64)
        present = vec.present & keep
    drop = vec.drop_name.copy()
    if op in ARITHMETIC_OPS or return_bool:
        drop[:] = True
    return VectorValue(list(vec.labels), values, present, drop).without_empty_rows()


# -- signatures --------------------------------------------------------------------------------------------
def _matching_parts(matching: VectorMatchingLike | None, default_card: str
                    ) -> tuple[str, bool, tuple[str, ...], tuple[str, ...]]:
    if matching is None:
        return default_card, False, (), ()
    names = getattr(matching, "labels", None)
    if names is None:
        names = getattr(matching, "matching_labels", ())
    include = getattr(matching, "include", ()) or ()
    return card_name(matching.card), bool(matching.on), tuple(names or ()), tuple(include)


def fill_values(matching: VectorMatchingLike | None) -> tuple[float | None, float | None]:
    """The ``fill_left``/``fill_right`` values ``(lhs, rhs)`` of a matching (None: no fill on that side).

    Reads ``matching.fill_values.lhs/.rhs`` (Prometheus's shape) or ``matching.fill_lhs/.fill_rhs``.
    """
    if matching is None:
        return None, None
    holder = getattr(matching, "fill_values", None)
    if holder is not None:
        lhs, rhs = getattr(holder, "lhs", None), getattr(holder, "rhs", None)
    else:
        lhs, rhs = getattr(matching, "fill_lhs", None), getattr(matching, "fill_rhs", None)
    return (None if lhs is None else float(lhs)), (None if rhs is None else float(rhs))


def match_labels(lbls: Labels, on: bool, names: tuple[str, ...]) -> Labels:
    """Prometheus's ``Labels.MatchLabels``: the ``on`` labels, or all but ``ignoring`` and ``__name__``."""
    return lbls.keep(names) if on else lbls.without((*names, METRIC_NAME))


def _sig_key(lbls: Labels, on: bool, names: tuple[str, ...]) -> Labels:
    """The matching signature of a series: its ``on`` labels, or all but ``ignoring`` and ``__name__``."""
    return lbls.keep(names) if on else lbls.without((*names, METRIC_NAME))


def signatures(lhs: Sequence[Labels], rhs: Sequence[Labels], on: bool, names: tuple[str, ...]
               ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Signature ordinals of both sides (one shared numbering) and the number of signatures."""
    index: dict[Labels, int] = {}
    out = []
    for side in (lhs, rhs):
        arr = np.empty(len(side), dtype=np.int64)
        for i, lbls in enumerate(side):
            if not i % 8192:  # per-series label work: check the query's deadline now and then
                check_deadline()
            arr[i] = index.setdefault(_sig_key(lbls, on, names), len(index))
        out.append(arr)
    return out[0], out[1], len(index)


def _sig_presence(sig: npt.NDArray[np.int64], present: npt.NDArray[np.bool_], n_sigs: int
                  ) -> npt.NDArray[np.bool_]:
    """``[n_sigs, steps]``: does some series of that signature have a sample at that step."""
    return group_count(sig, present, n_sigs) > 0


# -- set operators -----------------------------------------------------------------------------------------
def _set_op(op: str, lhs: VectorValue, rhs: VectorValue, matching: VectorMatchingLike | None) -> VectorValue:
    """and / or / unless, decided per step on signatures (labels and flags of the kept side)."""
    _, on, names, _ = _matching_parts(matching, "many-to-many")
    sig_l, sig_r, n_sigs = signatures(lhs.labels, rhs.labels, on, names)
    if op == "and":
        present = lhs.present & _sig_presence(sig_r, rhs.present, n_sigs)[sig_l]
        return VectorValue(list(lhs.labels), lhs.values.copy(), present, lhs.drop_name.copy()).without_empty_rows()
    if op == "unless":
        present = lhs.present & ~_sig_presence(sig_r, rhs.present, n_sigs)[sig_l]
        return VectorValue(list(lhs.labels), lhs.values.copy(), present, lhs.drop_name.copy()).without_empty_rows()
    rpresent = rhs.present & ~_sig_presence(sig_l, lhs.present, n_sigs)[sig_r]
    out = VectorValue(list(lhs.labels) + list(rhs.labels), np.concatenate([lhs.values, rhs.values]),
                      np.concatenate([lhs.present, rpresent]), np.concatenate([lhs.drop_name, rhs.drop_name]))
    return merge_same_labels(out.without_empty_rows())


def merge_same_labels(vec: VectorValue) -> VectorValue:
    """Merge rows with equal label sets; raise if two of them have a sample at the same step.

    This is Prometheus's range-evaluation rule: output series are keyed by labels, a second sample for
    one key at one step is "vector cannot contain metrics with the same labelset". The first row's
    ``drop_name`` wins.
    """
    index: dict[Labels, int] = {}
    rows = np.empty(vec.num_series, dtype=np.int64)
    for i, lbls in enumerate(vec.labels):
        rows[i] = index.setdefault(lbls, len(index))
    if len(index) == vec.num_series:
        return vec
    n_out = len(index)
    counts = group_count(rows, vec.present, n_out)
    if (counts > 1).any():
        raise QueryError(_DUP_LABELSET)
    values = np.zeros((n_out, vec.values.shape[1]))
    present = counts > 0
    rr, cc = np.nonzero(vec.present)
    values[rows[rr], cc] = vec.values[rr, cc]
    first = np.full(n_out, -1, dtype=np.int64)
    for i in range(vec.num_series - 1, -1, -1):
        first[rows[i]] = i
    return VectorValue(list(index), values, present, vec.drop_name[first].copy())


# -- arithmetic and comparisons between vectors ----------------------------------------------------------------
def group_count(keys: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_], n_keys: int) -> npt.NDArray[np.int32]:
    """``[n_keys, steps]``: per key and step, how many rows with that key have ``mask`` set."""
    return kern.count_by_key(np.ascontiguousarray(keys, dtype=np.int64), np.ascontiguousarray(mask, dtype=np.bool_),
                             n_keys)


def _first_true_step(bad: npt.NDArray[np.bool_]) -> int | None:
    """The first step (column) where any row of ``bad`` is set, or None."""
    cols = bad.any(axis=0)
    return int(np.argmax(cols)) if cols.any() else None


def _vector_vector(op: str, lhs: VectorValue, rhs: VectorValue, return_bool: bool,
                   matching: VectorMatchingLike | None) -> VectorValue:
    """Arithmetic or comparison between two vectors (Prometheus's VectorBinop, all steps at once).

    Works in Prometheus's frame: for one-to-many the sides are swapped so that ``many`` is matched
    against ``one``. Every output comes from a *pair* (many row, one row) with a per-step mask; a
    ``fill_right`` value makes pairs (many row, virtual one) where the one side is missing, a
    ``fill_left`` value pairs (virtual many, one row) where no many row matched that step.
    """
    card, on, names, include = _matching_parts(matching, "one-to-one")
    if card == "many-to-many":
        raise QueryError("many-to-many only allowed for set operators")
    fill_l, fill_r = fill_values(matching)
    has_fill = fill_l is not None or fill_r is not None
    num_steps = lhs.values.shape[1]
    swapped = card == "one-to-many"
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    sig_m, sig_o, n_sigs = signatures(many.labels, one.labels, on, names)
    many_any = many.present.any(axis=0)
    one_any = one.present.any(axis=0)
    # Prometheus short-circuits a step where either side is empty (both, with fill): nothing happens there.
    active: npt.NDArray[np.bool_] = np.logical_and(one_any, many_any | has_fill)
    err_steps: list[tuple[int, int, str]] = []

    # The "one" side: at most one series per signature and step, else many-to-many.
    count_one = group_count(sig_o, one.present, n_sigs)
    t_dup = _first_true_step((count_one > 1) & active[None, :])
    if t_dup is not None:
        err_steps.append((t_dup, 0, _one_side_duplicate_message(one, sig_o, t_dup, on, names, swapped)))
    # Where a signature has duplicates we raise anyway, so the last row is as good as any.
    idx_one = kern.last_row_by_key(sig_o, np.ascontiguousarray(one.present, dtype=np.bool_), n_sigs)

    # Pairs (many row, one row): most many rows match the same one row at every step (one dense pair
    # row); the others are split into one pair per distinct partner. -1 marks a virtual (filled) side.
    first, uniform, matched = kern.match_partners(sig_m, np.ascontiguousarray(many.present, dtype=np.bool_),
                                                  idx_one)
    has = first >= 0
    uniform &= has
    rows_list = [np.flatnonzero(uniform)]
    partners_list = [first[rows_list[0]]]
    masks_list = [matched[rows_list[0]]]
    mixed = np.flatnonzero(has & ~uniform)
    if len(mixed):
        partner = idx_one[sig_m[mixed]]
        sub_rows, sub_cols = np.nonzero(matched[mixed])
        n_one = one.num_series
        keys = np.unique(sub_rows * n_one + partner[sub_rows, sub_cols])
        extra_sub, extra_partner = np.divmod(keys, n_one)
        rows_list.append(mixed[extra_sub])
        partners_list.append(extra_partner)
        masks_list.append(matched[mixed[extra_sub]] & (partner[extra_sub] == extra_partner[:, None]))
    if fill_r is not None:
        unmatched = many.present & ~matched
        rows = np.flatnonzero(unmatched.any(axis=1))
        rows_list.append(rows)
        partners_list.append(np.full(len(rows), -1, dtype=np.int64))
        masks_list.append(unmatched[rows])
    if fill_l is not None:
        seen_sig = group_count(sig_m, matched, n_sigs) > 0
        lonely = one.present & ~seen_sig[sig_o]
        ones = np.flatnonzero(lonely.any(axis=1))
        rows_list.append(np.full(len(ones), -1, dtype=np.int64))
        partners_list.append(ones)
        masks_list.append(lonely[ones])
    pair_row = np.concatenate(rows_list)
    pair_partner = np.concatenate(partners_list)
    pair_mask = np.concatenate(masks_list).reshape(len(pair_row), num_steps)
    pair_sig = np.where(pair_row >= 0, sig_m[np.maximum(pair_row, 0)] if len(sig_m) else 0,
                        sig_o[np.maximum(pair_partner, 0)] if len(sig_o) else 0)

    lv = _side_values(many, pair_row, fill_l, num_steps)
    rv = _side_values(one, pair_partner, fill_r, num_steps)
    res, keep = apply_op(op, rv, lv) if swapped else apply_op(op, lv, rv)
    if return_bool:
        res = keep.astype(np.float64)
        kept = pair_mask
    else:
        kept = pair_mask & keep

    # Result labels per pair.
    label_ids: dict[Labels, int] = {}
    pair_label = np.empty(len(pair_row), dtype=np.int64)
    drop_meta = op in ARITHMETIC_OPS
    many_labels, one_labels = many.labels, one.labels
    for p, (m, o) in enumerate(zip(pair_row.tolist(), pair_partner.tolist(), strict=True)):
        if not p % 8192:
            check_deadline()
        if m < 0:
            one_lbls = one_labels[o]
            many_lbls = match_labels(one_lbls, on, names)
        else:
            many_lbls = many_labels[m]
            one_lbls = one_labels[o] if o >= 0 else match_labels(many_lbls, on, names)
        lbls = result_labels(many_lbls, one_lbls, card, on, names, include, drop_meta)
        pair_label[p] = label_ids.setdefault(lbls, len(label_ids))
    n_labels = len(label_ids)

    # Ambiguous matches (checked whether or not a comparison keeps the sample).
    if card == "one-to-one":
        t_err = _first_true_step(group_count(pair_sig, pair_mask, n_sigs) > 1)
        if t_err is not None:
            err_steps.append((t_err, 1, _EXPLICIT))
    distinct = n_labels == len(pair_row)
    if not distinct:
        if card != "one-to-one":
            combo: dict[tuple[int, int], int] = {}
            ckeys = np.array([combo.setdefault((int(sg), int(lab)), len(combo))
                              for sg, lab in zip(pair_sig, pair_label, strict=True)], dtype=np.int64)
            t_err = _first_true_step(group_count(ckeys, pair_mask, len(combo)) > 1)
            if t_err is not None:
                err_steps.append((t_err, 1, _UNIQUE))
        t_err = _first_true_step(group_count(pair_label, kept, n_labels) > 1)
        if t_err is not None:
            err_steps.append((t_err, 2, _DUP_LABELSET))
    if err_steps:
        raise QueryError(min(err_steps)[2])

    if distinct:
        values = np.where(kept, res, 0.0)
        present = kept
    else:
        values = np.zeros((n_labels, num_steps))
        present = np.zeros((n_labels, num_steps), dtype=bool)
        rr, cc = np.nonzero(kept)
        values[pair_label[rr], cc] = res[rr, cc]
        present[pair_label[rr], cc] = True
    out = VectorValue(list(label_ids), values, present, np.full(n_labels, return_bool, dtype=bool))
    return out.without_empty_rows()


def _side_values(side: VectorValue, rows: npt.NDArray[np.int64], fill: float | None, num_steps: int
                 ) -> npt.NDArray[np.float64]:
    """``side.values`` of the given rows; rows -1 (virtual, filled) get the fill value."""
    if len(side.labels) == 0:
        return np.full((len(rows), num_steps), np.nan if fill is None else fill)
    out = side.values[np.maximum(rows, 0)]
    virtual = rows < 0
    if virtual.any():
        out[virtual] = np.nan if fill is None else fill
    return out


def result_labels(many: Labels, one: Labels, card: str, on: bool, names: tuple[str, ...],
                  include: tuple[str, ...], drop_metadata: bool) -> Labels:
    """Prometheus's ``resultMetric``: the "many" side's labels, adjusted.

    Arithmetic drops ``__name__``/``__type__``/``__unit__``; one-to-one keeps only the ``on`` labels
    (or drops the ``ignoring`` ones); ``include`` labels are copied from the "one" side (removed when
    it lacks them).
    """
    lbls = many.without(METADATA_LABELS) if drop_metadata else many
    if card == "one-to-one":
        lbls = lbls.keep(names) if on else lbls.without(names)
    if include:
        lbls = lbls.with_labels({name: one.get(name, "") for name in include})
    return lbls


def _one_side_duplicate_message(one: VectorValue, sig_o: npt.NDArray[np.int64], t: int, on: bool,
                                names: tuple[str, ...], swapped: bool) -> str:
    """Prometheus's message naming the first two "one"-side series sharing a signature at step ``t``."""
    seen: dict[int, int] = {}
    for i in np.flatnonzero(one.present[:, t]).tolist():
        s = int(sig_o[i])
        if s in seen:
            first, second = one.labels[seen[s]], one.labels[i]
            break
        seen[s] = i
    else:  # pragma: no cover - the caller found a duplicate at t
        raise AssertionError("no duplicate at step")
    matched = second.keep(names) if on else second.without((*names, METRIC_NAME))
    d1, d2 = sorted((go_labels_string(second), go_labels_string(first)))
    side = "left" if swapped else "right"
    return (f"found duplicate series for the match group {go_labels_string(matched)} on the {side} "
            f"hand-side of the operation: [{d1}, {d2}];{_MANY_TO_MANY}")


def go_labels_string(lbls: Labels) -> str:
    """Go's ``labels.Labels.String()``: ``{__name__="m", a="b"}`` (names quoted when not legacy)."""
    parts = []
    for name, value in lbls.items():
        shown = name if is_legacy_label_name(name) else go_quote(name)
        parts.append(f"{shown}={go_quote(value)}")
    return "{" + ", ".join(parts) + "}"
