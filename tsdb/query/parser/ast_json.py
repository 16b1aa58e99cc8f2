"""The PromQL syntax tree as JSON, in the shape of Prometheus 3's ``GET /api/v1/parse_query``.

Every node is an object with ``type`` (``vectorSelector``, ``matrixSelector``, ``subquery``, ``call``,
``aggregation``, ``binaryExpr``, ``unaryExpr``, ``parenExpr``, ``numberLiteral``, ``stringLiteral``) and
the node's fields; durations (``range``, ``offset``, ``step``) are milliseconds, ``timestamp`` is the ``@``
time in ms or null, ``startOrEnd`` is ``"start"``/``"end"`` for ``@ start()``/``@ end()`` or null. Every node
also carries ``text``: the node printed as PromQL (what the query explorer evaluates to size a node).
"""

from __future__ import annotations

from typing import Any

from tsdb.query.functions.table import FUNCTIONS
from tsdb.query.parser.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorSelector,
)
from tsdb.query.parser.printer import format_number

_VALUE_TYPES = {"vector": "vector", "scalar": "scalar", "matrix": "matrix", "string": "string"}


def _at(node: VectorSelector | SubqueryExpr) -> dict[str, Any]:
    modifier = node.at_modifier.rstrip("()") if node.at_modifier else None
    return {"offset": node.offset_ms, "timestamp": node.at_ms, "startOrEnd": modifier}


def _matchers(vs: VectorSelector) -> list[dict[str, str]]:
    return [{"type": m.type.value, "name": m.name, "value": m.value} for m in vs.matchers]


def ast_json(expr: Expr) -> dict[str, Any]:
    """The JSON form of ``expr`` (see the module docstring)."""
    out: dict[str, Any]
    if isinstance(expr, VectorSelector):
        out = {"type": "vectorSelector", "name": expr.name or "", "matchers": _matchers(expr), **_at(expr)}
    elif isinstance(expr, MatrixSelector):
        vs = expr.vector
        out = {"type": "matrixSelector", "name": vs.name or "", "matchers": _matchers(vs), "range": expr.range_ms,
               **_at(vs)}
    elif isinstance(expr, SubqueryExpr):
        out = {"type": "subquery", "expr": ast_json(expr.expr), "range": expr.range_ms, "step": expr.step_ms,
               **_at(expr)}
    elif isinstance(expr, Call):
        spec = FUNCTIONS[expr.func]
        out = {"type": "call", "func": {"name": expr.func, "argTypes": list(spec.arg_types),
                                        "variadic": spec.variadic, "returnType": spec.return_type},
               "args": [ast_json(a) for a in expr.args]}
    elif isinstance(expr, AggregateExpr):
        out = {"type": "aggregation", "op": expr.op, "expr": ast_json(expr.expr),
               "param": ast_json(expr.param) if expr.param is not None else None,
               "grouping": list(expr.grouping), "without": expr.without}
    elif isinstance(expr, BinaryExpr):
        m = expr.matching
        matching = None if m is None else {"card": m.card, "on": m.on, "labels": list(m.labels),
                                            "include": list(m.include)}
        out = {"type": "binaryExpr", "op": expr.op, "lhs": ast_json(expr.lhs), "rhs": ast_json(expr.rhs),
               "matching": matching, "bool": expr.return_bool}
    elif isinstance(expr, UnaryExpr):
        out = {"type": "unaryExpr", "op": expr.op, "expr": ast_json(expr.expr)}
    elif isinstance(expr, ParenExpr):
        out = {"type": "parenExpr", "expr": ast_json(expr.expr)}
    elif isinstance(expr, NumberLiteral):
        out = {"type": "numberLiteral", "val": format_number(expr.value)}
    elif isinstance(expr, StringLiteral):
        out = {"type": "stringLiteral", "val": expr.value}
    else:  # pragma: no cover - the parser builds only the node classes above
        raise TypeError(f"unknown node {type(expr).__name__}")
    out["valueType"] = _VALUE_TYPES.get(expr.type, expr.type)
    out["text"] = str(expr)
    return out
