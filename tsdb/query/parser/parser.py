"""PromQL text -> AST (:mod:`tsdb.query.parser.ast`): the Lark grammar in ``promql.lark`` (LALR, contextual lexer)
plus a transformer that builds frozen nodes and type-checks them with Prometheus's error wording.

:func:`parse` raises :class:`ParseError` with the position of the offending character for every bad
input; no input crashes or hangs it (nesting is bounded before parsing).
"""

from __future__ import annotations

import math
import re
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from tsdb.errors import InvalidArgumentError, InvalidMatcherError, ParseError
from tsdb.labels import METRIC_NAME, Matcher, MatchType, is_legacy_label_name
from tsdb.query.functions.table import AGGREGATIONS, FUNCTIONS, PARAMETER_AGGREGATIONS
from tsdb.query.parser.ast import (
    COMPARISONS,
    SET_OPERATORS,
    AggregateExpr,
    BinaryExpr,
    Call,
    DurationExpr,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
    walk,
)
from tsdb.timefmt import parse_duration

MAX_DEPTH = 256
"""Deepest bracket nesting accepted (deeper input is refused before parsing)."""

TYPE_NAMES = {"scalar": "scalar", "vector": "instant vector", "matrix": "range vector", "string": "string"}


@cache
def _lark() -> Lark:
    grammar = resources.files("tsdb.query.parser").joinpath("promql.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)


class _SemanticError(Exception):
    """A semantic error at a character position (wrapped by Lark's VisitError)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def _pos(meta: Any) -> int:
    return int(getattr(meta, "start_pos", 0) or 0)


_GO_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
               "'": "'", '"': '"'}


def unquote(token: str, position: int = 0) -> str:
    """A PromQL string literal (double, single or back quotes; Go escapes) -> its value."""
    quote_char, body = token[0], token[1:-1]
    if quote_char == "`":
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            try:
                out += ch.encode()
            except UnicodeEncodeError as err:
                raise _SemanticError(f"invalid character in string {token}", position) from err
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _GO_ESCAPES and (nxt not in "'\"" or nxt == quote_char):
            out += _GO_ESCAPES[nxt].encode()
            i += 2
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise _SemanticError(f"invalid escape sequence in string {token}", position)
            code = int(digits, 16)
            if nxt == "x":
                out.append(code)  # a raw byte, as in Go: it may make the string invalid UTF-8
            else:
                if code > 0x10FFFF or 0xD800 <= code < 0xE000:
                    raise _SemanticError(f"invalid Unicode code point in string {token}", position)
                out += chr(code).encode()
            i += 2 + width
        elif nxt in "01234567":
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or not re.fullmatch(r"[0-7]{3}", digits) or int(digits, 8) > 255:
                raise _SemanticError(f"invalid escape sequence in string {token}", position)
            out.append(int(digits, 8))
            i += 4
        else:
            raise _SemanticError(f"unknown escape sequence in string {token}", position)
    # invalid UTF-8 bytes survive as lone surrogates, so label-name checks can reject them as Go does
    return out.decode("utf-8", errors="surrogateescape")


def parse_number(text: str) -> float:
    """A PromQL number literal (decimal, exponent, hex, Inf, NaN) -> float."""
    lower = text.lower()
    if lower.startswith("0x"):
        return float(int(lower, 16))
    if lower == "inf":
        return math.inf
    if lower == "nan":
        return math.nan
    return float(text)


def _duration_ms(token: Token) -> int:
    text = str(token)
    if token.type == "DURATION":
        return parse_duration(text)
    seconds = parse_number(text)
    if not math.isfinite(seconds):
        raise _SemanticError(f"invalid duration {text}", token.start_pos or 0)
    return round(seconds * 1000)


def _check_operand_types(op: str, lhs: Expr, rhs: Expr, return_bool: bool, position: int) -> None:
    for side in (lhs, rhs):
        if side.type not in ("scalar", "vector"):
            raise _SemanticError("binary expression must contain only scalar and instant vector types", position)
    if return_bool and op not in COMPARISONS:
        raise _SemanticError("bool modifier can only be used on comparison operators", position)
    if op in COMPARISONS and lhs.type == "scalar" and rhs.type == "scalar" and not return_bool:
        raise _SemanticError("comparisons between scalars must use BOOL modifier", position)
    if op in SET_OPERATORS and (lhs.type == "scalar" or rhs.type == "scalar"):
        raise _SemanticError(f'set operator "{op}" not allowed in binary scalar expression', position)


@v_args(inline=True, meta=False)
class _Builder(Transformer[Token, Expr]):
    """Lark tree -> AST with type checks (positions come from tokens)."""

    def __init__(self) -> None:
        super().__init__()
        self.positions: dict[int, int] = {}
        self.exempt: set[int] = set()

    # -- literals ------------------------------------------------------------------------------
    def number(self, token: Token) -> NumberLiteral:
        return NumberLiteral(parse_number(str(token)))

    def duration_number(self, token: Token) -> NumberLiteral:
        return NumberLiteral(parse_duration(str(token)) / 1000)

    def string(self, token: Token) -> StringLiteral:
        return StringLiteral(unquote(str(token), token.start_pos or 0))

    def paren(self, _l: Token, expr: Expr, _r: Token) -> ParenExpr:
        return ParenExpr(expr)

    # -- selectors -----------------------------------------------------------------------------
    def label_name(self, token: Token) -> tuple[str, int]:
        text = str(token)
        if token.type == "STRING":
            return unquote(text, token.start_pos or 0), token.start_pos or 0
        if not is_legacy_label_name(text):
            raise _SemanticError(f'invalid label name "{text}"', token.start_pos or 0)
        return text, token.start_pos or 0

    def match_op(self, token: Token) -> Token:
        return token

    def label_matcher(self, name: tuple[str, int], op: Token, value: Token) -> Matcher:
        try:
            return Matcher(str(op), name[0], unquote(str(value), value.start_pos or 0))
        except InvalidMatcherError as err:
            raise _SemanticError(str(err), value.start_pos or 0) from err

    def name_matcher(self, value: Token) -> _BareName:
        return _BareName(unquote(str(value), value.start_pos or 0), value.start_pos or 0)

    def matchers(self, lbrace: Token, *items: Any) -> tuple[tuple[Matcher, ...], list[_BareName], int]:
        return (tuple(m for m in items if isinstance(m, Matcher)), [b for b in items if isinstance(b, _BareName)],
                lbrace.start_pos or 0)

    def named_selector(self, name: Token, matchers: tuple[tuple[Matcher, ...], list[_BareName], int] | None
                       ) -> VectorSelector:
        found, bare, _ = matchers if matchers else ((), [], 0)
        if bare:
            raise _SemanticError(f'metric name must not be set twice: "{name}" or "{bare[0].name}"', bare[0].position)
        return self._selector(str(name), found, name.start_pos or 0)

    def bare_selector(self, matchers: tuple[tuple[Matcher, ...], list[_BareName], int]) -> VectorSelector:
        found, bare, position = matchers
        if len(bare) > 1:
            raise _SemanticError(f'metric name must not be set twice: "{bare[0].name}" or "{bare[1].name}"',
                                 bare[1].position)
        return self._selector(bare[0].name if bare else None, found, position)

    def _selector(self, name: str | None, found: tuple[Matcher, ...], position: int) -> VectorSelector:
        if name is not None:
            for m in found:
                if m.name == METRIC_NAME:
                    raise _SemanticError(f'metric name must not be set twice: "{name}" or "{m.value}"', position)
            found = (Matcher(MatchType.EQUAL, METRIC_NAME, name), *found)
        selector = VectorSelector(name, found)
        self.positions[id(selector)] = position
        return selector

    # -- postfix modifiers ---------------------------------------------------------------------
    # -- duration expressions: seconds (float) or, when they use step()/range(), a DurationExpr --------
    def dur_literal(self, token: Token) -> tuple[Dur, int]:
        seconds = parse_duration(str(token)) / 1000 if token.type == "DURATION" else parse_number(str(token))
        return seconds, token.start_pos or 0

    def dur_paren(self, _l: Token, value: tuple[Dur, int], _r: Token) -> tuple[Dur, int]:
        return value[0], _l.start_pos or 0

    def dur_neg(self, sign: Token, value: tuple[Dur, int]) -> tuple[Dur, int]:
        if str(sign) == "+":
            return value[0], sign.start_pos or 0
        inner = value[0]
        return (-inner if isinstance(inner, float) else DurationExpr("neg", (inner,))), sign.start_pos or 0

    def dur_binary(self, lhs: tuple[Dur, int], op: Token, rhs: tuple[Dur, int]) -> tuple[Dur, int]:
        a, b = lhs[0], rhs[0]
        symbol = str(op)
        if not isinstance(a, float) or not isinstance(b, float):
            return DurationExpr(symbol, (_as_duration_expr(a), _as_duration_expr(b))), lhs[1]
        try:
            return DurationExpr(symbol, (DurationExpr("num", value=a), DurationExpr("num", value=b))).evaluate(
                0, 0), lhs[1]
        except ZeroDivisionError as err:
            raise _SemanticError("division by zero in duration expression", op.start_pos or 0) from err
        except (OverflowError, ValueError) as err:
            raise _SemanticError(f"invalid duration expression: {err}", op.start_pos or 0) from err

    def dur_call(self, name: Token, _l: Token, *args: Any) -> tuple[Dur, int]:
        values = [a[0] for a in args if isinstance(a, tuple)]
        func = str(name).lower()
        position = name.start_pos or 0
        if func in ("min_of", "max_of") and len(values) == 2:
            if all(isinstance(v, float) for v in values):
                floats = [float(v) for v in values if isinstance(v, float)]
                return (min(floats) if func == "min_of" else max(floats)), position
            return DurationExpr(func, tuple(_as_duration_expr(v) for v in values)), position
        if func in ("step", "range") and not values:
            return DurationExpr(func), position
        raise _SemanticError(f'unknown function with name "{name!s}" in duration expression', position)

    def range_value(self, value: tuple[Dur, int]) -> tuple[int, int, DurationExpr | None]:
        seconds, position = value
        if isinstance(seconds, DurationExpr):
            return 0, position, seconds
        if not math.isfinite(seconds) or abs(seconds) > 9.2e15:
            raise _SemanticError("duration out of range", position)
        return round(seconds * 1000), position, None

    def offset_literal(self, sign: Token | None, token: Token) -> tuple[int, DurationExpr | None]:
        seconds = parse_duration(str(token)) / 1000 if token.type == "DURATION" else parse_number(str(token))
        ms = round(seconds * 1000)
        return (-ms if sign is not None and str(sign) == "-" else ms), None

    def offset_expr(self, sign: Token | None, _l: Token, value: tuple[Dur, int], _r: Token
                    ) -> tuple[int, DurationExpr | None]:
        if sign is not None and str(sign) == "-":
            value = self.dur_neg(sign, value)
        ms, _, expr = self.range_value(value)
        return ms, expr

    def offset_call(self, sign: Token | None, name: Token, lpar: Token, *args: Any) -> tuple[int, DurationExpr | None]:
        return self.offset_expr(sign, lpar, self.dur_call(name, lpar, *args), lpar)

    def range_mode(self, expr: Expr, keyword: Token) -> Expr:
        mode = str(keyword)
        target = expr.vector if isinstance(expr, MatrixSelector) else expr
        if not isinstance(target, VectorSelector):
            raise _SemanticError(f"{mode} modifier must be preceded by an instant vector selector or range vector "
                                 "selector", keyword.start_pos or 0)
        if target.anchored or target.smoothed:
            raise _SemanticError(f"{mode} modifier may not be set multiple times", keyword.start_pos or 0)
        updated = _replace(target, **{mode: True})
        return MatrixSelector(updated, expr.range_ms) if isinstance(expr, MatrixSelector) else updated

    def fill_clause(self, keyword: Token, _l: Token, sign: Token | None, value: Token, _r: Token
                    ) -> tuple[str, float]:
        number = parse_number(str(value))
        return str(keyword).lower(), -number if sign is not None and str(sign) == "-" else number

    def matrix(self, expr: Expr, lbracket: Token, value: tuple[int, int, DurationExpr | None], _r: Token
               ) -> MatrixSelector:
        position = lbracket.start_pos or 0
        if not isinstance(expr, VectorSelector):
            raise _SemanticError("ranges only allowed for vector selectors", position)
        if expr.offset_ms or expr.offset_expr is not None:
            raise _SemanticError("no offset modifiers allowed before range", position)
        if value[0] <= 0 and value[2] is None:
            raise _SemanticError("duration must be greater than 0", value[1])
        return MatrixSelector(expr, value[0], value[2])

    def subquery(self, expr: Expr, lbracket: Token, value: tuple[int, int, DurationExpr | None], _colon: Token,
                 step: tuple[int, int, DurationExpr | None] | None, _r: Token) -> SubqueryExpr:
        position = lbracket.start_pos or 0
        if expr.type != "vector":
            raise _SemanticError(f"subquery is only allowed on instant vector, got {TYPE_NAMES[expr.type]} instead",
                           position)
        if value[0] <= 0 and value[2] is None:
            raise _SemanticError("duration must be greater than 0", value[1])
        if step is not None and step[0] <= 0 and step[2] is None:
            raise _SemanticError("duration must be greater than 0", step[1])
        return SubqueryExpr(expr, value[0], step[0] if step else 0, range_expr=value[2],
                            step_expr=step[2] if step else None)

    def offset(self, expr: Expr, keyword: Token, offset: tuple[int, DurationExpr | None]) -> Expr:
        position = keyword.start_pos or 0
        target = expr.vector if isinstance(expr, MatrixSelector) else expr
        if not isinstance(target, VectorSelector | SubqueryExpr):
            raise _SemanticError("offset modifier must be preceded by an instant vector selector or range vector "
                           "selector or a subquery", position)
        if target.offset_ms or target.offset_expr is not None:
            raise _SemanticError("offset may not be set multiple times", position)
        updated = _replace(target, offset_ms=offset[0], offset_expr=offset[1])
        return MatrixSelector(updated, expr.range_ms) if isinstance(expr, MatrixSelector) else updated

    def at_time(self, sign: Token | None, value: Token) -> tuple[int | None, str | None, int]:
        seconds = parse_duration(str(value)) / 1000 if value.type == "DURATION" else parse_number(str(value))
        if sign is not None and str(sign) == "-":
            seconds = -seconds
        position = value.start_pos or 0
        if not math.isfinite(seconds) or abs(seconds) > 9.2e15:
            raise _SemanticError("timestamp out of bounds for @ modifier", position)
        return round(seconds * 1000), None, position

    def at_fn(self, name: Token, _l: Token, _r: Token) -> tuple[int | None, str | None, int]:
        return None, str(name), name.start_pos or 0

    def at(self, expr: Expr, keyword: Token, value: tuple[int | None, str | None, int]) -> Expr:
        position = keyword.start_pos or 0
        target = expr.vector if isinstance(expr, MatrixSelector) else expr
        if not isinstance(target, VectorSelector | SubqueryExpr):
            raise _SemanticError("@ modifier must be preceded by an instant vector selector or range vector selector "
                           "or a subquery", position)
        if target.at_ms is not None or target.at_modifier:
            raise _SemanticError("@ <timestamp> may not be set multiple times", position)
        updated = _replace(target, at_ms=value[0], at_modifier=value[1])
        return MatrixSelector(updated, expr.range_ms) if isinstance(expr, MatrixSelector) else updated

    # -- calls and aggregations ----------------------------------------------------------------
    def call(self, name: Token, _l: Token, *rest: Any) -> Call:
        args = tuple(a for a in rest if isinstance(a, Expr))
        func = str(name)
        position = name.start_pos or 0
        spec = FUNCTIONS.get(func)
        if spec is None:
            raise _SemanticError(f'unknown function with name "{func}"', position)
        fixed = len(spec.arg_types)
        if spec.variadic == 0:
            ok = len(args) == fixed
            expected = str(fixed)
        elif spec.variadic > 0:
            ok = fixed - spec.variadic <= len(args) <= fixed
            expected = f"at most {fixed}" if len(args) > fixed else f"at least {fixed - spec.variadic}"
        else:
            ok = len(args) >= fixed - 1
            expected = f"at least {fixed - 1}"
        if not ok:
            raise _SemanticError(f'expected {expected} argument(s) in call to "{func}", got {len(args)}', position)
        for i, arg in enumerate(args):
            want = spec.arg_types[min(i, fixed - 1)]
            if arg.type != want:
                raise _SemanticError(f'expected type {TYPE_NAMES[want]} in call to function "{func}", got '
                               f"{TYPE_NAMES[arg.type]}", position)
        if func == "info" and len(args) == 2:
            if not isinstance(args[1], VectorSelector) or args[1].name is not None:
                raise _SemanticError("expected label selectors only, got vector selector instead", position)
            self.exempt.add(id(args[1]))  # info()'s label selector may match everything
        return Call(func, args)

    def grouping(self, keyword: Token, labels: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
        return str(keyword).lower() == "without", labels

    def aggregate(self, op: Token, before: tuple[bool, tuple[str, ...]] | None, _l: Token, *rest: Any
                  ) -> AggregateExpr:
        after = rest[-1]
        args = [a for a in rest[:-1] if isinstance(a, Expr)]
        name = str(op).lower()
        position = op.start_pos or 0
        if before is not None and after is not None:
            raise _SemanticError("aggregation must only contain one grouping clause", position)
        without, grouping = before or after or (False, ())
        wants_param = name in PARAMETER_AGGREGATIONS
        if len(args) != (2 if wants_param else 1):
            raise _SemanticError(f"wrong number of arguments for aggregate expression provided, expected "
                           f"{2 if wants_param else 1}, got {len(args)}", position)
        param = args[0] if wants_param else None
        expr = args[-1]
        if expr.type != "vector":
            raise _SemanticError(f"expected type instant vector in aggregation expression, got {TYPE_NAMES[expr.type]}",
                           position)
        if param is not None and param.type != PARAMETER_AGGREGATIONS[name]:
            raise _SemanticError(f"expected type {TYPE_NAMES[PARAMETER_AGGREGATIONS[name]]} in aggregation parameter, "
                           f"got {TYPE_NAMES[param.type]}", position)
        return AggregateExpr(name, expr, param, grouping, without)

    # -- operators -----------------------------------------------------------------------------
    def label_list(self, _l: Token, *items: Any) -> tuple[str, ...]:
        names = [n for n, _ in (i for i in items if isinstance(i, tuple))]
        return tuple(names)

    def cmp_op(self, token: Token) -> Token:
        return token

    def group_clause(self, keyword: Token, labels: tuple[str, ...] | None) -> tuple[str, tuple[str, ...]]:
        return str(keyword).lower(), labels or ()

    def on_clause(self, keyword: Token, labels: tuple[str, ...], group: tuple[str, tuple[str, ...]] | None
                  ) -> tuple[bool, tuple[str, ...], tuple[str, tuple[str, ...]] | None]:
        return str(keyword).lower() == "on", labels, group

    def bin_mods(self, bool_token: Token | None, on_clause: Any, *fills: tuple[str, float]
                 ) -> tuple[bool, Any, list[tuple[str, float]]]:
        return bool_token is not None, on_clause, list(fills)

    def binary(self, lhs: Expr, op: Token, mods: tuple[bool, Any, list[tuple[str, float]]], rhs: Expr) -> Expr:
        name = str(op).lower()
        position = op.start_pos or 0
        return_bool, clause, fills = mods
        _check_operand_types(name, lhs, rhs, return_bool, position)
        both_vectors = lhs.type == "vector" and rhs.type == "vector"
        if not both_vectors and (fills or (clause is not None and (clause[0] or clause[1] or clause[2]))):
            raise _SemanticError("vector matching only allowed between instant vectors", position)
        if not both_vectors:
            return BinaryExpr(name, lhs, rhs, return_bool, None)
        fill_lhs = fill_rhs = None
        for kind, value in fills:
            if kind in ("fill", "fill_left"):
                fill_lhs = value
            if kind in ("fill", "fill_right"):
                fill_rhs = value
        on, labels, group = clause if clause is not None else (False, (), None)
        card = "one-to-one"
        include: tuple[str, ...] = ()
        if group is not None:
            if name in SET_OPERATORS:
                raise _SemanticError(f'no grouping allowed for "{name}" operation', position)
            card = "many-to-one" if group[0] == "group_left" else "one-to-many"
            include = group[1]
            if on:
                for label in include:
                    if label in labels:
                        raise _SemanticError(f'label "{label}" must not occur in ON and GROUP clause at once', position)
        if name in SET_OPERATORS:
            card = "many-to-many"
            if fills:
                raise _SemanticError(f'fill modifiers are not allowed for "{name}" operation', position)
        return BinaryExpr(name, lhs, rhs, return_bool, VectorMatching(card, on, labels, include, fill_lhs, fill_rhs))

    def unary(self, op: Token, expr: Expr) -> Expr:
        if expr.type not in ("scalar", "vector"):
            raise _SemanticError("unary expression only allowed on expressions of type scalar or instant vector",
                           op.start_pos or 0)
        if str(op) == "+":
            return expr
        if isinstance(expr, NumberLiteral):
            return NumberLiteral(-expr.value)
        return UnaryExpr("-", expr)


Dur = float | DurationExpr
"""A duration expression's value while parsing: seconds, or a tree using step()/range()."""


def _as_duration_expr(value: Dur) -> DurationExpr:
    return value if isinstance(value, DurationExpr) else DurationExpr("num", value=value)


class _BareName:
    """A quoted metric name standing alone inside braces: ``{"my.metric"}``."""

    def __init__(self, name: str, position: int) -> None:
        self.name = name
        self.position = position


def _replace(node: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(node, **changes)


def _check_selectors(expr: Expr, builder: _Builder, query: str) -> None:
    """Every vector selector (except info()'s label selector) needs a matcher that rejects the empty value."""
    for node in walk(expr):
        if (isinstance(node, VectorSelector) and id(node) not in builder.exempt
                and not any(not m.matches_empty() for m in node.matchers)):
                raise ParseError("vector selector must contain at least one non-empty matcher", query,
                                 builder.positions.get(id(node), 0))


def _check_depth(query: str) -> None:
    depth = 0
    for i, ch in enumerate(query):
        if ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels", query, i)
        elif ch in ")]}":
            depth -= 1


def _describe(token: Token) -> str:
    if token.type == "$END":
        return "end of input"
    kinds = {"IDENTIFIER": "identifier", "NUMBER": "number", "DURATION": "duration", "STRING": "string"}
    kind = kinds.get(token.type)
    return f'{kind} "{token}"' if kind else f'"{token}"'


def parse(query: str) -> Expr:
    """Parse and type-check a PromQL expression; raises :class:`ParseError` naming the position."""
    if not re.sub(r"#[^\n]*", "", query).strip():
        raise ParseError("no expression found in input", query, 0)
    _check_depth(query)
    try:
        tree = _lark().parse(query)
        builder = _Builder()
        expr = builder.transform(tree)
        _check_selectors(expr, builder, query)
        return expr
    except UnexpectedEOF as err:
        raise ParseError("unexpected end of input", query, len(query)) from err
    except UnexpectedToken as err:
        if err.token.type == "$END":
            raise ParseError("unexpected end of input", query, len(query)) from err
        raise ParseError(f"unexpected {_describe(err.token)}", query, err.token.start_pos or 0) from err
    except UnexpectedCharacters as err:
        where = int(err.pos_in_stream or 0)
        char = query[where] if where < len(query) else ""
        raise ParseError(f"unexpected character: {char!r}", query, where) from err
    except UnexpectedInput as err:  # pragma: no cover - the three above are exhaustive for LALR
        raise ParseError(str(err), query, getattr(err, "pos_in_stream", 0) or 0) from err
    except VisitError as err:
        inner = err.orig_exc
        if isinstance(inner, _SemanticError):
            raise ParseError(inner.message, query, inner.position) from None
        if isinstance(inner, InvalidArgumentError):
            raise ParseError(str(inner), query, 0) from None
        if isinstance(inner, RecursionError):
            raise ParseError("expression nested too deeply", query, 0) from None
        raise
    except RecursionError as err:
        raise ParseError("expression nested too deeply", query, 0) from err


def parse_matchers(text: str) -> list[Matcher]:
    """A series selector (``up{job="x"}`` or ``{a="b"}``) as used in ``match[]`` -> its matchers."""
    expr = parse(text)
    if not isinstance(expr, VectorSelector) or expr.offset_ms or expr.at_ms is not None or expr.at_modifier:
        raise ParseError("expected a series selector such as up{job=\"x\"}", text, 0)
    return list(expr.matchers)


__all__ = ["AGGREGATIONS", "parse", "parse_matchers", "parse_number", "unquote"]
