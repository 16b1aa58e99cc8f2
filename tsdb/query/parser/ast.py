"""The PromQL abstract syntax tree: frozen dataclasses; ``str(expr)`` prints PromQL that parses back to an
equal tree. ``expr.type`` is the value type: "scalar", "vector", "matrix" or "string"."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields

from tsdb.labels import Matcher, MatchType, is_legacy_metric_name
from tsdb.query.functions.table import FUNCTIONS
from tsdb.query.parser.printer import KEYWORDS, at_and_offset, format_number, label_text, quote, range_text

PRECEDENCE = {"or": 1, "and": 2, "unless": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "+": 4, "-": 4,
              "*": 5, "/": 5, "%": 5, "atan2": 5, "^": 6}
"""Binary operator precedence (higher binds tighter); ``^`` is right-associative, the rest left."""
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
SET_OPERATORS = frozenset({"and", "or", "unless"})


@dataclass(frozen=True)
class DurationExpr:
    """A duration that depends on the query (``step()``, ``range()``), in seconds when evaluated.

    ``op`` is "num" (``value``), "step", "range", a binary operator (+ - * / % ^) over ``args``, "neg",
    "min_of" or "max_of". Constant sub-expressions are folded by the parser, so a tree always holds
    ``step()`` or ``range()``.
    """

    op: str
    args: tuple[DurationExpr, ...] = ()
    value: float = 0.0

    def evaluate(self, step_s: float, range_s: float) -> float:
        """Seconds, given the query's step and range (end - start) in seconds."""
        if self.op == "num":
            return self.value
        if self.op == "step":
            return step_s
        if self.op == "range":
            return range_s
        values = [a.evaluate(step_s, range_s) for a in self.args]
        if self.op == "neg":
            return -values[0]
        if self.op in ("min_of", "max_of"):
            return min(values) if self.op == "min_of" else max(values)
        a, b = values
        if self.op in "/%" and b == 0:
            raise ZeroDivisionError("division by zero in duration expression")
        if self.op == "+":
            return a + b
        if self.op == "-":
            return a - b
        if self.op == "*":
            return a * b
        if self.op == "/":
            return a / b
        if self.op == "%":
            return math.fmod(a, b)
        return math.pow(a, b)

    def __str__(self) -> str:
        if self.op == "num":
            return format_number(self.value)
        if self.op in ("step", "range"):
            return f"{self.op}()"
        if self.op == "neg":
            return f"-({self.args[0]})"
        if self.op in ("min_of", "max_of"):
            return f"{self.op}({self.args[0]}, {self.args[1]})"
        return f"({self.args[0]} {self.op} {self.args[1]})"


class Expr:
    """Base of every node."""

    @property
    def type(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class NumberLiteral(Expr):
    value: float

    @property
    def type(self) -> str:
        return "scalar"

    def __str__(self) -> str:
        return format_number(self.value)

    def __eq__(self, other: object) -> bool:  # NaN literals are equal to each other
        return isinstance(other, NumberLiteral) and (
            self.value == other.value or (math.isnan(self.value) and math.isnan(other.value)))

    def __hash__(self) -> int:
        return hash(("num", "nan" if math.isnan(self.value) else self.value))


@dataclass(frozen=True)
class StringLiteral(Expr):
    value: str

    @property
    def type(self) -> str:
        return "string"

    def __str__(self) -> str:
        return quote(self.value)


@dataclass(frozen=True)
class VectorSelector(Expr):
    """``name{matchers}``; ``matchers`` include the ``__name__`` equality matcher when a name is given."""

    name: str | None
    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    at_ms: int | None = None
    at_modifier: str | None = None
    anchored: bool = False
    smoothed: bool = False
    offset_expr: DurationExpr | None = None

    @property
    def type(self) -> str:
        return "vector"

    def mode_text(self) -> str:
        return " anchored" if self.anchored else " smoothed" if self.smoothed else ""

    def selector_text(self) -> str:
        others = [m for m in self.matchers
                  if not (self.name is not None and m.name == "__name__" and m.type is MatchType.EQUAL
                          and m.value == self.name)]
        parts = [str(m) for m in others]
        if self.name is not None and (not is_legacy_metric_name(self.name) or self.name.lower() in KEYWORDS):
            return "{" + ", ".join([quote(self.name), *parts]) + "}"
        name = self.name or ""
        return f"{name}{{{', '.join(parts)}}}" if parts or not name else name

    def __str__(self) -> str:
        return (self.selector_text() + at_and_offset(self.offset_ms, self.at_ms, self.at_modifier, self.offset_expr)
                + self.mode_text())


@dataclass(frozen=True)
class MatrixSelector(Expr):
    vector: VectorSelector
    range_ms: int
    range_expr: DurationExpr | None = None

    @property
    def type(self) -> str:
        return "matrix"

    def __str__(self) -> str:
        v = self.vector
        return (f"{v.selector_text()}[{range_text(self.range_ms, self.range_expr)}]"
                + at_and_offset(v.offset_ms, v.at_ms, v.at_modifier, v.offset_expr) + v.mode_text())


@dataclass(frozen=True)
class SubqueryExpr(Expr):
    expr: Expr
    range_ms: int
    step_ms: int = 0
    offset_ms: int = 0
    at_ms: int | None = None
    at_modifier: str | None = None
    range_expr: DurationExpr | None = None
    step_expr: DurationExpr | None = None
    offset_expr: DurationExpr | None = None

    @property
    def type(self) -> str:
        return "matrix"

    def __str__(self) -> str:
        step = range_text(self.step_ms, self.step_expr) if (self.step_ms or self.step_expr) else ""
        inner = str(self.expr)
        if not isinstance(self.expr, VectorSelector | ParenExpr | Call | AggregateExpr | NumberLiteral
                          | StringLiteral | MatrixSelector | SubqueryExpr):
            inner = f"({inner})"
        return (f"{inner}[{range_text(self.range_ms, self.range_expr)}:{step}]"
                + at_and_offset(self.offset_ms, self.at_ms, self.at_modifier, self.offset_expr))


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]

    @property
    def type(self) -> str:
        return FUNCTIONS[self.func].return_type

    def __str__(self) -> str:
        return f"{self.func}({', '.join(str(a) for a in self.args)})"


@dataclass(frozen=True)
class AggregateExpr(Expr):
    op: str
    expr: Expr
    param: Expr | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False

    @property
    def type(self) -> str:
        return "vector"

    def __str__(self) -> str:
        clause = ""
        if self.without:
            clause = f" without ({', '.join(label_text(g) for g in self.grouping)})"
        elif self.grouping:
            clause = f" by ({', '.join(label_text(g) for g in self.grouping)})"
        args = f"{self.param}, {self.expr}" if self.param is not None else str(self.expr)
        return f"{self.op}{clause} ({args})" if clause else f"{self.op}({args})"


@dataclass(frozen=True, eq=False)
class VectorMatching:
    """Vector matching of a binary operation between two vectors."""

    card: str
    on: bool = False
    labels: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    fill_lhs: float | None = None
    """``fill_left(v)``/``fill(v)``: the value used when the left side lacks a match (experimental)."""
    fill_rhs: float | None = None

    def __eq__(self, other: object) -> bool:  # fill values may be NaN
        return isinstance(other, VectorMatching) and (self.card, self.on, self.labels, self.include) == (
            other.card, other.on, other.labels, other.include) and _same(self.fill_lhs, other.fill_lhs) and _same(
            self.fill_rhs, other.fill_rhs)

    def __hash__(self) -> int:
        return hash((self.card, self.on, self.labels, self.include))


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


@dataclass(frozen=True)
class BinaryExpr(Expr):
    op: str
    lhs: Expr
    rhs: Expr
    return_bool: bool = False
    matching: VectorMatching | None = None

    @property
    def type(self) -> str:
        if self.lhs.type == "scalar" and self.rhs.type == "scalar":
            return "scalar"
        return "vector"

    def __str__(self) -> str:
        modifiers = " bool" if self.return_bool else ""
        m = self.matching
        if m is not None:
            if m.on or m.labels:
                modifiers += f" {'on' if m.on else 'ignoring'}({', '.join(label_text(x) for x in m.labels)})"
            if m.card == "many-to-one":
                modifiers += f" group_left({', '.join(label_text(x) for x in m.include)})"
            elif m.card == "one-to-many":
                modifiers += f" group_right({', '.join(label_text(x) for x in m.include)})"
            if m.fill_lhs is not None and m.fill_rhs is not None and _same(m.fill_lhs, m.fill_rhs):
                modifiers += f" fill({format_number(m.fill_lhs)})"
            else:
                if m.fill_lhs is not None:
                    modifiers += f" fill_left({format_number(m.fill_lhs)})"
                if m.fill_rhs is not None:
                    modifiers += f" fill_right({format_number(m.fill_rhs)})"
        return f"{_operand(self.lhs, self.op, False)} {self.op}{modifiers} {_operand(self.rhs, self.op, True)}"


def _operand(node: Expr, op: str, right: bool) -> str:
    """Parenthesise an operand whose precedence would otherwise change the tree."""
    text = str(node)
    if isinstance(node, BinaryExpr):
        mine, theirs = PRECEDENCE[op], PRECEDENCE[node.op]
        right_assoc = op == "^"
        if theirs < mine or (theirs == mine and right != right_assoc):
            return f"({text})"
    if isinstance(node, UnaryExpr) and op == "^" and not right:
        return f"({text})"
    return text


@dataclass(frozen=True)
class UnaryExpr(Expr):
    op: str
    expr: Expr

    @property
    def type(self) -> str:
        return self.expr.type

    def __str__(self) -> str:
        inner = str(self.expr)
        if isinstance(self.expr, BinaryExpr) and self.expr.op != "^":
            inner = f"({inner})"
        return f"{self.op}{inner}"


@dataclass(frozen=True)
class ParenExpr(Expr):
    expr: Expr

    @property
    def type(self) -> str:
        return self.expr.type

    def __str__(self) -> str:
        return f"({self.expr})"


def has_duration_exprs(expr: Expr) -> bool:
    """True if any duration in the tree depends on the query's step or range."""
    return any(getattr(node, name, None) is not None for node in walk(expr)
               for name in ("range_expr", "step_expr", "offset_expr"))


def resolve_durations(expr: Expr, step_ms: int, range_ms: int) -> Expr:
    """The tree with every ``step()``/``range()`` duration replaced by its value for this query."""
    import dataclasses

    def ms(d: DurationExpr) -> int:
        return round(d.evaluate(step_ms / 1000, range_ms / 1000) * 1000)

    def go(node: Expr) -> Expr:
        changes: dict[str, object] = {}
        for f in fields(node):  # type: ignore[arg-type]
            value = getattr(node, f.name)
            if isinstance(value, Expr):
                changes[f.name] = go(value)
            elif isinstance(value, tuple) and value and isinstance(value[0], Expr):
                changes[f.name] = tuple(go(v) for v in value)
            elif isinstance(value, DurationExpr):
                target = {"range_expr": "range_ms", "step_expr": "step_ms", "offset_expr": "offset_ms"}[f.name]
                changes[target] = ms(value)
                changes[f.name] = None
        return dataclasses.replace(node, **changes) if changes else node  # type: ignore[type-var]

    return go(expr)


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children."""
    yield expr
    for f in fields(expr):  # type: ignore[arg-type]
        value = getattr(expr, f.name)
        if isinstance(value, Expr):
            yield from walk(value)
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Expr):
                    yield from walk(item)


__all__ = ["AggregateExpr", "BinaryExpr", "Call", "DurationExpr", "Expr", "MatrixSelector", "NumberLiteral",
           "ParenExpr", "StringLiteral", "SubqueryExpr", "UnaryExpr", "VectorMatching", "VectorSelector",
           "has_duration_exprs", "resolve_durations", "walk"]
