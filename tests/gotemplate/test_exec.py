"""Execution as Go's ``text/template``: cases from ``src/text/template/exec_test.go`` (``execTests``,
``TestComparison``, ``TestMissingMapKey``, ``TestExecuteError``) with its data ``tVal`` rebuilt from Python
values; the expected outputs are Go's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tsdb.gotemplate import execute
from tsdb.gotemplate.template import TemplateError, TemplateSet
from tsdb.gotemplate.values import AnyMap


@dataclass
class U:
    V: str = "v"


@dataclass
class T:
    """The subset of exec_test.go's T the cases use."""

    True_: bool = True
    I: int = 17  # noqa: E741 - exec_test.go's field name
    X: str = "x"
    FloatZero: float = 0.0
    U: U = field(default_factory=U)
    MSI: dict[str, int] = field(default_factory=lambda: {"one": 1, "two": 2, "three": 3})
    MSIone: dict[str, int] = field(default_factory=lambda: {"one": 1})
    MSIEmpty: dict[str, int] = field(default_factory=dict)
    SI: list[int] = field(default_factory=lambda: [3, 4, 5])
    SIEmpty: list[int] = field(default_factory=list)
    SB: list[bool] = field(default_factory=lambda: [True, False])
    S: str = "xyz"
    Empty0: Any = None

    def Method0(self) -> str:  # noqa: N802 - Go's exported method name
        return "M0"

    def Method1(self, a: int) -> int:  # noqa: N802
        return a

    def Method2(self, a: int, b: str) -> str:  # noqa: N802
        return f"Method2: {a} {b}"


def _die() -> bool:
    raise AssertionError("die() called: and/or must short-circuit")


FUNCS = {"zeroArgs": lambda: "zeroArgs", "oneArg": lambda a: "oneArg=" + a, "die": _die,
         "count": lambda n: [chr(ord("a") + i) for i in range(n)]}


def run(text: str, data: Any = None, **options: str) -> str:
    ts = TemplateSet(FUNCS)
    for key, value in options.items():
        ts.option(f"{key}={value}")
    return ts.execute_text(text, T() if data is None else data, "t")


@pytest.mark.parametrize(("text", "expected"), [
    ("", ""),
    ("some text", "some text"),
    ("-{{.X}}-", "-x-"),
    ("{{.MSI.one}}", "1"),
    ("{{.U.V}}", "v"),
    ("{{$}}", "{true 17 x 0 {v} map[one:1 three:3 two:2] map[one:1] map[] [3 4 5] [] [true false] xyz <nil>}"),
    ("{{$.I}}", "17"),
    ("{{$x := .}}{{$x.I}}", "17"),
    ("{{$x := $.U.V}}{{$x}}", "v"),
    ("{{$x := 2}}{{$x = 3}}{{$x}}", "3"),
    ("{{$x := 2}}{{if true}}{{$x = 3}}{{end}}{{$x}}", "3"),
    ("{{$x := 1}}{{if true}}{{$x := 2}}{{if true}}{{$x = 3}}{{end}}{{end}}{{$x}}", "1"),
    ("{{.Method0}}", "M0"),
    ("{{.Method1 1234}}", "1234"),
    ('{{.Method2 .I "hi"}}', "Method2: 17 hi"),
    ("{{zeroArgs}}", "zeroArgs"),
    ('{{oneArg "joe"}}', "oneArg=joe"),
    ('{{printf "hello, printf"}}', "hello, printf"),
    ('{{printf "%04x" 127}}', "007f"),
    ('{{printf "%g" 3.5}}', "3.5"),
    ('{{printf "%s" "hello"}}', "hello"),
    ('{{printf "%#q" zeroArgs}}', "`zeroArgs`"),
    ('{{printf "%s" .U.V}}', "v"),
    ('{{with .I}}{{printf "%d" .}}{{end}}', "17"),
    ('{{with $x := .I}}{{printf "%d" $x}}{{end}}', "17"),
    ('{{printf "%d %s %s" 127 "hello" .Method0}}', "127 hello M0"),
    ('{{html "<script>alert(\\"XSS\\");</script>"}}', "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;"),
    ('{{printf "<script>alert(\\"XSS\\");</script>" | html}}',
     "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;"),
    ("{{html .Empty0}}", "&lt;no value&gt;"),
    ("{{js `It'd be nice.`}}", "It\\'d be nice."),
    ('{{js "<html>"}}', "\\u003Chtml\\u003E"),
    ('{{"http://www.example.org/"|urlquery}}', "http%3A%2F%2Fwww.example.org%2F"),
    ("{{not true}} {{not false}}", "false true"),
    ("{{and false 0}} {{and 1 0}} {{and 0 true}} {{and 1 1}}", "false 0 0 1"),
    ("{{or 0 0}} {{or 1 0}} {{or 0 true}} {{or 1 1}}", "0 1 true 1"),
    ("{{or 0 1 (die)}}", "1"),
    ("{{and 1 0 (die)}}", "0"),
    ("{{1 | and 1}}", "1"),
    ("{{0 | and 1}}", "0"),
    ("{{1 | or 0}}", "1"),
    ("{{0 | or 0}}", "0"),
    ("{{and 1 .MSI.Unknown}}", "<no value>"),
    ("{{or 0 .MSI.Unknown}}", "<no value>"),
    ("{{if and true 1 `hi`}}TRUE{{else}}FALSE{{end}}", "TRUE"),
    ("{{if and true 1 `hi` | not}}TRUE{{else}}FALSE{{end}}", "FALSE"),
    ("{{if true | not | and 1}}TRUE{{else}}FALSE{{end}}", "FALSE"),
    ("{{if 1.5}}NON-ZERO{{else}}ZERO{{end}}", "NON-ZERO"),
    ("{{if .FloatZero}}NON-ZERO{{else}}ZERO{{end}}", "ZERO"),
    ("{{if ``}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
    ("{{if .SIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
    ("{{if .MSIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
    ("{{if false}}FALSE{{else if true}}TRUE{{end}}", "TRUE"),
    ("{{if eq 1 3}}1{{else if eq 2 3}}2{{else if eq 3 3}}3{{end}}", "3"),
    ('{{print "hello, print"}}', "hello, print"),
    ("{{print 1 2 3}}", "1 2 3"),
    ("{{print nil}}", "<nil>"),
    ("{{println 1 2 3}}", "1 2 3\n"),
    ("{{with true}}{{.}}{{end}}", "true"),
    ("{{with ``}}{{.}}{{else}}EMPTY{{end}}", "EMPTY"),
    ("{{with $x := .I}}{{$x}}{{end}}", "17"),
    ("{{with $x := $}}{{$y := $.U.V}}{{$y}}{{end}}", "v"),
    ("{{with 0}}{{.}}{{else with true}}{{.}}{{end}}", "true"),
    ("{{range .SI}}-{{.}}-{{end}}", "-3--4--5-"),
    ("{{range .SIEmpty}}-{{.}}-{{end}}", ""),
    ("{{range .SI}}-{{.}}-{{else}}EMPTY{{end}}", "-3--4--5-"),
    ("{{range .SIEmpty}}-{{.}}-{{else}}EMPTY{{end}}", "EMPTY"),
    ("{{range .SI}}-{{.}}-{{break}}NOTREACHED{{else}}EMPTY{{end}}", "-3-"),
    ("{{range .SI}}-{{.}}-{{continue}}NOTREACHED{{else}}EMPTY{{end}}", "-3--4--5-"),
    ("{{range .SB}}-{{.}}-{{end}}", "-true--false-"),
    ("{{range .MSI}}-{{.}}-{{end}}", "-1--3--2-"),
    ("{{range $x := .SI}}<{{$x}}>{{end}}", "<3><4><5>"),
    ("{{range $x, $y := .SI}}<{{$x}}={{$y}}>{{end}}", "<0=3><1=4><2=5>"),
    ("{{range $x := .MSIone}}<{{$x}}>{{end}}", "<1>"),
    ("{{range $x, $y := .MSIone}}<{{$x}}={{$y}}>{{end}}", "<one=1>"),
    ("{{range $x := .SI}}<{{$foo:=$x}}{{$x}}>{{end}}", "<3><4><5>"),
    ("{{range $i, $x := count 5}}[{{$i}}]{{$x}}{{end}}", "[0]a[1]b[2]c[3]d[4]e"),
    ("{{ range $v := 5 }}{{ $v }}{{ end }}", "01234"),
    ("{{index .SI 1}}", "4"),
    ("{{index .MSI `two`}}", "2"),
    ("{{index .MSI `xxx`}}", "<no value>"),
    ("{{slice .SI}}", "[3 4 5]"),
    ("{{slice .SI 1}}", "[4 5]"),
    ("{{slice .SI 1 2}}", "[4]"),
    ("{{slice .S}}", "xyz"),
    ("{{slice .S 0 1}}", "x"),
    ("{{len .SI}}", "3"),
    ("{{len .S}}", "3"),
    ("{{.X | printf `%s`}}", "x"),
    ('{{"x" | printf "%s %s" "y"}}', "y x"),
    ("{{(.U).V}}", "v"),
    ('{{(printf "%s" "z")}}', "z"),
    ('{{define "a"}}A{{.}}{{end}}{{template "a" .I}}', "A17"),
    ('{{define "a"}}A{{.}}{{end}}{{template "a"}}', "A<no value>"),
    ('a{{block "inner" .I}}bar{{.}}baz{{end}}b', "abar17bazb"),
    ("x \r\n\t{{- 1 -}}\n\n\ty", "x1y"),
    ("{{- 3 }} {{- 4 -}} ", "34"),
    ("{{/* a comment */}}ok", "ok"),
    ("{{ 'a' }} {{ '\\n' }} {{ 0x10 }} {{ 0o17 }} {{ 017 }}", "97 10 16 15 15"),
    ("{{ 1_000 }} {{ 1e3 }} {{ .5 }}", "1000 1000 0.5"),
    ("{{ -0x1e }}", "-30"),
])
def test_exec_as_go(text: str, expected: str) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # TestComparison of exec_test.go
    ("{{eq true true}}", "true"), ("{{eq true false}}", "false"), ("{{eq 1 1}}", "true"),
    ("{{eq 1 2}}", "false"), ("{{eq 1.5 1.5}}", "true"), ("{{eq `xy` `xy`}}", "true"),
    ("{{eq `xy` `xyz`}}", "false"), ("{{eq 3 4 5 6 3}}", "true"), ("{{eq 3 4 5 6 7}}", "false"),
    ("{{ne 1 2}}", "true"), ("{{ne `xy` `xy`}}", "false"), ("{{lt 1 2}}", "true"), ("{{lt 2 1}}", "false"),
    ("{{lt 1.5 2.5}}", "true"), ("{{lt `xy` `xz`}}", "true"), ("{{le 1 1}}", "true"), ("{{gt 2 1}}", "true"),
    ("{{ge 1 1}}", "true"), ("{{ge 1 2}}", "false"), ("{{eq .MSI.nope .MSI.nope}}", "true"),
])
def test_comparison(text: str, expected: str) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("{{eq `xy` 1}}", 'template: t:1:2: executing "t" at <eq `xy` 1>: error calling eq: incompatible types for '
                      "comparison"),
    ("{{eq 2 2.0}}", "error calling eq: incompatible types for comparison"),
    ("{{lt true true}}", "error calling lt: invalid type for comparison"),
    ("{{lt .SI 1}}", "error calling lt: invalid type for comparison"),
    ("{{eq 1}}", "error calling eq: missing argument for comparison"),
    ("{{nil}}", 'template: t:1:2: executing "t" at <nil>: nil is not a command'),
    ("{{.MSI.one 1}}", "one is not a method but has arguments"),
    ("{{.X 1}}", "X has arguments but cannot be invoked as function"),
    ("{{.Nope}}", 'executing "t" at <.Nope>: can\'t evaluate field Nope in type T'),
    ("{{.I.Nope}}", "can't evaluate field Nope in type int"),
    ("{{.Method1}}", "wrong number of args for Method1: want 1 got 0"),
    ("{{oneArg}}", 'at <oneArg>: wrong number of args for oneArg: want 1 got 0'),
    ("{{printf}}", "wrong number of args for printf: want at least 1 got 0"),
    ("{{printf 1}}", "expected string; found 1"),
    ("{{1 | printf}}", "wrong type for value; expected string; got int"),
    ("{{index .SI 10}}", "error calling index: index out of range: 10"),
    ("{{index .SI 3}}", "error calling index: index out of range: 3"),
    ("{{index 1 0}}", "error calling index: can't index item of type int"),
    ("{{slice .SI 2 1}}", "error calling slice: invalid slice index: 2 > 1"),
    ("{{len 3}}", "error calling len: len of type int"),
    ("{{range 1.5}}{{end}}", "range can't iterate over 1.5"),
    ('{{template "nope"}}', 'template "nope" not defined'),
    ("{{1 2}}", "can't give argument to non-function 1"),
    ("{{ 18446744073709551615 }}", "18446744073709551615 overflows int"),
    ("{{range $i = .SI}}{{end}}", "undefined variable: $i"),
])
def test_execution_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as err:
        run(text)
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)


def test_missing_map_key_options() -> None:
    # TestMissingMapKey: map[string]int{"x": 99}, "{{.x}} {{.y}}"
    data = {"x": 99}
    assert run("{{.x}} {{.y}}", data) == "99 <no value>"
    assert run("{{.x}} {{.y}}", data, missingkey="default") == "99 <no value>"
    with pytest.raises(TemplateError) as err:
        run("{{.x}} {{.y}}", data, missingkey="error")
    assert str(err.value) == 'template: t:1:9: executing "t" at <.y>: map has no entry for key "y"'
    # string maps (Prometheus's $labels, Alertmanager's KV) yield "" under missingkey=zero ...
    assert run("[{{.y}}]", {"x": "a"}, missingkey="zero") == "[]"
    assert run("[{{.y}}]", {}, missingkey="zero") == "[]"
    # ... interface maps yield nil, printed "<no value>" (Go issue 24963's behaviour)
    assert run("[{{.y}}]", AnyMap(x="a"), missingkey="zero") == "[<no value>]"
    assert run("[{{.y}}]", {"x": 1}, missingkey="zero") == "[<no value>]"


def test_template_set_api() -> None:
    ts = TemplateSet({"up": lambda s: s.upper()})
    ts.parse('{{define "greet"}}hello {{up .}}{{end}}main:{{template "greet" .}}', "main")
    assert ts.has("greet") and ts.has("main") and not ts.has("x")
    assert ts.execute("main", "bob") == "main:hello BOB"
    assert ts.execute_text('<{{template "greet" "x"}}>', None) == "<hello X>"
    assert not ts.has("")  # execute_text does not keep its template
    clone = ts.clone().parse('{{define "greet"}}hi{{end}}')
    assert clone.execute("main", 1) == "main:hi" and ts.execute("main", "a") == "main:hello A"
    # an empty body never replaces a defined template (Go's associate)
    ts.parse("  ", "greet")
    assert ts.execute("greet", "z") == "hello Z"
    with pytest.raises(TemplateError, match='no template "nope"'):
        ts.execute("nope", None)


def test_parse_files_names_by_base_name(tmp_path: Any) -> None:
    (tmp_path / "a.tmpl").write_text('{{define "x"}}X{{end}}A{{template "x"}}')
    (tmp_path / "b.tmpl").write_text("B{{.}}")
    ts = TemplateSet().parse_files([tmp_path / "a.tmpl", str(tmp_path / "b.tmpl")])
    assert ts.execute("a.tmpl", None) == "AX" and ts.execute("b.tmpl", 1) == "B1"
    with pytest.raises(TemplateError):
        TemplateSet().parse_files([tmp_path / "missing.tmpl"])


def test_function_errors_are_reported_as_go() -> None:
    def boom(x: Any) -> str:
        raise ValueError("bad input")

    with pytest.raises(TemplateError) as err:
        TemplateSet({"boom": boom}).execute_text("{{ boom 1 }}", None, "n")
    assert str(err.value) == 'template: n:1:3: executing "n" at <boom 1>: error calling boom: bad input'


def test_recursion_and_output_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    ts = TemplateSet().parse('{{define "r"}}{{template "r" .}}{{end}}', "")
    with pytest.raises(TemplateError, match="exceeded maximum template depth"):
        ts.execute("r", None)
    monkeypatch.setattr(execute, "MAX_OUTPUT", 1000)
    ts = TemplateSet().parse('{{define "w"}}{{range 100}}{{template "w2" .}}{{end}}{{end}}'
                             '{{define "w2"}}{{range 100}}0123456789012345{{end}}{{end}}')
    with pytest.raises(TemplateError, match="output exceeds"):
        ts.execute("w", None)


def test_execute_with_functions_for_one_run() -> None:
    ts = TemplateSet({"who": lambda: "a"}).parse("hi {{ who }}", "t")
    assert ts.execute("t", None, funcs={"who": lambda: "b"}) == "hi b"
    assert ts.execute("t", None) == "hi a"


def test_named_map_and_slice_types_answer_their_methods_first() -> None:
    """As a Go type ``type KV map[string]string`` with methods: ``.Names`` calls the method, not a key, and
    methods may take arguments; a plain dict key of the same name is still a key."""
    from tsdb.gotemplate.template import TemplateSet

    class KV(dict[str, str]):
        GO_METHODS = ("Names", "Remove")

        def Names(self) -> list[str]:  # noqa: N802 (Go method name)
            return sorted(self)

        def Remove(self, keys: list[str]) -> KV:  # noqa: N802
            return KV({k: v for k, v in self.items() if k not in keys})

    class Alerts(list[str]):
        GO_METHODS = ("Firing",)

        def Firing(self) -> list[str]:  # noqa: N802
            return [a for a in self if a.startswith("f")]

    data = {"kv": KV(b="2", a="1", Names="key"), "alerts": Alerts(["f1", "r1", "f2"]), "plain": {"Names": "key"}}
    text = ('{{ .kv.Names }} {{ (.kv.Remove (stringSlice "a")).Names }} {{ .alerts.Firing }} {{ .plain.Names }}')
    out = TemplateSet({"stringSlice": lambda *s: list(s)}).execute_text(text, data)
    assert out == "[Names a b] [Names b] [f1 f2] key"
