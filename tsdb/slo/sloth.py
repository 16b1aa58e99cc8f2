"""Sloth's rule generation for one SLO: the SLI recordings, the metadata recordings and the MWMB alerts.

Three groups per SLO, named ``sloth-slo-sli-recordings-<id>``, ``sloth-slo-meta-recordings-<id>`` and
``sloth-slo-alerts-<id>``, with rules in Sloth's order and expressions character for character as Sloth
writes them (floats as Go prints them: ``0.9990000000000001``, ``0.0009999999999999432``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tsdb.gotemplate.gofmt import format_float, quote
from tsdb.slo.spec import SLO, AlertMeta, BurnRateAlert, ServiceSpec, SpecError, render_window
from tsdb.slo.windows import DAY, DEFAULT_WINDOWS, HOUR, AlertWindows, Window, prom_duration

SLOTH_VERSION = "v0.16.0"  # the Sloth release whose output this module reproduces
SPEC_VERSION = "prometheus/v1"
SLI_METRIC = "slo:sli_error:ratio_rate"
ERROR_BUDGET_METRIC = "slo:error_budget:ratio"
PERIOD_BURN_RATE_METRIC = "slo:period_burn_rate:ratio"
WINDOW_LABEL = "sloth_window"


@dataclass(frozen=True)
class Options:
    """Generation settings: the SLO period, labels added to every rule, and the ``sloth_slo_info`` labels."""

    period_s: int = 30 * DAY
    extra_labels: dict[str, str] = field(default_factory=dict)
    version: str = "dev"
    mode: str = "cli-gen-prom"
    disable_recordings: bool = False
    disable_alerts: bool = False


Rule = dict[str, object]
Group = dict[str, object]


def _g(value: float) -> str:
    return format_float(value, "g", -1)


def sli_metric(window_s: int) -> str:
    """``slo:sli_error:ratio_rate<window>``."""
    return SLI_METRIC + prom_duration(window_s)


def id_labels(slo: SLO) -> dict[str, str]:
    """The labels identifying an SLO's series."""
    return {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}


def label_filter(labels: dict[str, str]) -> str:
    """A selector's braces as Prometheus's ``LabelSet.String`` prints them: ``{a="x", b="y"}``, sorted."""
    return "{" + ", ".join(sorted(f"{k}={quote(v)}" for k, v in labels.items())) + "}"


def _sli_rule(slo: SLO, window_s: int, labels: dict[str, str]) -> Rule:
    window = prom_duration(window_s)
    if slo.error_ratio_query:
        expr = render_window(f"({slo.error_ratio_query})", window)
    else:
        expr = render_window(f"({slo.error_query})\n/\n({slo.total_query})\n", window)
    return {"record": sli_metric(window_s), "expr": expr, "labels": _window_labels(slo, window, labels)}


def _window_labels(slo: SLO, window: str, labels: dict[str, str]) -> dict[str, str]:
    """Sloth's merge order: the SLO's labels may override the id and window labels."""
    return {**id_labels(slo), WINDOW_LABEL: window, **labels}


def _optimized_sli_rule(slo: SLO, period_s: int, short_s: int, labels: dict[str, str]) -> Rule:
    """The period's SLI from the shortest window's: average of ratios, weighted correctly by counting."""
    window, selector = prom_duration(period_s), sli_metric(short_s) + label_filter(id_labels(slo))
    expr = (f"sum_over_time({selector}[{window}])\n/ ignoring ({WINDOW_LABEL})\n"
            f"count_over_time({selector}[{window}])\n")
    return {"record": sli_metric(period_s), "expr": expr, "labels": _window_labels(slo, window, labels)}


def sli_rules(slo: SLO, windows: AlertWindows, labels: dict[str, str]) -> list[Rule]:
    """One SLI error-ratio recording per alert window, then the period's (from the 5m one), then one per
    lookback window of the SLO's single-window burn-rate alerts that is none of those."""
    rules = [_sli_rule(slo, w, labels) for w in windows.durations()]
    rules.append(_optimized_sli_rule(slo, windows.period_s, windows.page_quick.short_s, labels))
    rules.extend(_sli_rule(slo, w, labels) for w in extra_windows(slo, windows))
    return rules


def extra_windows(slo: SLO, windows: AlertWindows) -> list[int]:
    """The lookback windows of the SLO's burn-rate alerts that have no recording of their own, shortest first."""
    known = {*windows.durations(), windows.period_s}
    return sorted({a.lookback_s for a in slo.burn_alerts} - known)


def _burn_rate_expr(metric: str, selector: str) -> str:
    return (f"{metric}{selector}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
            f"{ERROR_BUDGET_METRIC}{selector}\n")


def meta_rules(slo: SLO, windows: AlertWindows, labels: dict[str, str], options: Options) -> list[Rule]:
    """Objective, error budget, period, burn rates, budget remaining and the ``sloth_slo_info`` series."""
    labels = {**id_labels(slo), **labels}
    ratio = _g(slo.objective / 100)
    selector = label_filter(id_labels(slo))
    info = {**labels, "sloth_version": options.version, "sloth_mode": slo.mode or options.mode,
            "sloth_spec": slo.spec_version,
            "sloth_objective": format_float(slo.objective, "f", -1)}
    exprs = [
        ("slo:objective:ratio", f"vector({ratio})"),
        (ERROR_BUDGET_METRIC, f"vector(1-{ratio})"),
        ("slo:time_period:days", f"vector({_g(windows.period_s / HOUR / 24)})"),
        ("slo:current_burn_rate:ratio", _burn_rate_expr(sli_metric(windows.page_quick.short_s), selector)),
        (PERIOD_BURN_RATE_METRIC, _burn_rate_expr(sli_metric(windows.period_s), selector)),
        ("slo:period_error_budget_remaining:ratio", f"1 - {PERIOD_BURN_RATE_METRIC}{selector}"),
    ]
    rules: list[Rule] = [{"record": name, "expr": expr, "labels": dict(labels)} for name, expr in exprs]
    rules.append({"record": "sloth_slo_info", "expr": "vector(1)", "labels": info})
    return rules


def _condition(slo: SLO, windows: AlertWindows, window: Window) -> tuple[str, str]:
    factor, budget = _g(windows.burn_factor(window)), _g((100 - slo.objective) / 100)
    selector = label_filter(id_labels(slo))

    def part(window_s: int) -> str:
        return (f"    max({sli_metric(window_s)}{selector} > ({factor} * {budget})) "
                f"without ({WINDOW_LABEL})\n")

    return part(window.short_s), part(window.long_s)


def _alert(slo: SLO, meta: AlertMeta, severity: str, windows: AlertWindows, quick: Window, slow: Window) -> Rule:
    q_short, q_long = _condition(slo, windows, quick)
    s_short, s_long = _condition(slo, windows, slow)
    expr = f"(\n{q_short}    and\n{q_long})\nor\n(\n{s_short}    and\n{s_long})\n"
    annotations = {
        "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn "
                 "rate is too fast.",
        "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.",
    }
    return {"alert": meta.name, "expr": expr, "labels": {"sloth_severity": severity, **meta.labels},
            "annotations": {**annotations, **meta.annotations}}


def _burn_alert(slo: SLO, alert: BurnRateAlert) -> Rule:
    """A single-window burn-rate alert, its condition written as Sloth writes one window's."""
    budget, selector = _g((100 - slo.objective) / 100), label_filter(id_labels(slo))
    expr = (f"max({sli_metric(alert.lookback_s)}{selector} {alert.op} ({_g(alert.threshold)} * {budget})) "
            f"without ({WINDOW_LABEL})\n")
    annotations = {
        "title": f"({alert.severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget "
                 f"burn rate over {prom_duration(alert.lookback_s)} is {alert.op} {_g(alert.threshold)}.",
        "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.",
    }
    rule: Rule = {"alert": alert.name, "expr": expr, "labels": dict(alert.labels),
                  "annotations": {**annotations, **alert.annotations}}
    if alert.for_s:
        rule["for"] = prom_duration(alert.for_s)
    return rule


def alert_rules(slo: SLO, windows: AlertWindows) -> list[Rule]:
    """The page alert then the ticket alert, each left out when disabled, then the single-window ones."""
    rules = []
    if not slo.page.disable:
        rules.append(_alert(slo, slo.page, "page", windows, windows.page_quick, windows.page_slow))
    if not slo.ticket.disable:
        rules.append(_alert(slo, slo.ticket, "ticket", windows, windows.ticket_quick, windows.ticket_slow))
    rules.extend(_burn_alert(slo, alert) for alert in slo.burn_alerts)
    return rules


def slo_groups(slo: SLO, options: Options) -> list[Group]:
    """The rule groups of one SLO, in Sloth's order; empty groups are left out."""
    windows = DEFAULT_WINDOWS[slo.period_s or options.period_s]
    labels = {**slo.labels, **options.extra_labels}
    groups: list[Group] = []
    if not options.disable_recordings:
        groups.append({"name": f"sloth-slo-sli-recordings-{slo.id}", "rules": sli_rules(slo, windows, labels)})
        groups.append({"name": f"sloth-slo-meta-recordings-{slo.id}",
                       "rules": meta_rules(slo, windows, labels, options)})
    alerts = [] if options.disable_alerts else alert_rules(slo, windows)
    if alerts:
        groups.append({"name": f"sloth-slo-alerts-{slo.id}", "rules": alerts})
    return groups


def generate(spec: ServiceSpec, options: Options | None = None) -> list[Group]:
    """Every rule group of a service spec, SLO by SLO."""
    options = options or Options()
    return [group for slo in spec.slos for group in slo_groups(slo, options)]


def generate_all(specs: list[ServiceSpec], options: Options | None = None) -> list[list[Group]]:
    """The groups of every spec (one list per spec document); an SLO id defined twice is a SpecError."""
    seen: dict[str, str] = {}
    for spec in specs:
        for slo in spec.slos:
            if slo.id in seen:
                raise SpecError(f"{spec.source}: slo {slo.name!r}: SLO id {slo.id!r} is already defined in "
                                f"{seen[slo.id]}")
            seen[slo.id] = spec.source
    return [generate(spec, options) for spec in specs]
