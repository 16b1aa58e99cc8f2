"""Parse errors: the messages of Go's ``text/template/parse/parse_test.go`` (``errorTests``, checked there
by substring as here) plus the exact ``template: <name>:<line>: ...`` prefix."""

from __future__ import annotations

import pytest

from tsdb.gotemplate.template import TemplateError, TemplateSet


@pytest.mark.parametrize(("name", "text", "message"), [
    ("unclosed1", "line1\n{{", "template: unclosed1:2: unclosed action"),
    ("unclosed2", "line1\n{{define `x`}}line2\n{{", "unclosed2:3: unclosed action"),
    ("unclosed3", 'line1\n{{"x"\n"y"\n', "unclosed3:4: unclosed action started at unclosed3:2"),
    ("unclosed4", "{{\n\n\n\n\n", "unclosed4:6: unclosed action started at unclosed4:1"),
    ("var1", "line1\n{{\nx\n}}", 'var1:3: function "x" not defined'),
    ("function", "{{foo}}", 'template: function:1: function "foo" not defined'),
    ("comment1", "{{/*}}", "comment1:1: unclosed comment"),
    ("comment2", "{{/*\nhello\n}}", "comment2:1: unclosed comment"),
    ("lparen", "{{.X (1 2 3}}", "unclosed left paren"),
    ("rparen", "{{.X 1 2 3 ) }}", "unexpected right paren"),
    ("rparen2", "{{(.X 1 2 3", "unclosed action"),
    ("space", "{{`x`3}}", "in operand"),
    ("idchar", "{{a#}}", "'#'"),
    ("charconst", "{{'a}}", "unterminated character constant"),
    ("stringconst", '{{"a}}', "unterminated quoted string"),
    ("rawstringconst", "{{`a}}", "unterminated raw quoted string"),
    ("number", "{{0xi}}", "number syntax"),
    ("multidefine", "{{define `a`}}a{{end}}{{define `a`}}b{{end}}", "multiple definition of template"),
    ("eof", "{{range .X}}", "unexpected EOF"),
    ("variable", "{{$x := 23}}{{with $x.y := 3}}{{$x 23}}{{end}}", 'unexpected ":="'),
    ("multidecl", "{{$a,$b,$c := 23}}", "too many declarations"),
    ("undefvar", "{{$a}}", "undefined variable"),
    ("wrongdot", "{{true.any}}", "unexpected . after term"),
    ("wrongpipeline", "{{12|false}}", "non executable command in pipeline"),
    ("emptypipeline", "{{ ( ) }}", "missing value for parenthesized pipeline"),
    ("multilinerawstring", "{{ $v := `\n` }} {{", "multilinerawstring:2: unclosed action"),
    ("rangeundefvar", "{{range $k}}{{end}}", "undefined variable"),
    ("rangemissingvalue1", "{{range $k,}}{{end}}", "missing value for range"),
    ("rangenotvariable1", "{{range $k, .}}{{end}}", "range can only initialize variables"),
    ("end", "{{end}}", "template: end:1: unexpected {{end}}"),
    ("else", "a{{else}}", "unexpected {{else}}"),
    ("break", "{{break}}", "{{break}} outside {{range}}"),
    ("breakelse", "{{range .}}{{else}}{{break}}{{end}}", "{{break}} outside {{range}}"),
    ("block", '{{block "foo"}}hello{{end}}', "missing value for block clause"),
    ("bug0b", "{{$x += 1}}{{$x}}", "template: bug0b:1:"),
    ("bug1b", "{{$x:=.}}{{$x+2}}", "template: bug1b:1:"),
    ("dotint", "{{1.E}}", "template: dotint:1:"),
    ("wrongpipe", "{{.|printf|\"error\"}}", "non executable command in pipeline stage 3"),
])
def test_parse_errors_as_go(name: str, text: str, message: str) -> None:
    with pytest.raises(TemplateError) as err:
        TemplateSet().parse(text, name)
    assert message in str(err.value)
    assert str(err.value).startswith(f"template: {name}:")


@pytest.mark.parametrize("text", [
    "{{$x := 0}}{{$x}}", "{{$x:=.}}{{$x +2}}", "{{range $x := 0}}{{$x}}{{end}}",
    "{{range $x = 0}}{{$x}}{{end}}", "{{ (( 1 )) }}", "{{range .}}{{break}}{{continue}}{{end}}",
    "{{if .X}}{{with .Y}}{{range .Z}}x{{end}}{{end}}{{end}}", "x \r\n\t{{- /* hi */ -}}\n\n\ty",
])
def test_valid_templates_parse(text: str) -> None:
    TemplateSet().parse(text, "t")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(TemplateError, match="max expression depth exceeded"):
        TemplateSet().parse("{{" + "(" * 5000 + "1" + ")" * 5000 + "}}", "deep")
    with pytest.raises(TemplateError, match="max control structure depth exceeded"):
        TemplateSet().parse("{{if 1}}" * 5000 + "{{end}}" * 5000, "deep")
