"""Differential test: alert templates rendered by tsdb against ``promtool test rules`` (real Go templates).

One rule file holds one alerting rule whose annotations are (a) a table covering every Prometheus template
function and Go builtin over several inputs and (b) seeded random expressions from a small grammar
(pipelines of functions over literals, ``$labels``/``$value``, printf with random verbs, widths and
precisions, if/range/with). The rule fires for several series whose values are the interesting floats
(0, -0.5, 1e-7, 1234567.891, NaN, +Inf, ...), so every template is rendered once per value. The test file's
``exp_annotations`` are *our* renderings: promtool passing proves Go renders the same text, error messages
included. On failure promtool's "got" block is parsed to list the differing templates. ``tsdb test-rules``
must pass on the same file too.

Debian's promtool is Prometheus 2.42 (Go 1.19); where 2.42 differs from the 3.x behaviour we follow, the
template is not generated here and the difference is listed in :data:`DIFFERENCES_2_42`.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from tests.needs import needs_binary, require_binary
from tsdb.gotemplate.strconv import unquote
from tsdb.gotemplate.template import TemplateError, TemplateSet
from tsdb.rules.template_funcs import QueryResult, functions
from tsdb.rules.templates import DEFS
from tsdb.rules.unittest import firing_alerts

pytestmark = [pytest.mark.external, needs_binary("promtool", package="prometheus")]

SEED = 20240611
RANDOM_CASES = 300

DIFFERENCES_2_42 = {
    "toDuration, now, urlQueryEscape": "functions added after 2.42 (parse error 'function not defined' there)",
    "parseDuration of a negative duration": "2.42 uses model.ParseDuration (error); 3.x allows negatives",
    "title of words with apostrophes": "2.42 uses strings.Title ('o'neil' -> \"O'Neil\"); 3.x uses "
                                       "cases.Title (\"O'neil\"), which we follow",
    "range over an integer, {{else with}}": "Go 1.22 / 1.23 template features; promtool 2.42 is Go 1.19",
    "externalURL, pathPrefix functions": "promtool passes no server URL (nil pointer error); tsdb test-rules "
                                         "uses the test group's external_url",
    "query, first, label, value, strvalue, sortByLabel over a vector": "printing a query result prints Go "
                                         "pointers; the functions are covered with stable outputs only",
    "type named in 'can't evaluate field' for range elements of interface maps": "Go names the static type "
        "(interface {}), we name the value's type (int); compared with the type masked",
    "PromQL parse errors inside query": "the message is the query engine's own (ours differs in wording)",
    "parseDuration \"1x\"": "2.42's model.ParseDuration says 'not a valid duration string', 3.x's says "
                            "'unknown unit \"x\" in duration'; compared after rewording 2.42's",
}

VALUES = ["0", "-0.5", "1e-7", "1234567.891", "NaN", "+Inf", "1435065584.128", "90000", "-3725.5", "0.000123"]
STRINGS = ['""', '"abc"', '"12.5"', '"1e3"', '" 7"', '"-Inf"', '"0x1p-2"', '"1_000"', '"hello world"',
           '"host-1.example.com:9100"', '"[::1]:80"', '"192.0.2.1:80"', '"a\\tb\\u00e9"', "`raw\\n`",
           '"<a href=\\"x\\">&\'"', '"ÉCOLE straße"']
NUMBERS = ["0", "1", "-1", "42", "1.5", "-0.5", "1e6", "1e-7", "0x1F", "017", "1_000", "'a'", "123456789",
           "2.5e-3", "9007199254740993"]

TABLE = [
    # values, literals and Go's default formatting
    "{{ $value }}", "{{ .Value }}", "{{ printf \"%v|%g|%e|%f|%.2f|%8.3f|%-8.2f|%+.1e|%x|%G\" $value $value $value "
    "$value $value $value $value $value $value $value }}",
    "{{ printf \"%d|%s|%t|%q|%v|%5.1f|%05.1f|% .3f\" $value $value $value $value $value $value $value $value }}",
    "{{ printf \"%T %T %T %T\" $value $labels 1 \"s\" }}",
    "{{ $labels }}", "{{ $externalLabels }}", "{{ $externalURL }}", "{{ .Labels.job }}{{ .ExternalLabels.cluster }}",
    "[{{ $labels.missing }}][{{ .Labels.missing }}]", "{{ . }}",
    "{{ 1 }} {{ 1.0 }} {{ 1e6 }} {{ -0.0 }} {{ 0x10 }} {{ 'x' }} {{ \"s\" }} {{ `r` }} {{ true }}",
    "{{ print 1 2 \"a\" 3 nil true 1.5 }}", "{{ println 1 \"a\" 2 }}", "{{ print $labels.job $value }}",
    # every humanize function on every value, on numbers and on strings
    "{{ humanize $value }}|{{ humanize1024 $value }}|{{ humanizeDuration $value }}|"
    "{{ humanizePercentage $value }}|{{ humanizeTimestamp $value }}",
    "{{ with toTime $value }}{{ . }}|{{ .Unix }}{{ end }}",
    *(f"{{{{ humanize {n} }}}}|{{{{ humanize1024 {n} }}}}|{{{{ humanizeDuration {n} }}}}|"
      f"{{{{ humanizePercentage {n} }}}}|{{{{ humanizeTimestamp {n} }}}}" for n in NUMBERS + STRINGS),
    # strings
    *(f"{{{{ toUpper {s} }}}}|{{{{ toLower {s} }}}}|{{{{ stripPort {s} }}}}|{{{{ stripDomain {s} }}}}|"
      f"{{{{ len {s} }}}}|{{{{ html {s} }}}}|{{{{ js {s} }}}}|{{{{ urlquery {s} }}}}|{{{{ printf \"%q|%x|%5.2s\" "
      f"{s} {s} {s} }}}}|{{{{ safeHtml {s} }}}}|{{{{ graphLink {s} }}}}|{{{{ tableLink {s} }}}}"
      for s in STRINGS),
    '{{ title "aa bb CC" }}|{{ title "hello-world foo_bar 1st" }}|{{ title "é x" }}',
    "{{ $labels.instance | stripPort }} {{ $labels.instance | stripDomain }} {{ $labels.path | title }}",
    '{{ reReplaceAll "(a)b" "x$1" "ab" }}|{{ reReplaceAll "x*" "-" "abxd" }}|'
    '{{ reReplaceAll "([a-z]+)-([0-9]+)" "$2.$1 ${1}x $1x $$" $labels.instance }}|'
    '{{ reReplaceAll "^/var" "" $labels.path }}|{{ reReplaceAll "o$" "0" "foo\\n" }}',
    '{{ match "a+" "aa" }} {{ match "^a+$" "b" }} {{ match "node" $labels.job }} {{ match "(?i)NODE" .Labels.job }}',
    '{{ parseDuration "1h2m10ms" }} {{ parseDuration "1d" }} {{ parseDuration "0" }} {{ parseDuration "90s" }}',
    '{{ printf "%.3f" (parseDuration "1w2d3h4m5s6ms") }}', '{{ parseDuration "1x" }}', '{{ parseDuration "" }}',
    '{{ parseDuration "5m1h" }}', '{{ (query "metric") | len }}',
    '{{ range query "sum(metric)" }}{{ .Value }}{{ end }}', '{{ with query "count(metric)" }}{{ . | first | '
    'value }}{{ end }}', '{{ query "metric{case=\\"v3\\"}" | first | label "case" }}',
    '{{ range query "metric" | sortByLabel "case" }}{{ .Labels.case }}:{{ .Value }} {{ end }}',
    '{{ query "nosuch" | first }}',
    '{{ define "x" }}{{ .arg0 }} {{ .arg1 }}{{ end }}{{ template "x" (args 1 "2") }}',
    # builtins
    "{{ and 1 0 }} {{ and 1 2 }} {{ or 0 \"\" }} {{ or 0 3 }} {{ not 0 }} {{ not $value }} {{ and $value 7 }}",
    "{{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt 1.5 2.5 }}",
    "{{ ge \"b\" \"a\" }}",
    "{{ eq $value 1.0 }} {{ lt $value 0.0 }} {{ eq $labels.job \"node\" }} {{ eq $labels.missing \"\" }}",
    "{{ eq $value 1 }}", "{{ lt \"a\" 1 }}", "{{ lt true false }}", "{{ eq 1 }}",
    "{{ len $labels }} {{ index $labels \"job\" }} [{{ index $labels \"nope\" }}] {{ index \"abc\" 1 }}",
    "{{ slice \"abcdef\" 1 3 }} {{ slice \"abc\" 1 }}", "{{ slice \"abc\" 2 1 }}", "{{ index \"abc\" 5 }}",
    "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", "{{ range $labels }}{{ . }},{{ else }}none{{ end }}",
    "{{ range $i, $e := (args 1 2 3) }}{{ $i }}{{ $e }}{{ end }}",
    "{{ range $externalLabels }}[{{ . }}]{{ break }}{{ end }}",
    "{{ range $k, $v := $labels }}{{ if eq $k \"job\" }}{{ continue }}{{ end }}{{ $k }} {{ end }}",
    "{{ if gt $value 100.0 }}high{{ else if gt $value 0.0 }}low{{ else }}none{{ end }}",
    "{{ with $labels.job }}job={{ . }}{{ else }}nojob{{ end }} {{ with $labels.missing }}x{{ else }}y{{ end }}",
    "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }} {{ $y := $value }}{{ $y }}",
    "{{- \"  trim  \" -}}  x  {{- 1 }}  {{ 2 -}}  y {{/* comment */}} z {{- /* c */ -}} w",
    "{{ printf \"%s\" }} {{ printf \"%d\" 1 2 }} {{ printf \"%!\" }} {{ printf \"%[2]d %[1]d\" 1 2 }} "
    "{{ printf \"%*d|%-*d\" 4 1 3 2 }} {{ printf \"%[3]d\" 1 }} {{ printf \"%.*f\" 2 3.14159 }} {{ printf \"%\" }}",
    "{{ printf \"%c %q %U %x %X %o %O %b\" 65 65 9731 255 255 8 8 5 }}",
    "{{ printf \"%v %d %s\" $labels $labels (args 1) }}",
    "{{ printf \"%#v\" 1 }} {{ printf \"%+d %+v\" 5 5 }}",
    "{{ printf \"%06.2f|%-6d|%6s|%-6s|\" 3.14159 7 \"ab\" \"ab\" }}",
    "{{ printf \"%.0f %.0f %.0f %.1f\" 0.5 1.5 2.5 0.25 }} {{ printf \"%g %g %g\" 1e20 1e21 123456789.0 }}",
    "{{ printf \"%08.3e|%+08d|% 05d|%#x|%#o|%x\" -1.5 42 42 255 8 \"hi\" }}",
    "{{ 1 | printf \"%d-%s\" \"a\" }} {{ \"x\" | printf \"%s%s\" \"y\" }} {{ $value | humanize | printf \"[%s]\" }}",
    "{{ html \"<x>\" 1 }} {{ js \"'\" 2 }} {{ urlquery \"a b\" \"c\" }} {{ html nil }} {{ print nil }}",
    "{{ nosuch }}", "{{ if }}", "{{ end }}", "{{ $undefined }}", "{{ .Nope }}", "{{ .Labels.job.x }}",
    "{{ 1 2 }}", "{{ nil }}", "{{ humanize }}", "{{ humanize 1 2 }}", "{{ toUpper 1 }}", "{{ 1 | toUpper }}",
    "{{ template \"nope\" }}", "{{ \"unterminated }}", "{{ (1 }}", "{{ 1) }}", "{{ range 1.5 }}{{ end }}",
    "{{ index $labels 1 }}", "{{ len 3 }}", "{{ first (args 1) }}", "{{ $labels.job | len | humanize }}",
    "{{ humanize $labels }}", "{{ humanize true }}", "{{ humanize nil }}", "{{ title nil }}",
    "{{ reReplaceAll \"(\" \"x\" \"y\" }}", "{{ match \"[\" \"x\" }}",
    "{{ printf \"%d\" (humanize 1234) }}", "{{ printf }}", "{{ printf 1 }}",
    "line1\nline2 {{ nosuch2 }}", "a\n{{ 1 }}\n{{ .X }}",
]


class _Gen:
    """Seeded random templates from a small grammar: literals and alert data, functions, printf, control."""

    FUNCS1: ClassVar[list[str]] = [
        "humanize", "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp", "toUpper",
        "toLower", "title", "stripPort", "stripDomain", "len", "not", "html", "js", "urlquery", "print", "safeHtml",
        "graphLink"]
    VERBS = "vdsfeEgGxXqt"

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def atom(self) -> str:
        r = self.rng
        return r.choice([
            "$value", ".Value", "$labels.job", "$labels.instance", "$labels.missing", "$labels.case",
            "$externalLabels.cluster", "$externalURL", r.choice(NUMBERS), r.choice(STRINGS), r.choice(STRINGS),
            "true", "false", r.choice(VALUES).replace("+Inf", "1e308").replace("NaN", "0.1"),
        ])

    def printf(self, depth: int) -> str:
        r = self.rng
        n = r.randint(1, 3)
        parts = []
        for _ in range(n):
            flags = "".join(r.sample("-+ 0#", r.randint(0, 2)))
            width = str(r.randint(1, 12)) if r.random() < 0.4 else ""
            prec = "." + str(r.randint(0, 8)) if r.random() < 0.4 else ""
            parts.append("%" + flags + width + prec + r.choice(self.VERBS))
        fmt = r.choice(["", "x=", "[", "%% "]) + r.choice([" ", "|", ""]).join(parts)
        args = " ".join(self.arg(depth + 1) for _ in range(n + r.choice([0, 0, 0, -1, 1])))
        return f'printf "{fmt}" {args}'.rstrip()

    def arg(self, depth: int) -> str:
        if depth < 2 and self.rng.random() < 0.3:
            return "(" + self.pipeline(depth + 1) + ")"
        return self.atom()

    def pipeline(self, depth: int = 0) -> str:
        r = self.rng
        choice = r.random()
        if choice < 0.3:
            head = self.printf(depth)
        elif choice < 0.65:
            head = f"{r.choice(self.FUNCS1)} {self.arg(depth)}"
        elif choice < 0.8:
            head = f"{r.choice(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or'])} {self.arg(depth)} {self.arg(depth)}"
        else:
            head = self.atom()
        for _ in range(r.choice([0, 0, 1, 1, 2])):
            head += " | " + r.choice([*self.FUNCS1, 'printf "%v"', 'printf "<%s>"', 'printf "%.2f"'])
        return head

    def template(self) -> str:
        r = self.rng
        kind = r.random()
        body = "{{ " + self.pipeline() + " }}"
        if kind < 0.15:
            return "{{ if " + self.pipeline() + " }}T" + body + "{{ else }}F{{ end }}"
        if kind < 0.25:
            return "{{ with " + self.pipeline() + " }}<{{ . }}>{{ else }}none{{ end }}"
        if kind < 0.32:
            return "{{ range $k, $v := " + r.choice(["$labels", "$externalLabels", "(args 1 \"b\" 2.5)"]) + \
                " }}{{ $k }}:" + body + ";{{ end }}"
        return body + (" {{ " + self.pipeline() + " }}" if r.random() < 0.3 else "")


def _templates() -> list[str]:
    gen = _Gen(SEED)
    return TABLE + [gen.template() for _ in range(RANDOM_CASES)]


GO_1_19_PARSE_ERRORS = {"{{ 1) }}": "Go 1.19's lexer passes the stray ')' to the parser ('unexpected \")\" in "
                                    "command'); current Go's lexer reports 'unexpected right paren'"}
"""Parse errors whose text changed in Go after 1.19 (we follow current Go), by template."""

INTERFACE_TYPE = re.compile(r"(can't evaluate field \w+ in type )(?:interface \{\}|int|float64|string|bool)")


def _as_current_go(text: str) -> str:
    """2.42's error text as 3.x words it: 3.x's alert data has ``Value interface {}`` (2.42: ``float64``),
    its parseDuration says ``unknown unit``; type names of interface values are masked (see below)."""
    text = text.replace("ExternalURL string; Value float64 }", "ExternalURL string; Value interface {} }")
    text = INTERFACE_TYPE.sub(r"\1<value>", text)
    return re.sub(r'(error calling parseDuration: )not a valid duration string: "(\d+)([^"\d]+)"',
                  lambda m: f'{m.group(1)}unknown unit "{m.group(3)}" in duration "{m.group(2)}{m.group(3)}"', text)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
GOT_ANNOTATIONS = re.compile(r'(a\d{4})="((?:[^"\\]|\\.)*)"')


def _write_files(tmp: Path, templates: list[str]) -> Path:
    rule = {"alert": "T", "expr": "metric", "labels": {"severity": "page"},
            "annotations": {f"a{i:04d}": text for i, text in enumerate(templates)}}
    (tmp / "rules.yml").write_text(yaml.dump({"groups": [{"name": "templates", "rules": [rule]}]},
                                                  allow_unicode=True, width=1 << 20, Dumper=_DUMPER))
    series = [{"series": f'metric{{case="v{i}",instance="host-{i}.example.com:9100",job="node",path="/var/log"}}',
               "values": f"{v} {v}"} for i, v in enumerate(VALUES)]
    test = {"interval": "1m", "external_labels": {"cluster": "eu-1"}, "external_url": "http://prom.example:9090/x",
            "input_series": series, "alert_rule_test": [{"eval_time": "1m", "alertname": "T", "exp_alerts": []}]}
    path = tmp / "test.yml"
    path.write_text(yaml.dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [test]},
                                   allow_unicode=True, width=1 << 20, Dumper=_DUMPER))
    ours = firing_alerts(path, 60_000)
    assert len(ours) == len(VALUES), ours
    test["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {k: v for k, v in labels.items() if k != "alertname"},
                                                 "exp_annotations": annotations} for _, labels, annotations in ours]
    path.write_text(yaml.dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [test]},
                                   allow_unicode=True, width=1 << 20, Dumper=_DUMPER))
    return path


def _differences(output: str, path: Path, templates: list[str]) -> tuple[int, list[str]]:
    """How many annotations promtool's report shows, and (template, case, ours, Go's) of each one Go
    rendered differently once the listed version differences are normalised."""
    doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    expected = {a["exp_labels"]["case"]: a["exp_annotations"]
                for a in doc["tests"][0]["alert_rule_test"][0]["exp_alerts"]}
    got_block = output.split("got:", 1)[-1]
    out = []
    seen = 0
    for chunk in got_block.split("Labels:")[1:]:
        case = re.search(r'case="(v\d+)"', chunk)
        if case is None:
            continue
        for key, quoted in GOT_ANNOTATIONS.findall(chunk):
            seen += 1
            theirs = _as_current_go(unquote('"' + quoted + '"'))
            ours = expected[case.group(1)].get(key)
            ours = INTERFACE_TYPE.sub(r"\1<value>", ours) if ours is not None else None
            if ours != theirs:
                out.append(f"{key} {templates[int(key[1:])]!r} case={case.group(1)}\n  ours: {ours!r}\n  go:   "
                           f"{theirs!r}")
    return seen, out


def _parse_error(text: str) -> str | None:
    """Our parse error for a template as Prometheus's rule loader reports it, or None when it parses."""
    ts = TemplateSet(functions(lambda q: QueryResult(), 0.0, "")).option("missingkey=zero")
    try:
        ts.parse(DEFS + text, "__alert_T")
    except TemplateError as err:
        return str(err)
    return None


def test_parse_errors_as_promtool(tmp_path: Path) -> None:
    """Templates that do not parse: promtool's rule loader must report the same error for each."""
    promtool = require_binary("promtool", package="prometheus")
    templates = _templates()
    failing = {f"a{i:04d}": (text, err) for i, text in enumerate(templates) if (err := _parse_error(text))}
    assert len(failing) >= 5
    rule = {"alert": "T", "expr": "metric", "annotations": {k: t for k, (t, _) in failing.items()}}
    path = tmp_path / "bad.yml"
    path.write_text(yaml.dump({"groups": [{"name": "g", "rules": [rule]}]}, allow_unicode=True,
                                   width=1 << 20, Dumper=_DUMPER))
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    theirs = dict(re.findall(r'annotation "(a\d{4})": (.*)', proc.stdout + proc.stderr))
    diffs = [f"{key} {text!r}\n  ours: {ours}\n  go:   {theirs.get(key)}" for key, (text, ours) in failing.items()
             if theirs.get(key) != ours and text not in GO_1_19_PARSE_ERRORS]
    assert not diffs, f"{len(diffs)} of {len(failing)} parse errors differ:\n" + "\n".join(diffs)


def test_templates_render_as_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool", package="prometheus")
    templates = [t for t in _templates() if _parse_error(t) is None]
    path = _write_files(tmp_path, templates)
    proc = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    rendered = len(templates) * len(VALUES)
    if proc.returncode != 0:  # some outputs differ: only the listed version differences may remain
        seen, diffs = _differences(output, path, templates)
        assert seen == rendered, output[-3000:]
        assert not diffs, f"{len(diffs)} of {rendered} renderings differ from Go's:\n" + "\n".join(diffs[:80])
    ours = subprocess.run([sys.executable, "-m", "tsdb.cli.main", "test-rules", str(path)], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert ours.returncode == 0, ours.stdout[-3000:] + ours.stderr[-3000:]
