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
    ("{{ humanizeDuration 3725 }}", "1h 2m 5s".replace(" ", "")),
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
])
def test_renders_like_prometheus(template: str, expected: str) -> None:
    assert expand(template, DATA) == expected


@pytest.mark.parametrize("template", ["{{ nosuchfunc $value }}", "{{ if $value }}unterminated",
                                      "{{ end }}", '{{ printf "%d %d" 1 }}', "{{ $nope }}"])
def test_failures_yield_the_error_marker(template: str) -> None:
    assert expand(template, DATA).startswith("<error expanding template: ")
