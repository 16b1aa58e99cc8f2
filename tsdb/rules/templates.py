"""Alert label and annotation templates, expanded as Prometheus's alerting rules expand them.

The text is Go's text/template (:mod:`tsdb.gotemplate`) with Prometheus's functions
(:mod:`tsdb.rules.template_funcs`) and ``missingkey=zero``. As Prometheus does, the text is prefixed with
``{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value :=
.Value}}`` (so error columns count that prefix too) and named ``__alert_<rule name>``. A failure never
raises: it yields ``<error expanding template: error parsing|executing template <name>: <Go's error>>``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tsdb.gotemplate.errors import FuncError, TemplateError
from tsdb.gotemplate.template import TemplateSet
from tsdb.gotemplate.values import StrMap
from tsdb.rules.template_funcs import QueryResult, Sample, dynamic_functions, functions

__all__ = ["DEFS", "TemplateData", "TemplateError", "expand"]

DEFS = ("{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}"
        "{{$value := .Value}}")
"""What Prometheus puts before every alert template."""

QueryVector = Callable[[str, int], Iterable[tuple[Any, float]]]
"""Runs PromQL text at a time (ms) and returns the instant vector as (labels mapping, value) pairs."""


@dataclass(frozen=True)
class TemplateData:
    """What a template sees: the alert's labels and value, the server's external labels/URL, and (for the
    ``query`` function) a PromQL runner and the evaluation time in ms."""

    labels: Mapping[str, str]
    value: float
    external_labels: Mapping[str, str]
    external_url: str = ""
    query: QueryVector | None = None
    time_ms: int = 0


@dataclass(eq=False)
class _AlertData:
    """The Go struct Prometheus's ``AlertTemplateData`` returns; field order is Go's."""

    Labels: StrMap
    ExternalLabels: StrMap
    ExternalURL: str
    Value: float
    GO_TYPE = ("struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; "
               "Value interface {} }")


@functools.lru_cache(maxsize=1024)
def _parsed(text: str, name: str) -> TemplateSet | TemplateError:
    ts = TemplateSet(functions(_no_query, 0.0, "")).option("missingkey=zero")
    try:
        return ts.parse(text, name)
    except TemplateError as err:
        return err


def _no_query(_: str) -> QueryResult:
    raise FuncError("no query engine available to templates here")


def parse_error(template: str, name: str) -> str | None:
    """Why the template of alert ``name`` does not parse (Go's message, as Prometheus's rule loader reports
    it), or None when it parses."""
    parsed = _parsed(DEFS + template, "__alert_" + name)
    return str(parsed) if isinstance(parsed, TemplateError) else None


def expand(template: str, data: TemplateData, name: str = "") -> str:
    """Expand ``template`` for the alert ``name``; on any failure ``<error expanding template: ...>``."""
    if "{{" not in template:
        return template  # no action: the text itself (a rule's constant labels, for thousands of alerts)
    tmpl_name = "__alert_" + name
    parsed = _parsed(DEFS + template, tmpl_name)
    if isinstance(parsed, TemplateError):
        return f"<error expanding template: error parsing template {tmpl_name}: {parsed}>"

    def query(text: str) -> QueryResult:
        if data.query is None:
            return _no_query(text)
        try:
            vector = data.query(text, data.time_ms)
        except Exception as err:  # the engine's message, as Prometheus reports the query's error
            raise FuncError(str(err)) from None
        return QueryResult(Sample(StrMap(dict(labels.items())), float(value)) for labels, value in vector)

    alert = _AlertData(StrMap(dict(data.labels.items())), StrMap(dict(data.external_labels.items())),
                       data.external_url, float(data.value))
    try:
        return parsed.execute(tmpl_name, alert,
                              funcs=dynamic_functions(query, data.time_ms / 1000.0, data.external_url))
    except TemplateError as err:
        return f"<error expanding template: error executing template {tmpl_name}: {err}>"


def expand_all(templates: Mapping[str, str], data: TemplateData, name: str = "") -> dict[str, str]:
    """Expand every value of ``templates`` (labels or annotations)."""
    return {key: expand(text, data, name) for key, text in templates.items()}
