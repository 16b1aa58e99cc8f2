"""The PromQL parser: constructs, precedence, type errors with positions, round-trips, fuzzing."""

from __future__ import annotations

import contextlib
import math
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.errors import ParseError
from tsdb.labels import Matcher
from tsdb.query.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
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
from tsdb.query.durations import format_duration, parse_duration
from tsdb.query.parser import parse, parse_matchers, unquote

# Prometheus's PromQL test scripts (promql/promqltest/testdata): see tests/query/test_promql_conformance.py
CORPUS = Path(os.environ.get("PROMQL_TESTS") or Path(__file__).resolve().parents[2].parent / "shared" / "promql-tests")


def sel(name: str, *matchers: Matcher, **kw: object) -> VectorSelector:
    return VectorSelector(name, (Matcher("=", "__name__", name), *matchers), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("1", NumberLiteral(1.0)), ("0x1F", NumberLiteral(31.0)), ("1e3", NumberLiteral(1000.0)),
        (".5", NumberLiteral(0.5)), ("5.", NumberLiteral(5.0)), ("-Inf", NumberLiteral(-math.inf)),
        ("1m", NumberLiteral(60.0)), ('"a\\tb"', StringLiteral("a\tb")), ("'x'", StringLiteral("x")),
        ("`a\\n`", StringLiteral("a\\n")), ("foo", sel("foo")),
        ('foo{a="b", c!="d", e=~"f.*", g!~"h"}', sel("foo", Matcher("=", "a", "b"), Matcher("!=", "c", "d"),
                                                     Matcher("=~", "e", "f.*"), Matcher("!~", "g", "h"))),
        ('{__name__=~"a.*"}', VectorSelector(None, (Matcher("=~", "__name__", "a.*"),))),
        ('{"my.metric"}', sel("my.metric")), ("job:rate5m", sel("job:rate5m")),
        ("foo[5m]", MatrixSelector(sel("foo"), 300_000)), ("foo[90]", MatrixSelector(sel("foo"), 90_000)),
        ("foo offset 5m", sel("foo", offset_ms=300_000)), ("foo offset -1h", sel("foo", offset_ms=-3_600_000)),
        ("foo @ 100", sel("foo", at_ms=100_000)), ("foo @ end()", sel("foo", at_modifier="end")),
        ("foo[1m] offset 1m @ 5", MatrixSelector(sel("foo", offset_ms=60_000, at_ms=5000), 60_000)),
        ("foo[5m:]", SubqueryExpr(sel("foo"), 300_000, 0)), ("foo[5m:30s]", SubqueryExpr(sel("foo"), 300_000, 30_000)),
        ("rate(foo[5m])", Call("rate", (MatrixSelector(sel("foo"), 300_000),))),
        ("sum by (a) (foo)", AggregateExpr("sum", sel("foo"), None, ("a",), False)),
        ("SUM(foo) WITHOUT (a, b,)", AggregateExpr("sum", sel("foo"), None, ("a", "b"), True)),
        ("topk(3, foo)", AggregateExpr("topk", sel("foo"), NumberLiteral(3.0))),
        ('count_values("v", foo)', AggregateExpr("count_values", sel("foo"), StringLiteral("v"))),
        ("-foo", UnaryExpr("-", sel("foo"))), ("+foo", sel("foo")), ("(foo)", ParenExpr(sel("foo"))),
        ("foo > bool 1", BinaryExpr(">", sel("foo"), NumberLiteral(1.0), True)),
        ("a / on(x) group_left(y) b", BinaryExpr("/", sel("a"), sel("b"), False,
                                                 VectorMatching("many-to-one", True, ("x",), ("y",)))),
        ("a + ignoring(x) group_right b", BinaryExpr("+", sel("a"), sel("b"), False,
                                                     VectorMatching("one-to-many", False, ("x",), ()))),
        ("a and b", BinaryExpr("and", sel("a"), sel("b"), False, VectorMatching("many-to-many"))),
        ("a # comment\n + 1", BinaryExpr("+", sel("a"), NumberLiteral(1.0))),
        ("sum(on)", AggregateExpr("sum", sel("on"))),
    ],
)
def test_constructs(query: str, expected: object) -> None:
    assert parse(query) == expected


@pytest.mark.parametrize(
    ("query", "shape"),
    [("1 + 2 * 3", "(1 + (2 * 3))"), ("2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))"), ("-2 ^ 2", "(-(2 ^ 2))"),
     ("a or b and c", "(a or (b and c))"), ("a - b - c", "((a - b) - c)"), ("a == b + c", "(a == (b + c))"),
     ("a unless b or c", "((a unless b) or c)"), ("a * b atan2 c", "((a * b) atan2 c)"),
     ("2 ^ -1", "(2 ^ -1)")],
)
def test_precedence_and_associativity(query: str, shape: str) -> None:
    def render(node: object) -> str:
        if isinstance(node, BinaryExpr):
            return f"({render(node.lhs)} {node.op} {render(node.rhs)})"
        if isinstance(node, UnaryExpr):
            return f"(-{render(node.expr)})"
        if isinstance(node, VectorSelector):
            return node.name or ""
        return str(node)

    assert render(parse(query)) == shape


@pytest.mark.parametrize(
    ("query", "message", "column"),
    [
        ("sum(", "unexpected end of input", 4), ("foo{a=}", 'unexpected "}"', 6),
        ("rate(foo)", 'expected type range vector in call to function "rate", got instant vector', 0),
        ("abs(foo[5m])", 'expected type instant vector in call to function "abs", got range vector', 0),
        ("nope(foo)", 'unknown function with name "nope"', 0),
        ("round()", 'expected at least 1 argument(s) in call to "round", got 0', 0),
        ("abs(a, b)", 'expected 1 argument(s) in call to "abs", got 2', 0),
        ("{}", "vector selector must contain at least one non-empty matcher", 0),
        ('{a=~".*"}', "vector selector must contain at least one non-empty matcher", 0),
        ("1 > 2", "comparisons between scalars must use BOOL modifier", 2),
        ("a + bool b", "bool modifier can only be used on comparison operators", 2),
        ("1 and a", 'set operator "and" not allowed in binary scalar expression', 2),
        ("foo[5m] + 1", "binary expression must contain only scalar and instant vector types", 8),
        ("(foo)[5m]", "ranges only allowed for vector selectors", 5),
        ("foo[5m][5m]", "ranges only allowed for vector selectors", 7),
        ("foo offset 1m offset 1m", "offset may not be set multiple times", 14),
        ("1 offset 1m", "offset modifier must be preceded by", 2),
        ("foo @ 1 @ 2", "may not be set multiple times", 8),
        ("sum(foo[5m])", "expected type instant vector in aggregation expression, got range vector", 0),
        ("topk(foo, bar)", "expected type scalar in aggregation parameter, got instant vector", 0),
        ("sum(1, foo)", "wrong number of arguments for aggregate expression provided, expected 1, got 2", 0),
        ("sum by (a) (foo) by (b)", "aggregation must only contain one grouping clause", 0),
        ('foo{__name__="bar"}', 'metric name must not be set twice: "foo" or "bar"', 0),
        ("a and on(x) group_left b", 'no grouping allowed for "and" operation', 2),
        ("a + on(x) group_left(x) b", 'label "x" must not occur in ON and GROUP clause at once', 2),
        ("1 + on(x) 2", "vector matching only allowed between instant vectors", 2),
        ('-"a"', "unary expression only allowed", 0), ("foo[0s]", "duration must be greater than 0", 4),
        ("foo[5m:0s]", "duration must be greater than 0", 7), ('foo{a=~"("}', "invalid regular expression", 7),
        ("foo !", "unexpected character: '!'", 4), ("", "no expression found", 0),
        ('"\\q"', "unknown escape sequence", 0), ("foo @ Inf", "timestamp out of bounds", 6),
        ("a[5m:1m][1m:]", "subquery is only allowed on instant vector, got range vector", 8),
    ],
)
def test_errors_name_the_position(query: str, message: str, column: int) -> None:
    with pytest.raises(ParseError) as exc:
        parse(query)
    assert message in exc.value.message
    assert exc.value.position == column
    assert str(exc.value).endswith("^") or not query


def test_deep_nesting_is_refused_not_crashing() -> None:
    with pytest.raises(ParseError, match="nested deeper"):
        parse("(" * 10_000 + "1" + ")" * 10_000)
    assert parse("(" * 100 + "1" + ")" * 100) is not None


def test_strings_and_durations() -> None:
    assert unquote('"\\x41\\101\\u00e9\\U0001F600"') == "AAé😀"
    assert unquote('"\\xff"') == "\udcff"  # an invalid UTF-8 byte survives and fails label checks later
    assert parse_duration("1h30m") == 5_400_000 and parse_duration("0") == 0 and parse_duration("1y2w") > 0
    assert format_duration(5_400_000) == "1h30m" and format_duration(0) == "0s" and format_duration(-1) == "-1ms"
    for bad in ("1m1h", "1x", "", "h", "1mm"):
        with pytest.raises(ValueError, match="not a valid duration"):
            parse_duration(bad)


def test_parse_matchers() -> None:
    assert parse_matchers('up{job="a"}') == [Matcher("=", "__name__", "up"), Matcher("=", "job", "a")]
    with pytest.raises(ParseError, match="series selector"):
        parse_matchers("sum(up)")


def _corpus_queries() -> list[str]:
    queries = []
    for path in sorted(CORPUS.glob("*.test")):
        for line in path.read_text().splitlines():
            match = re.match(r"\s*eval(?:_fail|_warn|_info|_ordered)?\s+(?:instant|range)\s+(?:at\s+\S+|from\s+\S+"
                             r"\s+to\s+\S+\s+step\s+\S+)\s+(.*)$", line)
            if match:
                queries.append(match.group(1).strip())
    return queries


@pytest.mark.skipif(not CORPUS.exists(), reason="Prometheus's PromQL test scripts are not present")
def test_every_corpus_query_round_trips() -> None:
    parsed = failed = 0
    for query in _corpus_queries():
        try:
            expr = parse(query)
        except ParseError:
            failed += 1
            continue
        parsed += 1
        assert parse(str(expr)) == expr, f"{query!r} printed as {str(expr)!r}"
    assert parsed > 1500, (parsed, failed)


names = st.sampled_from(["foo", "bar", "job:rate5m", "on", "my.metric"])
labels = st.sampled_from(["a", "job", "instance", "le", "la.bel"])
durations = st.integers(1, 10_000).map(lambda n: n * 1000)
selectors = st.builds(
    lambda name, ms, offset, at: VectorSelector(name, (Matcher("=", "__name__", name), *ms), offset, at),
    names, st.lists(st.builds(Matcher, st.sampled_from(["=", "!=", "=~", "!~"]), labels,
                              st.sampled_from(["x", "a.*", 'q"uote', ""])), max_size=2).map(tuple),
    st.sampled_from([0, 60_000, -300_000]), st.sampled_from([None, 100_000, -5_000]))
numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=0).map(NumberLiteral)


def _vector_exprs(inner: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.one_of(
        st.builds(lambda f, v, r: Call(f, (MatrixSelector(v, r),)), st.sampled_from(["rate", "sum_over_time"]),
                  selectors, durations),
        st.builds(lambda op, e, g, w: AggregateExpr(op, e, None, tuple(g), w), st.sampled_from(["sum", "max"]),
                  inner, st.lists(labels, max_size=2, unique=True), st.booleans()),
        st.builds(lambda op, a, b: BinaryExpr(op, a, b, False, VectorMatching("one-to-one")),
                  st.sampled_from(["+", "-", "*", "/", "^", "%"]), inner, inner),
        st.builds(lambda a, n: BinaryExpr(">", a, n, True, None), inner, numbers),
        st.builds(ParenExpr, inner), st.builds(lambda e: UnaryExpr("-", e), inner),
        st.builds(lambda e, r, s: Call("max_over_time", (SubqueryExpr(Call("rate", (MatrixSelector(e, 60_000),)),
                                                                      r, s),)),
                  selectors, durations, st.sampled_from([0, 15_000])),
    )


vector_exprs = st.recursive(selectors, _vector_exprs, max_leaves=8)


@given(vector_exprs)
@settings(max_examples=300)
def test_generated_asts_round_trip(expr: object) -> None:
    text = str(expr)
    parsed = parse(text)
    assert str(parsed) == text
    assert parse(str(parsed)) == parsed


@given(st.text(max_size=60))
@settings(max_examples=400)
def test_arbitrary_text_never_crashes(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse(text)


@pytest.mark.skipif(not CORPUS.exists(), reason="Prometheus's PromQL test scripts are not present")
@given(st.data())
@settings(max_examples=300)
def test_mutated_corpus_queries_never_crash(data: st.DataObject) -> None:
    queries = _CORPUS_QUERIES or ["sum(rate(foo[5m]))"]
    query = data.draw(st.sampled_from(queries))
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(query)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        char = data.draw(st.sampled_from([*list("()[]{}\"'`,:@+-*/^=!~<>#\\ 0a."), "offset", "by", "\n"]))
        if action == "insert":
            query = query[:pos] + char + query[pos:]
        elif action == "delete":
            query = query[:pos] + query[pos + 1:]
        else:
            query = query[:pos] + char + query[pos + 1:]
    try:
        expr = parse(query)
    except ParseError:
        return
    assert all(node is not None for node in walk(expr))


_CORPUS_QUERIES = _corpus_queries() if CORPUS.exists() else []


@pytest.mark.parametrize(
    ("query", "printed"),
    [("changes(h[26m+4m])", "changes(h[30m])"), ("h[2m*(10+5)]", "h[30m]"), ("h[1h30m % 1h]", "h[30m]"),
     ("m[29s+1s:((((8 - 2) / 3) * 7s) % 4) + 8000ms]", "m[30s:10s]"), ("m offset (100 + 2)", "m offset 1m42s"),
     ("m offset 2 ^ 2", "m offset 2s ^ 2"), ("m offset -(20*2)", "m offset -40s"), ("h[min_of(1m, 2m)]", "h[1m]"),
     ("h[max_of(1m, 2m)]", "h[2m]"), ("h[-5m+35m]", "h[30m]"),
     ("increase(m[1m] anchored)", "increase(m[1m] anchored)"), ("m smoothed", "m smoothed"),
     ("a + fill(0) b", "a + fill(0) b"), ("a + fill_left(5) fill_right(-7) b", "a + fill_left(5) fill_right(-7) b"),
     ("a == fill(NaN) b", "a == fill(NaN) b"), ("other + fill", "other + fill"),
     ("foo @ 100 [1m]", "foo[1m] @ 100.000"),
     ("3 > bool ignoring() foo", "3 > bool foo"), ("h[step()]", "h[step()]"),
     ("max_over_time(h[min_of(step() + 1, 1h):range()])", "max_over_time(h[min_of((step() + 1), 3600):range()])"),
     ("h offset -step() * 2", "h offset (-(step())) * 2"),
     ("m offset max_of(3s, min_of(step(), 1s)) + 8000", "m offset (max_of(3, min_of(step(), 1))) + 8000")],
)
def test_experimental_syntax(query: str, printed: str) -> None:
    expr = parse(query)
    assert str(expr) == printed
    assert parse(str(expr)) == expr


@pytest.mark.parametrize(
    ("query", "message"),
    [("h[1m/0]", "division by zero"),
     ("h[nope(1)]", 'unknown function with name "nope" in duration expression'),
     ("a and fill(0) b", "fill modifiers are not allowed"), ("1 + fill(0) a", "vector matching only allowed"),
     ("sum(a) anchored", "anchored modifier must be preceded by"), ("a anchored smoothed", "may not be set multiple"),
     ("foo offset 1m [5m]", "no offset modifiers allowed before range"),
     ("info(a, b)", "expected label selectors only"),
     ("# only a comment", "no expression found"), ("h[1e400s]", "unexpected")],
)
def test_experimental_syntax_errors(query: str, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        parse(query)
