"""OpenSLO specs (``openslo/v1`` and Sloth's ``openslo/v1alpha``) converted to tsdb's Sloth SLO model.

The conversion is Sloth v0.16.0's: every objective of an OpenSLO ``SLO`` becomes one Sloth SLO named
``<metadata.name>-<index>`` (id ``<service>-<metadata.name>-<index>``), without alerts (OpenSLO alert
policies are not turned into rules). A good/total ratio becomes a raw SLI whose error ratio is
``1 - (good / total)``, laid out as Sloth lays it out; a bad/total ratio (``openslo/v1`` only) becomes an
events SLI with ``bad`` as the error query. Only ratio indicators on Prometheus queries, rolling 30 or 28
day windows and the ``Occurrences`` budgeting method are supported; anything else is a :class:`SpecError`
naming the file, the SLO and the field.
"""

from __future__ import annotations

from typing import Any

from tsdb.slo.spec import NAME_RE, SLO, ServiceSpec, SpecError, _mapping, _objective, _query, _str
from tsdb.slo.windows import DAY, DEFAULT_WINDOWS, parse_period

V1 = "openslo/v1"
V1ALPHA = "openslo/v1alpha"
MODE = "cli-gen-openslo"

# Sloth's mapping of good/total to an error ratio, character for character (its leading newline included).
_GOOD_TOTAL = """
  1 - (
    (
      {good}
    )
    /
    (
      {total}
    )
  )
"""


def is_openslo(doc: Any) -> bool:
    """Whether a YAML document is an OpenSLO one (``apiVersion: openslo/...``)."""
    return isinstance(doc, dict) and _str(doc.get("apiVersion")).startswith("openslo/")


def _name(doc: dict[str, Any], where: str) -> str:
    name = _str(_mapping(doc.get("metadata"), f"{where}: metadata").get("name"))
    if not name:
        raise SpecError(f"{where}: metadata.name: the name is required")
    if not NAME_RE.match(name):
        raise SpecError(f"{where}: metadata.name: {name!r} must start and end with an alphanumeric and "
                        "contain only alphanumerics, '.', '_' and '-'")
    return name


def indicators(docs: list[tuple[Any, str]]) -> dict[str, tuple[dict[str, Any], str]]:
    """The ``openslo/v1`` ``kind: SLI`` documents by name, each with its source."""
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for doc, source in docs:
        if is_openslo(doc) and _str(doc.get("apiVersion")) == V1 and _str(doc.get("kind")) == "SLI":
            name = _name(doc, f"{source}: SLI")
            if name in found:
                raise SpecError(f"{source}: SLI {name!r}: metadata.name: already defined in {found[name][1]}")
            found[name] = (doc, source)
    return found


def parse_document(doc: dict[str, Any], source: str,
                   slis: dict[str, tuple[dict[str, Any], str]] | None = None) -> ServiceSpec | None:
    """One OpenSLO document as a :class:`ServiceSpec`; None for ``SLI`` and ``Service`` documents."""
    version, kind = _str(doc.get("apiVersion")), _str(doc.get("kind"))
    if version not in (V1, V1ALPHA):
        raise SpecError(f"{source}: apiVersion: unknown OpenSLO version {version!r}, expected {V1!r} or "
                        f"{V1ALPHA!r}")
    if kind in ("SLI", "Service") and version == V1:
        return None
    if kind != "SLO":
        raise SpecError(f"{source}: kind: {kind!r} is not supported: SLO, SLI and Service are")
    name = _name(doc, f"{source}: SLO")
    where = f"{source}: SLO {name!r}"
    spec = _mapping(doc.get("spec"), f"{where}: spec")
    service = _str(spec.get("service"))
    if not service:
        raise SpecError(f"{where}: spec.service: the service is required")
    if not NAME_RE.match(service):
        raise SpecError(f"{where}: spec.service: {service!r} must start and end with an alphanumeric and "
                        "contain only alphanumerics, '.', '_' and '-'")
    if version == V1ALPHA:
        slos = _v1alpha(spec, name, service, where)
    else:
        slos = _v1(spec, name, service, where, slis or {})
    return ServiceSpec(service, tuple(slos), source)


def _budgeting(spec: dict[str, Any], where: str) -> None:
    method = _str(spec.get("budgetingMethod"))
    if method in ("Timeslices", "RatioTimeslices"):
        raise SpecError(f"{where}: spec.budgetingMethod: {method} is not supported yet; use Occurrences")
    if method not in ("", "Occurrences"):
        raise SpecError(f"{where}: spec.budgetingMethod: unknown method {method!r}; use Occurrences")


def _objectives(spec: dict[str, Any], where: str) -> list[dict[str, Any]]:
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise SpecError(f"{where}: spec.objectives: at least one objective is required")
    return [_mapping(o, f"{where}: spec.objectives[{i}]") for i, o in enumerate(objectives)]


def _slo(service: str, name: str, index: int, objective: float, period_s: int, version: str,
         error_query: str = "", total_query: str = "", ratio_query: str = "", description: str = "") -> SLO:
    return SLO(service, f"{name}-{index}", objective, description, {}, error_query, total_query, ratio_query,
               period_s=period_s, spec_version=version, mode=MODE)


def _good_total(good: str, total: str) -> str:
    return _GOOD_TOTAL.format(good=good, total=total)


# --- openslo/v1alpha: what Sloth v0.16.0 reads -------------------------------------------------------------


def _v1alpha_period(spec: dict[str, Any], where: str) -> int:
    windows = spec.get("timeWindows")
    if not windows:
        return 0
    if not isinstance(windows, list) or len(windows) > 1:
        raise SpecError(f"{where}: spec.timeWindows: only 1 time window is supported")
    window = _mapping(windows[0], f"{where}: spec.timeWindows[0]")
    if _str(window.get("unit")).lower() != "day":
        raise SpecError(f"{where}: spec.timeWindows[0].unit: only days based time windows are supported")
    count = window.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count * DAY not in DEFAULT_WINDOWS:
        raise SpecError(f"{where}: spec.timeWindows[0].count: {_str(count)!r} days is not supported: "
                        "30 and 28 are")
    return count * DAY


def _v1alpha_query(ratio: dict[str, Any], which: str, where: str) -> str:
    block = _mapping(ratio.get(which), f"{where}.{which}")
    if _str(block.get("source")) not in ("prometheus", "sloth"):
        raise SpecError(f"{where}.{which}.source: prometheus or sloth is required")
    if _str(block.get("queryType")) != "promql":
        raise SpecError(f"{where}.{which}.queryType: unsupported query type {_str(block.get('queryType'))!r}, "
                        "promql is required")
    return _query(block.get("query"), f"{where}.{which}.query")


def _v1alpha(spec: dict[str, Any], name: str, service: str, where: str) -> list[SLO]:
    _budgeting(spec, where)
    period_s = _v1alpha_period(spec, where)
    slos = []
    for index, objective in enumerate(_objectives(spec, where)):
        at = f"{where}: spec.objectives[{index}]"
        if objective.get("ratioMetrics") is None:
            raise SpecError(f"{at}.ratioMetrics: missing ratioMetrics (only ratio objectives are supported)")
        ratio = _mapping(objective.get("ratioMetrics"), f"{at}.ratioMetrics")
        good = _v1alpha_query(ratio, "good", f"{at}.ratioMetrics")
        total = _v1alpha_query(ratio, "total", f"{at}.ratioMetrics")
        target = _target(objective, at, percent_key="")
        slos.append(_slo(service, name, index, target, period_s, V1ALPHA, ratio_query=_good_total(good, total),
                         description=_str(spec.get("description"))))
    return slos


# --- openslo/v1 ---------------------------------------------------------------------------------------------


def _target(objective: dict[str, Any], where: str, percent_key: str = "targetPercent") -> float:
    """The objective in percent, from ``target`` (a ratio) or ``targetPercent``."""
    if percent_key and objective.get(percent_key) is not None:
        if objective.get("target") is not None:
            raise SpecError(f"{where}: target and {percent_key}: only one of them is allowed")
        return _objective(objective.get(percent_key), f"{where}.{percent_key}")
    target = objective.get("target")
    if target is None:
        alternative = f" (or {percent_key})" if percent_key else ""
        raise SpecError(f"{where}.target{alternative}: the target is required")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target <= 1:
        raise SpecError(f"{where}.target: must be a ratio > 0 and <= 1, got {_str(target)}")
    return float(target) * 100  # as Sloth: OpenSLO uses ratios, Sloth percents


def _v1_period(spec: dict[str, Any], where: str) -> int:
    windows = spec.get("timeWindow")
    if not windows:
        return 0
    if not isinstance(windows, list) or len(windows) > 1:
        raise SpecError(f"{where}: spec.timeWindow: only 1 time window is supported")
    window = _mapping(windows[0], f"{where}: spec.timeWindow[0]")
    if window.get("isRolling") is not True:
        raise SpecError(f"{where}: spec.timeWindow[0].isRolling: calendar-aligned time windows are not "
                        "supported yet; use a rolling 30d or 28d window")
    try:
        return parse_period(_str(window.get("duration")))
    except ValueError as err:
        raise SpecError(f"{where}: spec.timeWindow[0].duration: {err}") from err


def _v1_indicator(spec: dict[str, Any], where: str,
                  slis: dict[str, tuple[dict[str, Any], str]]) -> tuple[dict[str, Any], str]:
    """The SLI's ``spec`` and where it is defined (for errors)."""
    inline, ref = spec.get("indicator"), spec.get("indicatorRef")
    if inline is not None and ref is not None:
        raise SpecError(f"{where}: spec.indicator and spec.indicatorRef: only one of them is allowed")
    if inline is not None:
        sli = _mapping(inline, f"{where}: spec.indicator")
        return _mapping(sli.get("spec"), f"{where}: spec.indicator.spec"), f"{where}: spec.indicator.spec"
    name = _str(ref)
    if not name:
        raise SpecError(f"{where}: spec.indicator: an indicator or indicatorRef is required")
    if name not in slis:
        raise SpecError(f"{where}: spec.indicatorRef: SLI {name!r} is not defined in the given files")
    doc, source = slis[name]
    return _mapping(doc.get("spec"), f"{source}: SLI {name!r}: spec"), f"{source}: SLI {name!r}: spec"


def _v1_query(ratio: dict[str, Any], which: str, where: str) -> str:
    at = f"{where}.ratioMetric.{which}"
    source = _mapping(_mapping(ratio.get(which), at).get("metricSource"), f"{at}.metricSource")
    kind = _str(source.get("type"))
    if kind.lower() != "prometheus":
        raise SpecError(f"{at}.metricSource.type: {kind!r} is not supported: Prometheus is")
    query_spec = _mapping(source.get("spec"), f"{at}.metricSource.spec")
    return _query(query_spec.get("query"), f"{at}.metricSource.spec.query")


def _v1(spec: dict[str, Any], name: str, service: str, where: str,
        slis: dict[str, tuple[dict[str, Any], str]]) -> list[SLO]:
    _budgeting(spec, where)
    period_s = _v1_period(spec, where)
    sli, at = _v1_indicator(spec, where, slis)
    if sli.get("thresholdMetric") is not None:
        raise SpecError(f"{at}.thresholdMetric: threshold indicators are not supported yet; use ratioMetric")
    if sli.get("ratioMetric") is None:
        raise SpecError(f"{at}.ratioMetric: a ratio indicator is required")
    ratio = _mapping(sli.get("ratioMetric"), f"{at}.ratioMetric")
    if ratio.get("raw") is not None:
        raise SpecError(f"{at}.ratioMetric.raw: raw ratio indicators are not supported yet; use good or bad "
                        "with total")
    good, bad = ratio.get("good"), ratio.get("bad")
    if (good is None) == (bad is None):
        raise SpecError(f"{at}.ratioMetric: exactly one of good and bad is required, with total")
    total = _v1_query(ratio, "total", at)
    if good is not None:
        queries = {"ratio_query": _good_total(_v1_query(ratio, "good", at), total)}
    else:
        bad_query = _v1_query(ratio, "bad", at)
        if bad_query == total:
            raise SpecError(f"{at}.ratioMetric: bad and total can't be the same query")
        queries = {"error_query": bad_query, "total_query": total}
    slos = []
    for index, objective in enumerate(_objectives(spec, where)):
        target = _target(objective, f"{where}: spec.objectives[{index}]")
        slos.append(_slo(service, name, index, target, period_s, V1, description=_str(spec.get("description")),
                         **queries))
    return slos
