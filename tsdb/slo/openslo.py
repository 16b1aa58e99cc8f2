"""OpenSLO specs (``openslo/v1`` and Sloth's ``openslo/v1alpha``) converted to tsdb's Sloth SLO model.

The conversion of ratio indicators with ``Occurrences`` budgeting is Sloth v0.16.0's: every objective of an
OpenSLO ``SLO`` becomes one Sloth SLO named ``<metadata.name>-<index>`` (id
``<service>-<metadata.name>-<index>``). A good/total ratio becomes a raw SLI whose error ratio is
``1 - (good / total)``, laid out as Sloth lays it out; a bad/total ratio (``openslo/v1`` only) becomes an
events SLI with ``bad`` as the error query.

``openslo/v1`` adds, each mapped to an SLI error-ratio query with ``{{.window}}`` so that every window's
``slo:sli_error:ratio_rate<W>`` recording, the burn rates, alerts, status and reports work unchanged:

- threshold indicators: the fraction of the window's samples (a subquery at :data:`THRESHOLD_STEP`) where
  the metric misses the objective's ``op``/``value``: ``1 - avg_over_time((q <op> bool v)[W:1m])`` (NaN
  samples left out);
- raw ratio indicators (``ratioMetric.raw`` with ``rawType``): the query as the error ratio (``failure``)
  or 1 minus it (``success``);
- ``Timeslices``: the fraction of bad slices of ``timeSliceWindow`` (a slice is good when its good ratio is
  >= ``timeSliceTarget``; slices without data are left out); ``RatioTimeslices``: 1 minus the average good
  ratio of the slices;
- calendar-aligned windows (``1M``, ``4w``/``28d``, ``30d``): alerting uses the rolling period of the
  same length (30d for a month), the SLO keeps the :class:`~tsdb.slo.spec.Calendar` for the status API;
- alert policies (one ``burnrate`` condition each, inline or by reference): a condition that is one of
  Sloth's windows (lookback = a long window, threshold = its factor, ``op`` gt, no ``alertAfter``)
  enables Sloth's page (1h, 6h) or ticket (1d, 3d) alert, any other one a single-window burn-rate alert.

Anything else is a :class:`SpecError` naming the file, the SLO and the field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from tsdb.errors import TsdbError
from tsdb.gotemplate.gofmt import format_float
from tsdb.gotemplate.template import TemplateError
from tsdb.query.parser.parser import parse
from tsdb.slo.spec import (
    NAME_RE,
    SLO,
    WINDOW_VAR_RE,
    AlertMeta,
    BurnRateAlert,
    Calendar,
    ServiceSpec,
    SpecError,
    _labels,
    _mapping,
    _objective,
    _query,
    _str,
    render_window,
)
from tsdb.slo.windows import DAY, DEFAULT_WINDOWS, MINUTE, parse_period, prom_duration

V1 = "openslo/v1"
V1ALPHA = "openslo/v1alpha"
MODE = "cli-gen-openslo"
THRESHOLD_STEP = "1m"  # the resolution at which threshold indicators are sampled
REFERABLE = ("SLI", "AlertPolicy", "AlertCondition", "DataSource")  # openslo/v1 kinds found by name
IGNORED = ("Service", "AlertNotificationTarget")  # openslo/v1 kinds read and ignored
Catalog = dict[str, dict[str, tuple[dict[str, Any], str]]]
_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_DURATION_RE = re.compile(r"^([0-9]+)(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": MINUTE, "h": 60 * MINUTE, "d": DAY, "w": 7 * DAY}
_CALENDAR_PERIODS = {"1M": 30 * DAY, "30d": 30 * DAY, "4w": 28 * DAY, "28d": 28 * DAY}

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


def catalog(docs: list[tuple[Any, str]]) -> Catalog:
    """The ``openslo/v1`` documents that SLOs refer to by name (``SLI``, ``AlertPolicy``, ``AlertCondition``,
    ``DataSource``), by kind and name, each with its source; a name defined twice is a SpecError."""
    found: Catalog = {kind: {} for kind in REFERABLE}
    for doc, source in docs:
        kind = _str(doc.get("kind")) if isinstance(doc, dict) else ""
        if is_openslo(doc) and _str(doc.get("apiVersion")) == V1 and kind in found:
            name = _name(doc, f"{source}: {kind}")
            if name in found[kind]:
                raise SpecError(f"{source}: {kind} {name!r}: metadata.name: already defined in "
                                f"{found[kind][name][1]}")
            found[kind][name] = (doc, source)
    return found


def parse_document(doc: dict[str, Any], source: str, refs: Catalog | None = None) -> ServiceSpec | None:
    """One OpenSLO document as a :class:`ServiceSpec`; None for the kinds an SLO refers to or that are
    ignored (``SLI``, ``AlertPolicy``, ``AlertCondition``, ``DataSource``, ``Service``,
    ``AlertNotificationTarget``)."""
    version, kind = _str(doc.get("apiVersion")), _str(doc.get("kind"))
    if version not in (V1, V1ALPHA):
        raise SpecError(f"{source}: apiVersion: unknown OpenSLO version {version!r}, expected {V1!r} or "
                        f"{V1ALPHA!r}")
    if kind in (*REFERABLE, *IGNORED) and version == V1:
        return None
    if kind != "SLO":
        supported = ", ".join(("SLO", *REFERABLE, *IGNORED)) + " are" if version == V1 else f"SLO is, in {V1ALPHA}"
        raise SpecError(f"{source}: kind: {kind!r} is not supported: {supported}")
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
        slos = _v1(spec, name, service, where, refs or catalog([]))
    return ServiceSpec(service, tuple(slos), source)


def _budgeting(spec: dict[str, Any], where: str) -> None:
    method = _str(spec.get("budgetingMethod"))
    if method in ("Timeslices", "RatioTimeslices"):
        raise SpecError(f"{where}: spec.budgetingMethod: {method} is supported in {V1} specs only; use Occurrences")
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
    return _ratio(target, f"{where}.target") * 100  # as Sloth: OpenSLO uses ratios, Sloth percents


def _ratio(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise SpecError(f"{where}: must be a ratio > 0 and <= 1, got {_str(value)}")
    return float(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"{where}: must be a number, got {_str(value) or 'nothing'}")
    return float(value)


def _g(value: float) -> str:
    return format_float(value, "g", -1)


def _duration(value: Any, where: str, default: int | None = None) -> int:
    """An OpenSLO duration shorthand in seconds (``30s``, ``5m``, ``1h``, ``1d``, ``1w``)."""
    text = _str(value).strip()
    if not text and default is not None:
        return default
    match = _DURATION_RE.match(text)
    if not match:
        raise SpecError(f"{where}: invalid duration {text!r}: use a number and one of s, m, h, d, w (e.g. 5m)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _v1_budgeting(spec: dict[str, Any], where: str) -> str:
    method = _str(spec.get("budgetingMethod")) or "Occurrences"
    if method not in ("Occurrences", "Timeslices", "RatioTimeslices"):
        raise SpecError(f"{where}: spec.budgetingMethod: unknown method {method!r}; use Occurrences, Timeslices "
                        "or RatioTimeslices")
    return method


def _v1_period(spec: dict[str, Any], where: str) -> tuple[int, Calendar | None]:
    """The alerting period (0: the generation option's) and the calendar alignment, if any."""
    windows = spec.get("timeWindow")
    if not windows:
        return 0, None
    if not isinstance(windows, list) or len(windows) > 1:
        raise SpecError(f"{where}: spec.timeWindow: only 1 time window is supported")
    at = f"{where}: spec.timeWindow[0]"
    window = _mapping(windows[0], at)
    duration, rolling = _str(window.get("duration")).strip(), window.get("isRolling")
    if rolling is True:
        try:
            return parse_period(duration), None
        except ValueError as err:
            raise SpecError(f"{at}.duration: {err}") from err
    if rolling is not False and window.get("calendar") is None:
        raise SpecError(f"{at}.isRolling: true (a rolling window) or false with a calendar is required")
    if duration not in _CALENDAR_PERIODS:
        raise SpecError(f"{at}.duration: calendar-aligned period {duration!r} is not supported: 1M, 4w (28d) and "
                        "30d are")
    calendar = _mapping(window.get("calendar"), f"{at}.calendar")
    zone = _str(calendar.get("timeZone")) or "UTC"
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise SpecError(f"{at}.calendar.timeZone: unknown time zone {zone!r}") from err
    start = calendar.get("startTime")
    start_text = start.strftime("%Y-%m-%d %H:%M:%S") if isinstance(start, (dt.datetime, dt.date)) else _str(start)
    if start_text:
        try:
            parsed = dt.datetime.fromisoformat(start_text)
        except ValueError as err:
            raise SpecError(f"{at}.calendar.startTime: {start_text!r} is not a time like 2024-01-01 00:00:00") \
                from err
        start_text = parsed.strftime("%Y-%m-%d %H:%M:%S")
    return _CALENDAR_PERIODS[duration], Calendar(duration, zone, start_text)


def _v1_indicator(spec: dict[str, Any], where: str, refs: Catalog) -> tuple[dict[str, Any], str]:
    """The SLI's ``spec`` and where it is defined (for errors)."""
    inline, ref = spec.get("indicator"), spec.get("indicatorRef")
    if inline is not None and ref is not None:
        raise SpecError(f"{where}: spec.indicator and spec.indicatorRef: only one of them is allowed")
    if inline is not None:
        sli = _mapping(inline, f"{where}: spec.indicator")
        return _mapping(sli.get("spec"), f"{where}: spec.indicator.spec"), f"{where}: spec.indicator.spec"
    doc, at = _ref(refs, "SLI", ref, f"{where}: spec.indicatorRef", f"{where}: spec.indicator")
    return _mapping(doc.get("spec"), f"{at}: spec"), f"{at}: spec"


def _ref(refs: Catalog, kind: str, ref: Any, where: str, missing: str = "") -> tuple[dict[str, Any], str]:
    """The document a reference names, and its name in errors (``<file>: <kind> '<name>'``)."""
    name = _str(ref)
    if not name:
        raise SpecError(f"{missing or where}: {'an indicator or indicatorRef' if kind == 'SLI' else 'a reference'} "
                        "is required")
    if name not in refs.get(kind, {}):
        raise SpecError(f"{where}: {kind} {name!r} is not defined in the given files")
    doc, source = refs[kind][name]
    return doc, f"{source}: {kind} {name!r}"


def _metric_source(block: Any, at: str, refs: Catalog) -> dict[str, Any]:
    """The ``spec`` of a Prometheus ``metricSource`` (its type possibly from a ``DataSource`` by reference)."""
    source = _mapping(_mapping(block, at).get("metricSource"), f"{at}.metricSource")
    kind = _str(source.get("type"))
    if not kind and source.get("metricSourceRef") is not None:
        doc, _ = _ref(refs, "DataSource", source.get("metricSourceRef"), f"{at}.metricSource.metricSourceRef")
        kind = _str(_mapping(doc.get("spec"), f"{at}.metricSource.metricSourceRef").get("type"))
    if kind.lower() != "prometheus":
        raise SpecError(f"{at}.metricSource.type: {kind!r} is not supported: Prometheus is")
    return _mapping(source.get("spec"), f"{at}.metricSource.spec")


def _v1_query(ratio: dict[str, Any], which: str, where: str, refs: Catalog) -> str:
    at = f"{where}.ratioMetric.{which}"
    return _query(_metric_source(ratio.get(which), at, refs).get("query"), f"{at}.metricSource.spec.query")


def _threshold_query(value: Any, where: str) -> str:
    """A threshold metric's query: PromQL giving the metric's value now; a ``{{.window}}`` in it (e.g. a rate's
    range) is set to :data:`THRESHOLD_STEP`."""
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{where}: the query is required")
    try:
        rendered = render_window(value, THRESHOLD_STEP).strip()
    except TemplateError as err:
        raise SpecError(f"{where}: invalid template: {err}") from err
    if "{{" in rendered or "}}" in rendered:
        raise SpecError(f"{where}: the query must not contain '{{{{' or '}}}}' once {{{{.window}}}} is set")
    try:
        parse(rendered)
    except TsdbError as err:
        raise SpecError(f"{where}: invalid PromQL: {err}") from err
    return rendered


@dataclass(frozen=True)
class _Indicator:
    """An ``openslo/v1`` SLI: ``bad``/``good`` with ``total``, a raw ``ratio`` or a threshold ``metric``."""

    total: str = ""
    bad: str = ""
    good: str = ""
    ratio: str = ""  # raw error ratio, with {{.window}}
    raw_good: str = ""  # raw good ratio (``rawType: success``), with {{.window}}
    metric: str = ""  # threshold metric, rendered

    def good_ratio(self, objective: dict[str, Any], at: str, window: str) -> str:
        """PromQL of the good ratio over a literal window (a time slice)."""
        if self.metric:
            return f"avg_over_time(({self.threshold(objective, at)})[{window}:{THRESHOLD_STEP}])"
        if self.raw_good:
            return _render(self.raw_good, window, at)
        if self.ratio:
            return f"1 - ({_render(self.ratio, window, at)})"
        if self.good:
            return f"({_render(self.good, window, at)}) / ({_render(self.total, window, at)})"
        return f"1 - (({_render(self.bad, window, at)}) / ({_render(self.total, window, at)}))"

    def threshold(self, objective: dict[str, Any], at: str) -> str:
        """``((<metric>) >= -Inf) <op> bool <value>``: 1 for a sample meeting the objective's threshold, 0 for
        one missing it; NaN samples (e.g. a quantile without requests) are left out."""
        op = _str(objective.get("op"))
        if op not in _OPS:
            raise SpecError(f"{at}.op: {'the operator is required' if not op else f'unknown operator {op!r}'} "
                            "for a threshold indicator: lt, lte, gt or gte")
        value = _number(objective.get("value"), f"{at}.value")
        return f"(({self.metric}) >= -Inf) {_OPS[op]} bool {_g(value)}"


def _render(query: str, window: str, at: str) -> str:
    rendered = render_window(query, window)
    if "{{" in rendered or "}}" in rendered:
        raise SpecError(f"{at}: a query must not contain '{{{{' or '}}}}' once {{{{.window}}}} is set")
    return rendered


def _v1_sli(sli: dict[str, Any], at: str, refs: Catalog) -> _Indicator:
    threshold, ratio_block = sli.get("thresholdMetric"), sli.get("ratioMetric")
    if threshold is not None and ratio_block is not None:
        raise SpecError(f"{at}: thresholdMetric and ratioMetric: only one of them is allowed")
    if threshold is not None:
        source = _metric_source(threshold, f"{at}.thresholdMetric", refs)
        return _Indicator(metric=_threshold_query(source.get("query"),
                                                  f"{at}.thresholdMetric.metricSource.spec.query"))
    if ratio_block is None:
        raise SpecError(f"{at}: a ratioMetric or thresholdMetric indicator is required")
    ratio = _mapping(ratio_block, f"{at}.ratioMetric")
    if ratio.get("raw") is not None:
        if any(ratio.get(k) is not None for k in ("good", "bad", "total")):
            raise SpecError(f"{at}.ratioMetric: raw can't be given with good, bad or total")
        raw_type = _str(ratio.get("rawType"))
        if raw_type not in ("success", "failure"):
            raise SpecError(f"{at}.ratioMetric.rawType: success or failure is required with raw, got {raw_type!r}")
        query = _v1_query(ratio, "raw", at, refs)
        if raw_type == "failure":
            return _Indicator(ratio=query)
        return _Indicator(ratio=f"1 - ({query})", raw_good=query)
    good, bad = ratio.get("good"), ratio.get("bad")
    if (good is None) == (bad is None):
        raise SpecError(f"{at}.ratioMetric: exactly one of good and bad is required, with total (or raw)")
    total = _v1_query(ratio, "total", at, refs)
    if good is not None:
        return _Indicator(total=total, good=_v1_query(ratio, "good", at, refs))
    bad_query = _v1_query(ratio, "bad", at, refs)
    if bad_query == total:
        raise SpecError(f"{at}.ratioMetric: bad and total can't be the same query")
    return _Indicator(total=total, bad=bad_query)


def _occurrences(indicator: _Indicator, objective: dict[str, Any], at: str) -> dict[str, str]:
    """The SLI queries of ``Occurrences`` budgeting: Sloth's for ratios, sampled time for thresholds."""
    if indicator.metric:
        good = indicator.threshold(objective, at)
        return {"ratio_query": f"1 - avg_over_time(({good})[{{{{.window}}}}:{THRESHOLD_STEP}])"}
    if indicator.ratio:
        return {"ratio_query": indicator.ratio}
    if indicator.good:
        return {"ratio_query": _good_total(indicator.good, indicator.total)}
    return {"error_query": indicator.bad, "total_query": indicator.total}


def _timeslices(indicator: _Indicator, objective: dict[str, Any], at: str, method: str) -> str:
    """The SLI error ratio of ``Timeslices`` (the fraction of bad slices) or ``RatioTimeslices`` (1 minus
    the slices' average good ratio), as a subquery at the slice window; slices without data are left out."""
    if objective.get("timeSliceWindow") is None:
        raise SpecError(f"{at}.timeSliceWindow: the time slice window is required with {method}")
    slice_s = _duration(objective.get("timeSliceWindow"), f"{at}.timeSliceWindow")
    if slice_s % MINUTE or not MINUTE <= slice_s <= 5 * MINUTE:
        raise SpecError(f"{at}.timeSliceWindow: must be whole minutes from 1m to 5m (the shortest alert window), "
                        f"got {_str(objective.get('timeSliceWindow'))!r}")
    window = prom_duration(slice_s)
    good = f"({indicator.good_ratio(objective, at, window)}) >= 0"  # drops slices without data (NaN)
    if method == "RatioTimeslices":
        return f"1 - avg_over_time(({good})[{{{{.window}}}}:{window}])"
    if objective.get("timeSliceTarget") is None:
        raise SpecError(f"{at}.timeSliceTarget: the time slice target is required with Timeslices")
    target = _ratio(objective.get("timeSliceTarget"), f"{at}.timeSliceTarget")
    return f"1 - avg_over_time((({good}) >= bool {_g(target)})[{{{{.window}}}}:{window}])"


# --- openslo/v1 alert policies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Condition:
    """One ``burnrate`` alert condition of an alert policy."""

    policy: str
    severity: str
    op: str
    threshold: float
    lookback_s: int
    for_s: int
    description: str
    where: str


def alert_name(policy: str) -> str:
    """The Prometheus alert name of an alert policy: its name in CamelCase (``high-burn-rate`` ->
    ``HighBurnRate``), prefixed with ``SLO`` when it would start with a digit."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", policy))
    return f"SLO{name}" if not name or name[0].isdigit() else name


def _inline_or_ref(item: Any, kind: str, ref_key: str, at: str, refs: Catalog) -> tuple[dict[str, Any], str]:
    block = _mapping(item, at)
    if block.get(ref_key) is not None:
        if block.get("spec") is not None:
            raise SpecError(f"{at}: {ref_key} and an inline {kind}: only one of them is allowed")
        return _ref(refs, kind, block.get(ref_key), f"{at}.{ref_key}")
    if _str(block.get("kind")) != kind:
        raise SpecError(f"{at}: {ref_key} or an inline {kind} (kind: {kind}) is required")
    return block, at


def _condition(policy_doc: dict[str, Any], pat: str, refs: Catalog) -> _Condition:
    policy = _name(policy_doc, pat)
    spec = _mapping(policy_doc.get("spec"), f"{pat}: spec")
    if spec.get("alertWhenNoData") is True:
        raise SpecError(f"{pat}: spec.alertWhenNoData: alerting on missing data is not supported yet")
    conditions = spec.get("conditions")
    if not isinstance(conditions, list) or len(conditions) != 1:
        raise SpecError(f"{pat}: spec.conditions: exactly one condition is required (as OpenSLO v1 allows)")
    doc, cat = _inline_or_ref(conditions[0], "AlertCondition", "conditionRef", f"{pat}: spec.conditions[0]", refs)
    cwhere = f"{cat}.spec" if cat == f"{pat}: spec.conditions[0]" else f"{cat}: spec"  # inline or by reference
    cspec = _mapping(doc.get("spec"), cwhere)
    severity = _str(cspec.get("severity"))
    if not severity:
        raise SpecError(f"{cwhere}.severity: the severity is required")
    condition = _mapping(cspec.get("condition"), f"{cwhere}.condition")
    kind = _str(condition.get("kind")) or "burnrate"
    if kind != "burnrate":
        raise SpecError(f"{cwhere}.condition.kind: {kind!r} is not supported: burnrate is")
    op = _str(condition.get("op")) or "gt"
    if op not in _OPS:
        raise SpecError(f"{cwhere}.condition.op: unknown operator {op!r}: lt, lte, gt or gte")
    threshold = _number(condition.get("threshold"), f"{cwhere}.condition.threshold")
    if threshold <= 0:
        raise SpecError(f"{cwhere}.condition.threshold: must be > 0, got {_g(threshold)}")
    if condition.get("lookbackWindow") is None:
        raise SpecError(f"{cwhere}.condition.lookbackWindow: the lookback window is required")
    lookback = _duration(condition.get("lookbackWindow"), f"{cwhere}.condition.lookbackWindow")
    if lookback < MINUTE:
        raise SpecError(f"{cwhere}.condition.lookbackWindow: must be at least 1m")
    for_s = _duration(condition.get("alertAfter"), f"{cwhere}.condition.alertAfter", default=0)
    description = _str(spec.get("description")) or _str(cspec.get("description"))
    return _Condition(policy, severity, _OPS[op], threshold, lookback, for_s, description, pat)


def _v1_conditions(spec: dict[str, Any], where: str, refs: Catalog) -> list[_Condition]:
    policies = spec.get("alertPolicies")
    if policies is None:
        return []
    if not isinstance(policies, list):
        raise SpecError(f"{where}: spec.alertPolicies: must be a list")
    out = []
    for index, item in enumerate(policies):
        doc, pat = _inline_or_ref(item, "AlertPolicy", "alertPolicyRef", f"{where}: spec.alertPolicies[{index}]",
                                  refs)
        out.append(_condition(doc, pat, refs))
    return out


def _alerts(conditions: list[_Condition], period_s: int) -> tuple[AlertMeta, AlertMeta, tuple[BurnRateAlert, ...]]:
    """The page and ticket alerts and the single-window alerts of the conditions; a condition matches one
    of Sloth's windows of the period (30d when the spec has none) when it has that long window, its factor
    as threshold, ``op`` gt and no ``alertAfter``."""
    windows = DEFAULT_WINDOWS[period_s or 30 * DAY]
    sloth = {id(w): sev for sev, pair in (("page", (windows.page_quick, windows.page_slow)),
                                           ("ticket", (windows.ticket_quick, windows.ticket_slow))) for w in pair}
    metas = {"page": AlertMeta(), "ticket": AlertMeta()}
    taken: dict[str, str] = {}
    plain: list[BurnRateAlert] = []
    for c in conditions:
        labels = _labels({"severity": c.severity}, f"{c.where}: severity")
        annotations = {"description": c.description} if c.description else {}
        match = [w for w in (windows.page_quick, windows.page_slow, windows.ticket_quick, windows.ticket_slow)
                 if c.op == ">" and not c.for_s and w.long_s == c.lookback_s
                 and math.isclose(c.threshold, windows.burn_factor(w), rel_tol=1e-9)]
        if not match:
            plain.append(BurnRateAlert(alert_name(c.policy), c.severity, c.op, c.threshold, c.lookback_s, c.for_s,
                                       labels, annotations))
            continue
        severity = sloth[id(match[0])]
        meta = AlertMeta(False, alert_name(c.policy), labels, annotations)
        if severity in taken and metas[severity] != meta:
            raise SpecError(f"{c.where}: its condition is Sloth's {severity} alert, already given by alert policy "
                            f"{taken[severity]!r} with another name, severity or description")
        metas[severity], taken[severity] = meta, c.policy
    return metas["page"], metas["ticket"], tuple(plain)


def _v1(spec: dict[str, Any], name: str, service: str, where: str, refs: Catalog) -> list[SLO]:
    method = _v1_budgeting(spec, where)
    period_s, calendar = _v1_period(spec, where)
    sli, at = _v1_indicator(spec, where, refs)
    indicator = _v1_sli(sli, at, refs)
    page, ticket, burn = _alerts(_v1_conditions(spec, where, refs), period_s)
    slos = []
    for index, objective in enumerate(_objectives(spec, where)):
        ow = f"{where}: spec.objectives[{index}]"
        target = _target(objective, ow)
        if method == "Occurrences":
            queries = _occurrences(indicator, objective, ow)
        else:
            queries = {"ratio_query": _timeslices(indicator, objective, ow, method)}
        if "ratio_query" in queries and not WINDOW_VAR_RE.search(queries["ratio_query"]):
            raise SpecError(f"{ow}: the SLI query must use {{{{.window}}}}")
        slo = _slo(service, name, index, target, period_s, V1, description=_str(spec.get("description")),
                   **queries)
        slos.append(dataclasses.replace(slo, page=page, ticket=ticket, burn_alerts=burn, calendar=calendar))
    return slos
