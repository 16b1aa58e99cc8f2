"""Duck-typed views of AST nodes for the engine and the functions: they go by class name, so the
evaluator needs no import of :mod:`tsdb.query.parser.ast` (and any tree of the same shape evaluates)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from tsdb.labels import Matcher, MatchType


def node_kind(node: object) -> str:
    """The AST class name of ``node`` (the evaluator dispatches on names to stay decoupled)."""
    return type(node).__name__


def unwrap(node: Any) -> Any:
    """``node`` without enclosing parentheses."""
    while node_kind(node) == "ParenExpr":
        node = node.expr
    return node


def function_name(call: Any) -> str:
    func = call.func
    return str(getattr(func, "name", func))


def children(node: Any) -> Iterator[Any]:
    """The direct sub-expressions of an AST node."""
    if dataclasses.is_dataclass(node):
        values = [getattr(node, f.name) for f in dataclasses.fields(node)]
    else:
        values = list(vars(node).values())
    for value in values:
        if isinstance(value, list | tuple):
            for item in value:
                if _is_expr(item):
                    yield item
        elif _is_expr(value):
            yield value


def _is_expr(value: object) -> bool:
    return node_kind(value) in {"NumberLiteral", "StringLiteral", "VectorSelector", "MatrixSelector",
                                "SubqueryExpr", "Call", "AggregateExpr", "BinaryExpr", "UnaryExpr", "ParenExpr"}


def at_modifier_name(node: Any) -> str:
    """``"start"``, ``"end"`` or "" for a selector's/subquery's ``@ start()``/``@ end()`` modifier."""
    modifier = getattr(node, "at_modifier", None)
    if not modifier:
        return ""
    text = str(getattr(modifier, "value", modifier)).lower()
    return "start" if "start" in text else "end" if "end" in text else ""


def range_modifier(node: Any) -> str:
    """``"anchored"``, ``"smoothed"`` or "" for a range selector (experimental Prometheus modifiers)."""
    node = unwrap(node)
    vs = getattr(node, "vector", None) if node_kind(node) == "MatrixSelector" else None
    for candidate in (node, vs):
        if candidate is None:
            continue
        if getattr(candidate, "anchored", False):
            return "anchored"
        if getattr(candidate, "smoothed", False):
            return "smoothed"
    return ""


def selector_matchers(vs: Any) -> list[Matcher]:
    """The matchers of a vector selector, including the metric name."""
    matchers = list(vs.matchers or [])
    name = getattr(vs, "name", None)
    if name and not any(m.name == "__name__" for m in matchers):
        matchers.insert(0, Matcher(MatchType.EQUAL, "__name__", name))
    return matchers
