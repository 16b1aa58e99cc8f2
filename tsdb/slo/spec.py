"""Sloth ``prometheus/v1`` SLO specs: parsed from YAML and validated with errors naming the SLO and field.

A spec file may hold several YAML documents (``---``); each is one service's spec. Validation follows
Sloth's own rules (names, objective in (0, 100], exactly one SLI type, ``{{.window}}`` in every query,
PromQL that parses, alert names and labels) and adds two of tsdb's: label names are classic Prometheus
names (what rule files accept everywhere) and SLI/SLO plugins, which run Go code, are refused.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from tsdb.errors import ConfigError, TsdbError
from tsdb.gotemplate.gofmt import format_float
from tsdb.gotemplate.template import TemplateError, TemplateSet
from tsdb.query.parser.parser import parse
from tsdb.slo.render import GO_FLOAT_RE

VERSION = "prometheus/v1"
NAME_RE = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
WINDOW_VAR_RE = re.compile(r"{{ *\.window *}}")


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a number, as Sloth's YAML reader does."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", GO_FLOAT_RE, list("-+0123456789."))


class SpecError(ConfigError):
    """An SLO spec is invalid; the message names the file, the SLO and the field."""


@dataclass(frozen=True)
class AlertMeta:
    """One alert (page or ticket) after merging the SLO's ``alerting`` block with its own block."""

    disable: bool = True
    name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BurnRateAlert:
    """A single-window burn-rate alert (an OpenSLO ``burnrate`` alert condition that is not one of Sloth's
    windows): fires when the error ratio over ``lookback_s`` compared with ``op`` (a PromQL comparison
    operator) to ``threshold`` x the error budget has held for ``for_s`` seconds."""

    name: str
    severity: str
    op: str
    threshold: float
    lookback_s: int
    for_s: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Calendar:
    """A calendar-aligned SLO period (OpenSLO ``timeWindow`` with ``isRolling: false``): ``duration`` as
    written (``1M``, ``4w``, ``28d``, ``30d``), the IANA ``time_zone`` and the ``start_time`` it counts from
    (``YYYY-MM-DD HH:MM:SS``, local to the zone; empty: the Unix epoch's calendar)."""

    duration: str
    time_zone: str = "UTC"
    start_time: str = ""

    def bounds(self, t_s: float) -> tuple[float, float]:
        """The calendar period holding ``t_s``, ``[start, end)`` in Unix seconds: months (``1M``) or runs of
        28 or 30 days counted in local wall-clock time from ``start_time``, so daylight saving time counts."""
        zone = zoneinfo.ZoneInfo(self.time_zone)
        first = dt.datetime.fromisoformat(self.start_time or "1970-01-01 00:00:00").replace(tzinfo=None)
        now = dt.datetime.fromtimestamp(t_s, zone).replace(tzinfo=None)

        def step(k: int) -> dt.datetime:
            if self.duration != "1M":
                return first + dt.timedelta(days=k * (28 if self.duration in ("4w", "28d") else 30))
            month = first.month - 1 + k
            year, month = first.year + month // 12, month % 12 + 1
            last = calendar.monthrange(year, month)[1]
            return first.replace(year=year, month=month, day=min(first.day, last))

        if self.duration == "1M":
            k = (now.year - first.year) * 12 + now.month - first.month
        else:
            k = (now - first).days // (28 if self.duration in ("4w", "28d") else 30)
        while step(k) > now:
            k -= 1
        while step(k + 1) <= now:
            k += 1
        return step(k).replace(tzinfo=zone).timestamp(), step(k + 1).replace(tzinfo=zone).timestamp()


@dataclass(frozen=True)
class SLO:
    """One SLO of a service; ``error_ratio_query`` is set for raw SLIs, the two event queries otherwise."""

    service: str
    name: str
    objective: float
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    error_query: str = ""
    total_query: str = ""
    error_ratio_query: str = ""
    page: AlertMeta = field(default_factory=AlertMeta)
    ticket: AlertMeta = field(default_factory=AlertMeta)
    period_s: int = 0  # the spec's own SLO period (OpenSLO ``timeWindow``); 0: the generation option's
    spec_version: str = VERSION  # ``sloth_spec`` of the info series
    mode: str = ""  # ``sloth_mode`` of the info series; empty: the generation option's
    burn_alerts: tuple[BurnRateAlert, ...] = ()  # single-window alerts after the page and ticket ones
    calendar: Calendar | None = None  # the calendar alignment of the period (alerting uses ``period_s``)

    @property
    def id(self) -> str:
        """Sloth's SLO id: ``<service>-<name>``."""
        return f"{self.service}-{self.name}"


@dataclass(frozen=True)
class ServiceSpec:
    """One spec document: a service and its SLOs; ``source`` names the file (and document) in errors."""

    service: str
    slos: tuple[SLO, ...]
    source: str = ""


def _str(value: Any) -> str:
    """A YAML scalar as the string Sloth reads into a string field (numbers and booleans converted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value, "g", -1)
    return "" if value is None else str(value)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"{where}: must be a mapping, got {type(value).__name__}")
    return {_str(k): v for k, v in value.items()}


def _labels(value: Any, where: str, what: str = "label") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, raw in _mapping(value, where).items():
        if key == "__name__" or not LABEL_NAME_RE.match(key):
            raise SpecError(f"{where}: invalid {what} name {key!r}")
        text = _str(raw)
        if text == "":
            raise SpecError(f"{where}: {what} {key!r}: the value is required")
        out[key] = text
    return out


def _objective(value: Any, where: str) -> float:
    if value is None:
        value = 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: must be a number, got {value!r}")
    objective = float(value)
    if not math.isfinite(objective) or objective <= 0 or objective > 100:
        raise SpecError(f"{where}: must be > 0 and <= 100, got {_str(value)}")
    return objective


def render_window(query: str, window: str) -> str:
    """The query run as a Go template (as Sloth does) with ``.window`` set to a Prometheus duration.

    Any other template variable is an error (:class:`TemplateError`), as with Sloth's ``missingkey=error``.
    """
    return TemplateSet().option("missingkey=error").execute_text(query, {"window": window}, "sli")


def _query(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(f"{where}: the query is required")
    if not WINDOW_VAR_RE.search(value):
        raise SpecError(f"{where}: the query must use the {{{{.window}}}} template variable")
    try:
        rendered = render_window(value, "1m")
    except TemplateError as err:
        raise SpecError(f"{where}: invalid template: {err}") from err
    try:
        parse(rendered)
    except TsdbError as err:
        raise SpecError(f"{where}: invalid PromQL (with {{{{.window}}}} as 1m): {err}") from err
    return value


def _alert(alerting: dict[str, Any], which: str, where: str) -> AlertMeta:
    block = _mapping(alerting.get(which), f"{where}.{which}")
    if block.get("disable") is True:
        return AlertMeta()
    name = _str(alerting.get("name"))
    if not name:
        raise SpecError(f"{where}.name: the alert name is required (or set {which}.disable: true)")
    labels = _labels(alerting.get("labels"), f"{where}.labels")
    labels.update(_labels(block.get("labels"), f"{where}.{which}.labels"))
    annotations = _labels(alerting.get("annotations"), f"{where}.annotations", "annotation")
    annotations.update(_labels(block.get("annotations"), f"{where}.{which}.annotations", "annotation"))
    return AlertMeta(False, name, labels, annotations)


def _no_plugins(raw: dict[str, Any], key: str, where: str) -> None:
    chain = _mapping(raw.get(key), f"{where}.{key}").get("chain")
    if chain:
        raise SpecError(f"{where}.{key}: SLO plugins are not supported by tsdb")


def _slo(raw: Any, index: int, service: str, common: dict[str, str], where: str) -> SLO:
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: slos[{index}]: an SLO must be a mapping")
    name = _str(raw.get("name"))
    if not name:
        raise SpecError(f"{where}: slos[{index}].name: the SLO name is required")
    where = f"{where}: slo {name!r}"
    if not NAME_RE.match(name):
        raise SpecError(f"{where}: name: must start and end with an alphanumeric and contain only "
                        "alphanumerics, '.', '_' and '-'")
    objective = _objective(raw.get("objective"), f"{where}: objective")
    labels = dict(common)
    labels.update(_labels(raw.get("labels"), f"{where}: labels"))
    _no_plugins(raw, "plugins", where)
    sli = _mapping(raw.get("sli"), f"{where}: sli")
    if sli.get("plugin") is not None:
        raise SpecError(f"{where}: sli.plugin: SLI plugins are not supported by tsdb; use sli.events or sli.raw")
    events, raw_sli = sli.get("events"), sli.get("raw")
    if events is not None and raw_sli is not None:
        raise SpecError(f"{where}: sli: only one SLI type is allowed, got both events and raw")
    if events is None and raw_sli is None:
        raise SpecError(f"{where}: sli: one SLI type is required: events or raw")
    error_query = total_query = ratio_query = ""
    if events is not None:
        block = _mapping(events, f"{where}: sli.events")
        error_query = _query(block.get("error_query"), f"{where}: sli.events.error_query")
        total_query = _query(block.get("total_query"), f"{where}: sli.events.total_query")
        if error_query == total_query:
            raise SpecError(f"{where}: sli.events: error_query and total_query can't be the same")
    else:
        block = _mapping(raw_sli, f"{where}: sli.raw")
        ratio_query = _query(block.get("error_ratio_query"), f"{where}: sli.raw.error_ratio_query")
    alerting = _mapping(raw.get("alerting"), f"{where}: alerting")
    return SLO(service, name, objective, _str(raw.get("description")), labels, error_query, total_query,
               ratio_query, _alert(alerting, "page_alert", f"{where}: alerting"),
               _alert(alerting, "ticket_alert", f"{where}: alerting"))


def parse_document(doc: Any, source: str) -> ServiceSpec:
    """One YAML document (already loaded) as a validated :class:`ServiceSpec`."""
    if not isinstance(doc, dict):
        raise SpecError(f"{source}: a spec must be a mapping with version, service and slos")
    version = _str(doc.get("version"))
    if version != VERSION:
        hint = ""
        if "apiVersion" in doc:
            hint = " (Kubernetes PrometheusServiceLevel specs are not supported yet)"
        raise SpecError(f"{source}: version: unknown spec version {version!r}, expected {VERSION!r}{hint}")
    service = _str(doc.get("service"))
    if not NAME_RE.match(service):
        raise SpecError(f"{source}: service: {service!r} must start and end with an alphanumeric and contain "
                        "only alphanumerics, '.', '_' and '-'")
    _no_plugins(doc, "slo_plugins", source)
    common = _labels(doc.get("labels"), f"{source}: labels")
    raw_slos = doc.get("slos")
    if not isinstance(raw_slos, list) or not raw_slos:
        raise SpecError(f"{source}: slos: at least one SLO is required")
    slos: list[SLO] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_slos):
        slo = _slo(raw, index, service, common, source)
        if slo.id in seen:
            raise SpecError(f"{source}: slo {slo.name!r}: name: repeated in service {service!r}")
        seen.add(slo.id)
        slos.append(slo)
    return ServiceSpec(service, tuple(slos), source)


def load_documents(text: str, source: str) -> list[tuple[Any, str]]:
    """The YAML documents of one file's text, each with the name errors use for it (file and document)."""
    try:
        docs = [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except RecursionError:  # PyYAML composes nested collections recursively
        raise SpecError(f"{source}: invalid YAML: collections nested too deeply") from None
    except yaml.YAMLError as err:
        raise SpecError(f"{source}: invalid YAML: {err}") from err
    if not docs:
        raise SpecError(f"{source}: no SLO spec found")
    if len(docs) == 1:
        return [(docs[0], source)]
    return [(doc, f"{source} (document {i + 1})") for i, doc in enumerate(docs)]


def parse_sources(files: list[tuple[str, str]], others: Sequence[tuple[str, str]] = (),
                  require_slo: bool = True) -> list[ServiceSpec]:
    """Every spec of the files (``(text, source)`` pairs), in order: Sloth ``prometheus/v1`` documents and
    OpenSLO ones (told apart by ``apiVersion: openslo/...``); an OpenSLO reference (``indicatorRef``,
    ``alertPolicyRef``, ``conditionRef``, ``metricSourceRef``) may name a document defined in any of the files
    or of ``others`` (whose SLOs are not read). Files holding no SLO are an error unless ``require_slo`` is
    false."""
    from tsdb.slo import openslo

    docs = [item for text, source in files for item in load_documents(text, source)]
    extra = [item for text, source in others for item in load_documents(text, source)]
    refs = openslo.catalog(docs + extra)
    specs: list[ServiceSpec] = []
    for doc, source in docs:
        if openslo.is_openslo(doc):
            spec = openslo.parse_document(doc, source, refs)
            if spec is not None:
                specs.append(spec)
        else:
            specs.append(parse_document(doc, source))
    if not specs and require_slo:
        raise SpecError(f"{', '.join(source for _, source in files)}: no SLO found (only OpenSLO documents "
                        "that SLOs refer to, such as SLI, AlertPolicy or Service)")
    return specs


def parse_specs(text: str, source: str) -> list[ServiceSpec]:
    """Every spec document of one file's text (``source`` names it in errors), in file order."""
    return parse_sources([(text, source)])
