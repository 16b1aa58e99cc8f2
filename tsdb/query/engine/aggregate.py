"""PromQL aggregation operators over the whole step grid.

:func:`aggregate` evaluates ``sum``, ``avg``, ``count``, ``group``, ``min``, ``max``, ``stddev``,
``stdvar``, ``quantile``, ``count_values``, ``topk``, ``bottomk``, ``limitk`` and ``limit_ratio`` for
every output group at every step at once. Semantics follow Prometheus 3.x ``promql/engine.go``
(``rangeEvalAgg``, ``aggregation``, ``aggregationK``, ``aggregationCountValues``):

* grouping: ``by (l...)`` keeps those labels; ``without (l...)`` drops those and ``__name__``; no
  clause aggregates everything into one group with empty labels. Groups are numbered in order of the
  first input series that belongs to them (Prometheus's result order for instant queries).
* ``topk``/``bottomk``/``limitk``/``limit_ratio`` return input series unchanged (labels, values,
  ``drop_name``); the others return one series per group with the group labels and a ``drop_name``
  flag set when an input sample of the group had one (delayed ``__name__`` removal).
* series absent at a step do not take part at that step; a group with no present input at a step has
  no output there.

The numeric work runs in :mod:`tsdb.query.engine.aggregate_kernels` (numba) or numpy; Python loops only run
per input series or output group for label handling.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tsdb.errors import QueryError
from tsdb.labels import METRIC_NAME, Labels
from tsdb.query.engine import aggregate_kernels as kern
from tsdb.query.value import VectorValue, format_go_float, format_go_float_g, go_quote
from tsdb.storage.interfaces import check_deadline

SELECTING_OPS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})
"""Aggregations that return a subset of the input series with their own labels."""

AGGREGATION_OPS = frozenset(kern.BASIC_OPS) | SELECTING_OPS | {"quantile", "count_values"}
"""Every aggregation :func:`aggregate` accepts."""

_MIN_INT64 = -9.223372036854775808e18
_MAX_INT64 = 9.223372036854775807e18

_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5
_M64 = (1 << 64) - 1


def aggregate(op: str, vec: VectorValue, grouping: Sequence[str], without: bool,
              param: float | npt.NDArray[np.float64] | str | None = None,
              warnings: list[str] | None = None) -> VectorValue:
    """Aggregate ``vec`` with PromQL aggregation ``op`` at every step.

    ``grouping`` are the ``by``/``without`` label names (``without`` says which). ``param`` is the
    per-step parameter (a float or a ``float64[steps]`` array) of ``topk``/``bottomk``/``limitk`` (k),
    ``limit_ratio`` (ratio) and ``quantile`` (φ), or the output label name (str) of ``count_values``.
    Prometheus's warnings (invalid quantile, ratio capped) are appended to ``warnings`` when given,
    without the position suffix. Raises :class:`QueryError` with Prometheus's messages (NaN k or ratio,
    k overflowing int64, invalid ``count_values`` label name).
    """
    if op not in AGGREGATION_OPS:
        raise QueryError(f"unknown aggregation operator {op!r}")
    num_steps = vec.values.shape[1]
    names = tuple(sorted(set(grouping)))
    if op == "count_values":
        if not isinstance(param, str):
            raise QueryError("count_values needs a string parameter (the output label name)")
        return _count_values(vec, names, without, param)
    if isinstance(param, str):
        raise QueryError(f"{op} needs a numeric parameter, got string {param!r}")
    params = _param_steps(param, num_steps)
    if op in SELECTING_OPS:
        return _aggregate_k(op, vec, names, without, params, warnings)
    gidx, group_labels = group_series(vec.labels, names, without)
    n_groups = len(group_labels)
    values = np.ascontiguousarray(vec.values, dtype=np.float64)
    present = np.ascontiguousarray(vec.present, dtype=np.bool_)
    if op == "quantile":
        _quantile_warnings(params, warnings)
        order, starts = _group_order(gidx, n_groups)
        out, seen = kern.aggregate_quantile(order, starts, values, present, params)
    else:
        out, seen = kern.aggregate_basic(kern.BASIC_OPS[op], gidx, values, present, n_groups)
    drop = _group_drop_name(vec, gidx, seen)
    keep = np.flatnonzero(seen.any(axis=1))
    return VectorValue([group_labels[g] for g in keep], np.where(seen[keep], out[keep], 0.0), seen[keep],
                       drop[keep])


_ALL = slice(None)
_CHECK_EVERY = 8192
"""Series grouped between two checks of the query's deadline (the label loops run per series)."""


def group_series(labels: Sequence[Labels], grouping: Sequence[str], without: bool
                 ) -> tuple[npt.NDArray[np.int64], list[Labels]]:
    """Map every series to its output group: ``(gidx[series], labels of each group)``.

    Groups are numbered in order of first appearance. ``without`` drops ``grouping`` and ``__name__``;
    otherwise only ``grouping`` labels are kept (none: one group with empty labels).
    """
    index: dict[Labels, int] = {}
    group_labels: list[Labels] = []
    gidx = np.empty(len(labels), dtype=np.int64)
    if not without:
        # key by the grouping values (one dict per series, C-level lookups); Labels built once per group
        names = sorted(set(grouping))
        by_values: dict[tuple[str, ...], int] = {}
        get = Labels.get
        for i, lbls in enumerate(labels):
            if not i % _CHECK_EVERY:
                check_deadline()
            if len(names) <= 2:  # scanning the flat tuple beats building a dict for one or two names
                values = tuple(get(lbls, name) for name in names)
            else:
                flat = tuple.__getitem__(lbls, _ALL)
                pairs = dict(zip(flat[::2], flat[1::2], strict=True))
                values = tuple(pairs.get(name, "") for name in names)
            g = by_values.get(values)
            if g is None:
                g = by_values[values] = len(group_labels)
                group_labels.append(Labels.from_sorted_flat(
                    [x for name, value in zip(names, values, strict=True) if value for x in (name, value)]))
            gidx[i] = g
        return gidx, group_labels
    drop = (*grouping, METRIC_NAME)
    for i, lbls in enumerate(labels):
        if not i % _CHECK_EVERY:
            check_deadline()
        key = lbls.without(drop) if without else lbls.keep(grouping)
        g = index.get(key)
        if g is None:
            g = index[key] = len(group_labels)
            group_labels.append(key)
        gidx[i] = g
    return gidx, group_labels


def _group_order(gidx: npt.NDArray[np.int64], n_groups: int
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Series grouped by group, input order kept inside a group, and the group boundaries."""
    order = np.argsort(gidx, kind="stable").astype(np.int64)
    starts = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(gidx, minlength=n_groups), out=starts[1:])
    return order, starts


def _group_drop_name(vec: VectorValue, gidx: npt.NDArray[np.int64], seen: npt.NDArray[np.bool_]
                     ) -> npt.NDArray[np.bool_]:
    """Per group: did an input with ``drop_name`` take part at the group's last step with output.

    Prometheus sets the output series' DropName from the group at every step, so the last one wins.
    """
    n_groups, num_steps = seen.shape
    rows = np.flatnonzero(vec.drop_name)
    if num_steps == 0 or not len(rows):
        return np.zeros(n_groups, dtype=bool)
    present = np.ascontiguousarray(vec.present if len(rows) == vec.num_series else vec.present[rows], dtype=np.bool_)
    flagged = kern.count_by_key(gidx[rows], present, n_groups) > 0
    last = num_steps - 1 - np.argmax(seen[:, ::-1], axis=1)
    return flagged[np.arange(n_groups), last]


def _param_steps(param: float | npt.NDArray[np.float64] | None, num_steps: int) -> npt.NDArray[np.float64]:
    """The parameter as ``float64[steps]`` (a missing parameter is 0, as Prometheus's empty fParams)."""
    if param is None:
        return np.zeros(num_steps)
    arr = np.asarray(param, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(num_steps, float(arr))
    if arr.shape != (num_steps,):
        raise QueryError(f"aggregation parameter has {arr.shape[0]} steps, expected {num_steps}")
    return arr


def _quantile_warnings(params: npt.NDArray[np.float64], warnings: list[str] | None) -> None:
    if warnings is None or not len(params):
        return
    if np.isnan(params).any():
        warnings.append("PromQL warning: quantile value should be between 0 and 1, got NaN")
    hi, lo = float(np.max(params)), float(np.min(params))
    if hi > 1:
        warnings.append(f"PromQL warning: quantile value should be between 0 and 1, got {format_go_float(hi)}")
    if lo < 0:
        warnings.append(f"PromQL warning: quantile value should be between 0 and 1, got {format_go_float(lo)}")


# -- topk, bottomk, limitk, limit_ratio ------------------------------------------------------------------
def _aggregate_k(op: str, vec: VectorValue, names: tuple[str, ...], without: bool,
                 params: npt.NDArray[np.float64], warnings: list[str] | None) -> VectorValue:
    num_steps = vec.values.shape[1]
    empty = VectorValue.empty(num_steps)
    # fParams.Max/Min use math.Max/Min, which propagate NaN: a NaN anywhere makes Max() NaN.
    hi = float(np.max(params)) if len(params) else 0.0
    lo = float(np.min(params)) if len(params) else 0.0
    if op == "limit_ratio":
        if hi == 0 and lo == 0:
            return empty
        if np.isnan(params).any():
            raise QueryError("Ratio value is NaN")
        if warnings is not None and hi > 1.0:
            warnings.append(f"PromQL warning: ratio value should be between -1 and 1, got {format_go_float(hi)}, "
                            "capping to 1")
        if warnings is not None and lo < -1.0:
            warnings.append(f"PromQL warning: ratio value should be between -1 and 1, got {format_go_float(lo)}, "
                            "capping to -1")
    else:
        if hi < 1:
            return empty
        if np.isnan(params).any():
            raise QueryError("Parameter value is NaN")
        if lo <= _MIN_INT64:
            raise QueryError(f"Scalar value {format_go_float_g(lo)} underflows int64")
        if hi >= _MAX_INT64:
            raise QueryError(f"Scalar value {format_go_float_g(hi)} overflows int64")
    if vec.num_series == 0:
        return empty
    gidx, group_labels = group_series(vec.labels, names, without)
    n_groups = len(group_labels)
    present = np.ascontiguousarray(vec.present, dtype=np.bool_)
    values = np.ascontiguousarray(vec.values, dtype=np.float64)
    order, starts = _group_order(gidx, n_groups)
    rank: npt.NDArray[np.int64]
    if op == "limit_ratio":
        ratio = np.clip(params, -1.0, 1.0)
        offsets = np.array([sample_offset(lbls) for lbls in vec.labels])
        take = np.where(ratio[None, :] >= 0, offsets[:, None] < ratio[None, :],
                        offsets[:, None] >= 1.0 + ratio[None, :])
        selected = present & take & (params != 0)[None, :]
        rank = np.where(selected, 0, -1)
    else:
        # k = min(int64(param), len(input)) per step; int64() truncates toward zero.
        k = np.minimum(np.trunc(params), vec.num_series).astype(np.int64)
        if op == "limitk":
            rank = kern.aggregate_limitk(order, starts, present, k)
        else:
            rank = kern.aggregate_topk(order, starts, values, present, k, op == "bottomk")
        selected = rank >= 0
    rows = np.flatnonzero(selected.any(axis=1))
    if num_steps == 1 and len(rows):
        # An instant query lists groups in order, each group best-first (Prometheus's output order).
        rows = rows[np.lexsort((rank[rows, 0], gidx[rows]))]
    sel = selected[rows]
    return VectorValue([vec.labels[i] for i in rows], np.where(sel, values[rows], 0.0), sel,
                       vec.drop_name[rows].copy())


def sample_offset(lbls: Labels) -> float:
    """limit_ratio's deterministic offset in [0, 1] of a series: ``Hash(labels) / MaxUint64``.

    Prometheus (default ``stringlabels`` build) hashes its label encoding with xxhash64: every name and
    value prefixed by its length (one byte below 255, else 0xff + 3 bytes little-endian). We hash the
    same bytes, so the same series are selected as in Prometheus.
    """
    return float(xxhash64(stringlabels_bytes(lbls))) / float(_M64)


def stringlabels_bytes(lbls: Labels) -> bytes:
    """Prometheus's ``stringlabels`` encoding of a label set (sorted name/value, length-prefixed)."""
    out = bytearray()
    for name, value in lbls.items():
        for s in (name, value):
            b = s.encode("utf-8", "surrogateescape")
            n = len(b)
            out += bytes((n,)) if n < 255 else bytes((255, n & 0xFF, (n >> 8) & 0xFF, (n >> 16) & 0xFF))
            out += b
    return bytes(out)


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M64, 31) * _P1) & _M64


def xxhash64(data: bytes, seed: int = 0) -> int:
    """XXH64 of ``data`` (the hash Prometheus's labels use, via cespare/xxhash with seed 0)."""
    n = len(data)
    i = 0
    if n >= 32:
        v1 = (seed + _P1 + _P2) & _M64
        v2 = (seed + _P2) & _M64
        v3 = seed & _M64
        v4 = (seed - _P1) & _M64
        while i + 32 <= n:
            v1 = _round(v1, int.from_bytes(data[i:i + 8], "little"))
            v2 = _round(v2, int.from_bytes(data[i + 8:i + 16], "little"))
            v3 = _round(v3, int.from_bytes(data[i + 16:i + 24], "little"))
            v4 = _round(v4, int.from_bytes(data[i + 24:i + 32], "little"))
            i += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M64
        for v in (v1, v2, v3, v4):
            h = ((h ^ _round(0, v)) * _P1 + _P4) & _M64
    else:
        h = (seed + _P5) & _M64
    h = (h + n) & _M64
    while i + 8 <= n:
        h ^= _round(0, int.from_bytes(data[i:i + 8], "little"))
        h = (_rotl(h, 27) * _P1 + _P4) & _M64
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i:i + 4], "little") * _P1) & _M64
        h = (_rotl(h, 23) * _P2 + _P3) & _M64
        i += 4
    while i < n:
        h ^= (data[i] * _P5) & _M64
        h = (_rotl(h, 11) * _P1) & _M64
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _M64
    h ^= h >> 29
    h = (h * _P3) & _M64
    h ^= h >> 32
    return h


# -- count_values ----------------------------------------------------------------------------------------
def _count_values(vec: VectorValue, names: tuple[str, ...], without: bool, value_label: str) -> VectorValue:
    """count_values: per group and distinct value, how many series have that value at each step."""
    if not _valid_label_name(value_label):
        raise QueryError(f"invalid label name {go_quote(value_label)}")
    num_steps = vec.values.shape[1]
    rows, cols = np.nonzero(vec.present)
    if not len(rows):
        return VectorValue.empty(num_steps)
    bits = vec.values[rows, cols].view(np.uint64)
    uniq, vidx = np.unique(bits, return_inverse=True)
    texts = [format_go_float(float(b)) for b in uniq.view(np.float64)]
    # Distinct float bit patterns can format alike (NaN payloads): merge them by their text.
    text_id: dict[str, int] = {}
    tid = np.array([text_id.setdefault(txt, len(text_id)) for txt in texts], dtype=np.int64)[vidx.ravel()]
    # Prometheus sets the value label first, then applies the grouping (by gets the label added).
    grouping = names if without else tuple(sorted({*names, value_label}))
    base_index: dict[Labels, int] = {}
    base_of_series = np.empty(vec.num_series, dtype=np.int64)
    base_labels: list[Labels] = []
    for i, lbls in enumerate(vec.labels):
        stripped = lbls.without((value_label,))
        key = stripped.without((*grouping, METRIC_NAME)) if without else stripped.keep(grouping)
        b = base_index.setdefault(key, len(base_labels))
        if b == len(base_labels):
            base_labels.append(key)
        base_of_series[i] = b
    label_kept = value_label not in grouping if without else True
    if without and value_label == METRIC_NAME:
        label_kept = False
    n_text = len(text_id)
    combo = base_of_series[rows] * (n_text if label_kept else 1) + (tid if label_kept else 0)
    space = len(base_labels) * (n_text if label_kept else 1)
    if space <= 4 * len(combo) + 1_000_000:
        # Dense key space: a lookup table instead of a second sort.
        used = np.zeros(space, dtype=bool)
        used[combo] = True
        ucombo = np.flatnonzero(used)
        remap = np.cumsum(used) - 1
        out_row = remap[combo]
    else:
        ucombo, out_row = np.unique(combo, return_inverse=True)
    counts = np.bincount(out_row.ravel() * num_steps + cols, minlength=len(ucombo) * num_steps
                         ).astype(np.float64).reshape(len(ucombo), num_steps)
    texts_by_id = list(text_id)
    out_labels = []
    for c in ucombo.tolist():
        if label_kept:
            base, t = divmod(c, n_text)
            out_labels.append(base_labels[base].with_labels({value_label: texts_by_id[t]}))
        else:
            out_labels.append(base_labels[c])
    return VectorValue(out_labels, counts, counts > 0)


def _valid_label_name(name: str) -> bool:
    """Prometheus 3.x (UTF-8 validation): any non-empty valid UTF-8 string."""
    if not name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


