"""``info(v, {data matchers})``: enrich series with the data labels of info metrics (experimental in Prometheus)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.errors import QueryError
from tsdb.labels import Labels, Matcher, MatchType
from tsdb.query.functions.context import EvalContext
from tsdb.query.parser.nodes import children, node_kind, selector_matchers, unwrap
from tsdb.query.value import StepArray, Value, VectorValue

TARGET_INFO = "target_info"
IDENTIFYING_LABELS = ("instance", "job")


@dataclasses.dataclass
class _InfoSelector:
    """A synthetic selector for the info series (same offset/@ as the base expression's selector)."""

    matchers: list[Matcher]
    offset_ms: int
    at_ms: int | None
    at_modifier: Any
    name: str = ""


def _info_time(node: Any) -> tuple[int, int | None, Any]:
    """(offset, @ ms, @ modifier) of the first selector, with enclosing subqueries' offsets and @ applied."""
    stack: list[tuple[Any, list[Any]]] = [(node, [])]
    while stack:
        current, path = stack.pop(0)
        if node_kind(current) == "VectorSelector":
            offset = int(getattr(current, "offset_ms", 0) or 0)
            at_ms, modifier = getattr(current, "at_ms", None), getattr(current, "at_modifier", None)
            for parent in reversed(path):
                if at_ms is not None or modifier:
                    break
                if node_kind(parent) == "SubqueryExpr":
                    offset += int(getattr(parent, "offset_ms", 0) or 0)
                    at_ms, modifier = getattr(parent, "at_ms", None), getattr(parent, "at_modifier", None)
            return offset, at_ms, modifier
        stack[:0] = [(child, [*path, current]) for child in children(current)]
    return 0, None, None


def _effective_info_name_matchers(matchers: list[Matcher]) -> list[Matcher]:
    if any(m.type in (MatchType.EQUAL, MatchType.REGEX) for m in matchers):
        return matchers
    if matchers:
        return [Matcher(MatchType.REGEX, "__name__", ".+_info"), *matchers]
    return [Matcher(MatchType.EQUAL, "__name__", TARGET_INFO)]


def _info_sig(name: str, lbls: Labels) -> tuple[str, ...]:
    return (name, *(f"{n}={lbls.get(n, '')}" for n in IDENTIFYING_LABELS if lbls.get(n, "")))


def _combine_info(base: VectorValue, ignored: npt.NDArray[np.bool_], info_labels: list[Labels],
                  info_ts: npt.NDArray[np.int64], info_present: npt.NDArray[np.bool_],
                  data: dict[str, list[Matcher]]) -> VectorValue:
    """Join base series with info series step by step (Prometheus's combineWithInfoVector)."""
    steps = base.values.shape[1]
    info_names = sorted({lbls.metric_name for lbls in info_labels})
    all_match_empty = all(m.matches("") for ms in data.values() for m in ms)
    out: dict[Labels, tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], bool]] = {}
    for k in range(steps):
        by_sig: dict[tuple[str, ...], int] = {}
        for j, lbls in enumerate(info_labels):
            if not info_present[j, k]:
                continue
            sig = _info_sig(lbls.metric_name, lbls)
            prev = by_sig.get(sig)
            if prev is None or info_ts[prev, k] < info_ts[j, k]:
                by_sig[sig] = j
            elif info_ts[prev, k] == info_ts[j, k]:
                raise QueryError(f"found duplicate series for info metric: existing {info_labels[prev]} @ "
                                 f"{info_ts[prev, k]}, new {lbls} @ {info_ts[j, k]}")
        for i, lbls in enumerate(base.labels):
            if not base.present[i, k]:
                continue
            result = lbls
            if not ignored[i]:
                added: dict[str, str] = {}
                seen = False
                for name in info_names:
                    j_match = by_sig.get(_info_sig(name, lbls))
                    if j_match is None:
                        continue
                    for lname, lvalue in info_labels[j_match].items():
                        if lname == "__name__" or (data and lname not in data):
                            continue
                        if added.get(lname, lvalue) != lvalue:
                            raise QueryError(f"conflicting label: {lname}")
                        if lname not in lbls:
                            added[lname] = lvalue
                    seen = True
                if not seen and not all_match_empty:
                    continue
                result = lbls.with_labels(added) if added else lbls
            row = out.get(result)
            if row is None:
                row = (np.zeros(steps), np.zeros(steps, dtype=bool), bool(base.drop_name[i]))
                out[result] = row
            elif row[1][k]:
                raise QueryError("vector cannot contain metrics with the same labelset")
            row[0][k] = base.values[i, k]
            row[1][k] = True
    labels = list(out)
    if not labels:
        return VectorValue.empty(steps)
    return VectorValue(labels, np.array([out[x][0] for x in labels]), np.array([out[x][1] for x in labels]),
                       np.array([out[x][2] for x in labels], dtype=bool))


def call_info(ev: EvalContext, name: str, args: list[Any], steps: StepArray) -> Value:
    """``info(v, {data matchers})``: add data labels of info series sharing ``instance``/``job``."""
    base = ev.vector_arg(args[0], steps)
    data: dict[str, list[Matcher]] = {}
    name_matchers: list[Matcher] = []
    if len(args) > 1:
        for m in selector_matchers(unwrap(args[1])):
            data.setdefault(m.name, []).append(m)
            if m.name == "__name__":
                name_matchers.append(m)
    else:
        name_matchers = [Matcher(MatchType.EQUAL, "__name__", TARGET_INFO)]
    effective = _effective_info_name_matchers(name_matchers)
    ignored = np.array([all(m.matches(lbls.metric_name) for m in effective) for lbls in base.labels], bool)
    id_values: dict[str, set[str]] = {}
    for lbls, ign in zip(base.labels, ignored, strict=True):
        if ign:
            continue
        for name in IDENTIFYING_LABELS:
            value = lbls.get(name, "")
            if value:
                id_values.setdefault(name, set()).add(value)
    data_names = [m for ms in data.values() for m in ms if m.name == "__name__"]
    data = {k: v for k, v in data.items() if k != "__name__"}
    info_labels: list[Labels] = []
    info_ts = np.zeros((0, len(steps)), dtype=np.int64)
    info_present = np.zeros((0, len(steps)), dtype=bool)
    if id_values:
        matchers = [Matcher(MatchType.REGEX, name, "|".join(re.escape(v) for v in sorted(vals)))
                    for name, vals in id_values.items()]
        matchers += [m for ms in data.values() for m in ms]
        matchers += _effective_info_name_matchers(data_names)
        offset, at_ms, at_modifier = _info_time(args[0])
        selector = _InfoSelector(matchers, offset, at_ms, at_modifier)
        vec, sample_ts = ev.instant_select(selector, steps)
        info_labels, info_ts, info_present = vec.labels, sample_ts, vec.present
    return _combine_info(base, ignored, info_labels, info_ts, info_present, data)
