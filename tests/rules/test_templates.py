"""Alert templates: the Go-template subset renders as Prometheus does; failures never raise."""

from __future__ import annotations

import pytest

from tsdb.rules.templates import TemplateData, expand

DATA = TemplateData({"instance": "host-1:9100", "job": "node", "path": "/var/log"}, 1234567.0,
                    {"cluster": "eu-1"}, "http://tsdb:9201")


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ $labels.instance }} down", "host-1:9100 down"),
    ("{{ .Labels.job }}", "node"),
    ("{{ $value }}", "1.234567e+06"),
    ("{{ $value | humanize }}", "1.235M"),
    ("{{ humanize 0.0012 }}", "1.2m"),
    ("{{ 2048 | humanize1024 }}", "2ki"),
    ("{{ humanizeDuration 3725 }}", "1h 2m 5s"),
    ("{{ humanizeDuration 0.25 }}", "250ms"),
    ("{{ humanizePercentage 0.123 }}", "12.3%"),
    ("{{ humanizeTimestamp 1435065584.128 }}", "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ printf "%.1f" $value }}', "1234567.0"),
    ("{{ $externalLabels.cluster | toUpper }}", "EU-1"),
    ('{{ title "hello world" }}', "Hello World"),
    ('{{ reReplaceAll "host-(\\\\d+):.*" "n$1" $labels.instance }}', "n1"),
    ("{{ if $labels.job }}has job{{ else }}no job{{ end }}", "has job"),
    ("{{ if $labels.missing }}yes{{ else }}no{{ end }}", "no"),
    ("plain text", "plain text"),
    ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", "instance=host-1:9100;job=node;path=/var/log;"),
    ("{{ range $externalLabels }}[{{ . }}]{{ end }}", "[eu-1]"),
    ("{{ with $labels.job }}job {{ . }}{{ else }}none{{ end }}", "job node"),
    ("{{ if $labels.job }}{{ if $labels.x }}a{{ else }}b{{ end }}{{ end }}", "b"),
    ('{{ printf "%d %d" 1 }}', "1 %!d(MISSING)"),
    ("[{{ $labels.missing }}]", "[]"),
    ("{{ .ExternalURL }} {{ $externalURL }}", "http://tsdb:9201 http://tsdb:9201"),
])
def test_renders_like_prometheus(template: str, expected: str) -> None:
    assert expand(template, DATA) == expected


@pytest.mark.parametrize("template", ["{{ nosuchfunc $value }}", "{{ if $value }}unterminated",
                                      "{{ end }}", "{{ $nope }}"])
def test_failures_yield_the_error_marker(template: str) -> None:
    assert expand(template, DATA).startswith("<error expanding template: ")


def _query(text: str, at_ms: int) -> list[tuple[dict[str, str], float]]:
    if text == "1.5":
        return [({}, 1.5)]
    if text == "metric":
        return [({"instance": "b", "__value__": "x"}, 21.0), ({"instance": "a"}, 11.0)]
    if text == "missing":
        return []
    raise ValueError(f"bad query {text!r}")


def _render(text: str, value: float = 0.0, data: object = None) -> str:
    return expand(text, TemplateData({"instance": "a"}, value, {}, "http://testhost:9090/path/prefix", _query,
                                     1353755652000), "T")


@pytest.mark.parametrize(("template", "expected"), [
    # Prometheus's template/template_test.go (its inputs given through $value or literals)
    ("{{ 1 }}", "1"),
    ('{{define "x"}}{{.arg0}} {{.arg1}}{{end}}{{template "x" (args 1 "2")}}', "1 2"),
    ('{{ query "1.5" | first | value }}', "1.5"),
    ('{{ query "metric" | first | label "instance" }}', "b"),
    ('{{ query "metric" | first | strvalue }}', "x"),
    ('{{ query "metric" | first | label "foo" }}', ""),
    ('{{ $x := query "metric" | first }}{{ $x.Labels.foo }}', ""),
    ('{{ range query "metric" | sortByLabel "instance" }}{{.Labels.instance}}:{{.Value}}: {{end}}', "a:11: b:21: "),
    ('{{ "foo.example.com" | stripPort }}', "foo.example.com"),
    ('{{ "foo.example.com:12345" | stripPort }}', "foo.example.com"),
    ('{{ "192.0.2.1:12345" | stripPort }}', "192.0.2.1"),
    ('{{ "2001:0DB8::1" | stripPort }}', "2001:0DB8::1"),
    ('{{ "[2001:0DB8::1]:12345" | stripPort }}', "2001:0DB8::1"),
    ('{{ "[2001:0DB8::1]::12345" | stripPort }}', "[2001:0DB8::1]::12345"),
    ('{{ reReplaceAll "(a)b" "x$1" "ab" }}', "xa"),
    ('{{ range (args 0.0 1.0 1234567.0 .12) }}{{ humanize . }}:{{ end }}', "0:1:1.235M:120m:"),
    ('{{ range (args "0.0" "1.0" "1234567.0" ".12") }}{{ humanize . }}:{{ end }}', "0:1:1.235M:120m:"),
    ('{{ range (args 0 -1 1 1234567 9223372036854775807) }}{{ humanize . }}:{{ end }}', "0:-1:1:1.235M:9.223E:"),
    ('{{ range (args 0.0 1.0 1048576.0 .12) }}{{ humanize1024 . }}:{{ end }}', "0:1:1Mi:0.12:"),
    ('{{ range (args 0 -1 1 1234567 9223372036854775807) }}{{ humanize1024 . }}:{{ end }}', "0:-1:1:1.177Mi:8Ei:"),
    ("{{ range (args 0 1 60 3600 86400 90000 -183845 899.99) }}{{ humanizeDuration . }}:{{ end }}",
     "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"),
    ("{{ range (args .1 .0001 .12345 60.1 60.5 1.2345 12.345) }}{{ humanizeDuration . }}:{{ end }}",
     "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
    ('{{ range (args "+Inf" "-Inf" "NaN") }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:'
     "{{humanizeTimestamp .}}:{{ end }}", "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:"),
    ("{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:"
     "{{ 1.23456 | humanizePercentage }}", "-22.22%:0%:12.35%:123.5%"),
    ("{{ range (args 0 -1 1 1234567 9223372036854775807) }}{{ humanizePercentage . }}:{{ end }}",
     "0%:-100%:100%:1.235e+08%:9.223e+20%:"),
    ("{{ range (args 0 -1 1 1234567 9223372036) }}{{ humanizeTimestamp . }}:{{ end }}",
     "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:"
     "1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"),
    ("{{ 1435065584.128 | humanizeTimestamp }}", "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ "1435065584.128" | humanizeTimestamp }}', "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ (1435065584.128 | toTime).Format "2006" }}', "2015"),
    ('{{ ("1435065584.128" | toTime).Format "2006" }}', "2015"),
    ("{{ (1800 | toDuration).String }}", "30m0s"),
    ('{{ ("1800" | toDuration).String }}', "30m0s"),
    ("{{ now }}", "1.353755652e+09"),
    ('{{ (now | toTime).Format "Mon Jan 2 15:04:05 2006" }}', "Sat Nov 24 11:14:12 2012"),
    ('{{ ("-30m" | parseDuration | toDuration | (now | toTime).Add).UnixMilli }}', "1353753852000"),
    ('{{ "aa bb CC" | title }}', "Aa Bb CC"),
    ('{{ "aa bb CC" | toUpper }}', "AA BB CC"),
    ('{{ "aA bB CC" | toLower }}', "aa bb cc"),
    ('{{ match "a+" "aa" }} {{ match "a+" "b" }}', "true false"),
    ('{{ graphLink "up" }}', "/graph?g0.expr=up&g0.tab=0"),
    ('{{ tableLink "up" }}', "/graph?g0.expr=up&g0.tab=1"),
    ("{{ pathPrefix }}", "/path/prefix"),
    ("{{ externalURL }}", "http://testhost:9090/path/prefix"),
    ('{{ printf "%0.2f" (parseDuration "1h2m10ms") }}', "3720.01"),
    ('{{ printf "%0.2f" (parseDuration "-1h2m10ms") }}', "-3720.01"),
    ('{{ "foo.example.com" | stripDomain }}', "foo"),
    ('{{ "foo.example.com:12345" | stripDomain }}', "foo:12345"),
    ('{{ "192.0.2.1" | stripDomain }}', "192.0.2.1"),
    ('{{ "192.0.2.1:12345" | stripDomain }}', "192.0.2.1:12345"),
    ('{{ "2001:0DB8::1" | stripDomain }}', "2001:0DB8::1"),
    ('{{ "[2001:0DB8::1]:12345" | stripDomain }}', "[2001:0DB8::1]:12345"),
    ('{{ "[2001:0DB8::1]::12345" | stripDomain }}', "[2001:0DB8::1]::12345"),
    ('{{ "<b>" | safeHtml }}', "<b>"),
    ('{{ urlQueryEscape "a b/c" }}', "a+b%2Fc"),
    ('{{ reReplaceAll "x*" "-" "abxd" }}', "-a-b-d-"),
    ('{{ reReplaceAll "(?P<h>[a-z]+):([0-9]+)" "${h}=$2 $1x" "web:80" }}', "web=80 "),
    ("{{ humanizeDuration 90000 }} {{ humanize 1234567 }}", "1d 1h 0m 0s 1.235M"),
])
def test_prometheus_functions(template: str, expected: str) -> None:
    assert _render(template) == expected


@pytest.mark.parametrize(("template", "message"), [
    ("{{ }}", "error parsing template __alert_T: template: __alert_T:1: missing value for command"),
    ('{{ humanize "one" }}', 'error calling humanize: strconv.ParseFloat: parsing "one": invalid syntax'),
    ('{{ humanize1024 "one" }}', "invalid syntax"),
    ('{{ "one" | humanizePercentage }}', "invalid syntax"),
    ('{{ query "missing" | first }}', "error calling first: first() called on vector with no elements"),
    ('{{ (query "missing").banana }}', "can't evaluate field banana in type template.queryResult"),
    ("{{ humanizeTimestamp 9.3e9 }}", "9.3e+09 cannot be represented as a nanoseconds timestamp since it "
                                      "overflows int64"),
    ('{{ tmpl "x" . }}', 'function "tmpl" not defined'),
    ('{{ parseDuration "1x" }}', 'unknown unit "x" in duration "1x"'),
    ('{{ humanize $labels }}', "can't convert map[string]string to float"),
    ('{{ reReplaceAll "(" "" "" }}', "error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: "
                                     "missing closing ): `(`"),
])
def test_prometheus_function_errors(template: str, message: str) -> None:
    out = _render(template)
    assert out.startswith("<error expanding template: ") and out.endswith(">")
    assert message in out


def test_error_columns_count_the_prepended_definitions() -> None:
    out = _render('{{ humanize "x" }}')
    assert out == ('<error expanding template: error executing template __alert_T: template: __alert_T:1:115: '
                   'executing "__alert_T" at <humanize "x">: error calling humanize: strconv.ParseFloat: parsing '
                   '"x": invalid syntax>')


def test_rule_files_with_unparsable_templates_are_refused() -> None:
    from tsdb.errors import ConfigError
    from tsdb.rules.loader import parse_rule_text

    text = ("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n"
            "    annotations:\n      summary: '{{ nosuch }}'\n")
    with pytest.raises(ConfigError) as err:
        parse_rule_text(text, "r.yml")
    assert "annotation 'summary': template: __alert_A:1: function \"nosuch\" not defined" in str(err.value)
    ok = text.replace("nosuch", "$labels.job")
    assert parse_rule_text(ok, "r.yml")[0].rules[0].annotations == {"summary": "{{ $labels.job }}"}
