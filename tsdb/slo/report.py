"""Monthly SLA/SLO compliance reports, computed through the PromQL engine (embedded or a server's).

Per SLO and period ``[start, end)``:

- **attained** (events SLIs): ``1 - sum(bad) / sum(total)`` where each sum is the SLO's query with
  ``rate`` turned into ``increase`` and ``{{.window}}`` set to the period, start included (one instant
  query at the period's end; a maintenance window splits the period and each remaining part is queried
  the same way), so it is weighted by events, not an average of ratios. Raw SLIs
  (``error_ratio_query``): ``1 -`` the time-weighted average of the error ratio, sampled every step
  (5 minutes for a month) with ``{{.window}}`` = the step.
- **allowance**: ``(1 - objective) * counted time`` (43.2 minutes for 99.9% of 30 days) and, for events
  SLIs, ``(1 - objective) * total events``; **bad time** is ``(1 - attained) * counted time``, the
  downtime of a raw SLI and the time equivalent of the bad events of an events SLI.
- **budget consumed** ``(1 - attained) / (1 - objective)``, **remaining** ``1 - consumed`` (negative when
  the SLO is breached); **pass** when ``attained >= objective``.
- **incidents**: runs of ``ALERTS{alertstate="firing"}`` samples of the SLO's alerts (a gap over 5
  minutes ends a run); a run ends one evaluation interval after its last sample; clipped to the period.
  **MTTD** is the mean time from the first ``pending`` sample directly before a run to its start (0 for
  alerts without ``for``); **MTTR** is the mean incident duration (firing start to end).
- **maintenance**: see :mod:`tsdb.slo.maintenance`; events and time inside those windows are left out.
- **trend**: the attained value, status and budget remaining of the previous N periods (months), oldest
  first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tsdb.alerting.silences import Silence
from tsdb.query.parser import ast
from tsdb.query.parser.parser import parse
from tsdb.query.result import to_result
from tsdb.slo.maintenance import Window, complement, windows_for
from tsdb.slo.report_period import Period, zone
from tsdb.slo.spec import SLO, render_window
from tsdb.slo.windows import prom_duration

Series = tuple[dict[str, str], list[tuple[int, float]]]
QueryFn = Callable[[str, int], list[Series]]
"""An instant query: PromQL text at a Unix time in ms -> the series, each labels and (ms, value) points."""

STALE_GAP_S = 300
_MAX_POINTS = 11000


def engine_query(instant: Callable[[Any, int], Any]) -> QueryFn:
    """A :data:`QueryFn` over an engine's ``instant(query, t_ms)`` (server context or embedded engine)."""
    import numpy as np

    def run(query: str, t_ms: int) -> list[Series]:
        result = to_result(instant(query, t_ms), np.array([t_ms], dtype=np.int64))
        return [(dict(s.labels.items()), [(int(t), float(v)) for t, v in zip(s.ts, s.values, strict=True)])
                for s in result.series]

    return run


def _to_increase(node: Any) -> Any:
    """The expression with every ``rate(...)`` call replaced by ``increase(...)``."""
    if isinstance(node, ast.Call) and node.func == "rate":
        return dataclasses.replace(node, func="increase", args=tuple(_to_increase(a) for a in node.args))
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, ast.Expr):
            changes[f.name] = _to_increase(value)
        elif isinstance(value, tuple) and any(isinstance(v, ast.Expr) for v in value):
            changes[f.name] = tuple(_to_increase(v) for v in value)
    return dataclasses.replace(node, **changes) if changes else node


def _duration_ms(ms: int) -> str:
    seconds, rest = divmod(ms, 1000)
    return (prom_duration(seconds) if seconds else "") + (f"{rest}ms" if rest else "") or "0s"


def events_query(query: str, seconds: int) -> str:
    """An events SLI query counting the events of the closed range ``[t - seconds, t]`` (``rate`` ->
    ``increase``; the range is one millisecond longer than ``seconds`` because PromQL ranges are left-open,
    so a sample exactly at the start counts and no extrapolation is needed when samples fall on both ends)."""
    return str(_to_increase(parse(render_window(query, _duration_ms(seconds * 1000 + 1)))))


def _sum(series: list[Series]) -> float | None:
    values = [v for _, points in series for _, v in points[-1:] if math.isfinite(v)]
    return sum(values) if values else None


@dataclass
class Incident:
    """One firing interval of an SLO alert, clipped to the period (Unix seconds)."""

    alert: str
    severity: str
    start_s: float
    end_s: float
    detection_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class TrendPoint:
    label: str
    attained: float | None
    status: str
    budget_remaining: float | None


@dataclass
class SLOReport:
    """The figures of one SLO in one period (fractions, not percent; seconds)."""

    slo: SLO
    sli_type: str
    attained: float | None
    counted_s: float
    total_events: float | None = None
    bad_events: float | None = None
    maintenance: list[Window] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)

    @property
    def objective(self) -> float:
        return self.slo.objective / 100

    @property
    def status(self) -> str:
        if self.attained is None:
            return "no data"
        return "pass" if self.attained >= self.objective - 1e-12 else "breach"

    @property
    def allowance_s(self) -> float:
        return (1 - self.objective) * self.counted_s

    @property
    def bad_s(self) -> float | None:
        return None if self.attained is None else (1 - self.attained) * self.counted_s

    @property
    def allowed_bad_events(self) -> float | None:
        return None if self.total_events is None else (1 - self.objective) * self.total_events

    @property
    def budget_consumed(self) -> float | None:
        if self.attained is None:
            return None
        if self.objective >= 1:
            return 0.0 if self.attained >= 1 else math.inf
        return (1 - self.attained) / (1 - self.objective)

    @property
    def budget_remaining(self) -> float | None:
        consumed = self.budget_consumed
        return None if consumed is None else 1 - consumed

    @property
    def excluded_s(self) -> int:
        return sum(w.seconds for w in self.maintenance)

    @property
    def mttd_s(self) -> float | None:
        return sum(i.detection_s for i in self.incidents) / len(self.incidents) if self.incidents else None

    @property
    def mttr_s(self) -> float | None:
        return sum(i.duration_s for i in self.incidents) / len(self.incidents) if self.incidents else None


@dataclass
class Report:
    period: Period
    slos: list[SLOReport]
    generated_at: float

    def summary(self) -> dict[str, int]:
        statuses = [s.status for s in self.slos]
        return {"slos": len(statuses), "passed": statuses.count("pass"), "breached": statuses.count("breach"),
                "no_data": statuses.count("no data")}

    def iso(self, seconds: float) -> str:
        """A time in the report's time zone, RFC 3339 with its offset."""
        return dt.datetime.fromtimestamp(seconds, zone(self.period.tz)).isoformat()

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (fractions as percent where named ``*_percent``)."""
        return {"period": {"label": self.period.label, "start": self.period.start.isoformat(),
                           "end": self.period.end.isoformat(), "time_zone": self.period.tz,
                           "seconds": self.period.seconds},
                "generated_at": self.iso(self.generated_at), "summary": self.summary(),
                "slos": [self._slo_dict(s) for s in self.slos]}

    def _slo_dict(self, s: SLOReport) -> dict[str, Any]:
        return {"id": s.slo.id, "service": s.slo.service, "name": s.slo.name, "description": s.slo.description,
                "sli_type": s.sli_type, "objective_percent": s.slo.objective,
                "attained_percent": _pct(s.attained), "status": s.status,
                "total_events": s.total_events, "bad_events": s.bad_events,
                "allowed_bad_events": s.allowed_bad_events,
                "counted_seconds": s.counted_s, "bad_seconds": s.bad_s, "allowance_seconds": s.allowance_s,
                "budget_consumed_percent": _pct(s.budget_consumed),
                "budget_remaining_percent": _pct(s.budget_remaining),
                "maintenance": [{"start": self.iso(w.start_s), "end": self.iso(w.end_s), "seconds": w.seconds,
                                 "source": w.source} for w in s.maintenance],
                "excluded_seconds": s.excluded_s,
                "incidents": [{"alert": i.alert, "severity": i.severity, "start": self.iso(i.start_s),
                               "end": self.iso(i.end_s), "duration_seconds": i.duration_s,
                               "detection_seconds": i.detection_s} for i in s.incidents],
                "mttd_seconds": s.mttd_s, "mttr_seconds": s.mttr_s,
                "trend": [{"period": t.label, "attained_percent": _pct(t.attained), "status": t.status,
                           "budget_remaining_percent": _pct(t.budget_remaining)} for t in s.trend]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=str) + "\n"


def _pct(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value * 100


@dataclass
class ReportInputs:
    """What a report reads: the query function, the silences and the notification time intervals."""

    query: QueryFn
    silences: Sequence[Silence] = ()
    time_intervals: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


def raw_step_s(period_s: int) -> int:
    """The sampling step of a raw SLI: whole minutes, at most ~11,000 points per period."""
    return max(60, math.ceil(period_s / _MAX_POINTS / 60) * 60)


def _events(slo: SLO, inputs: ReportInputs, parts: list[tuple[int, int]]) -> tuple[float | None, float | None]:
    """Bad and total events summed over the parts (``None`` when a query has no data at all)."""
    bad: float | None = None
    total: float | None = None
    for lo, hi in parts:
        b = _sum(inputs.query(events_query(slo.error_query, hi - lo), hi * 1000))
        t = _sum(inputs.query(events_query(slo.total_query, hi - lo), hi * 1000))
        if t is not None:
            total = (total or 0.0) + t
            bad = (bad or 0.0) + (b or 0.0)
    return bad, total


def _raw_ratio(slo: SLO, inputs: ReportInputs, period: Period, windows: list[Window]) -> float | None:
    """The time-weighted mean error ratio over the points outside the maintenance windows."""
    step = raw_step_s(period.seconds)
    inner = render_window(f"({slo.error_ratio_query})", prom_duration(step))
    query = f"({inner})[{prom_duration(period.seconds)}:{prom_duration(step)}]"
    values = []
    for _, points in inputs.query(query, period.end_s * 1000):
        for t_ms, v in points:
            t = t_ms / 1000
            if math.isfinite(v) and not any(w.start_s < t <= w.end_s for w in windows):
                values.append(min(max(v, 0.0), 1.0))
    return sum(values) / len(values) if values else None


def _runs(points: list[float], gap_s: float) -> list[list[float]]:
    runs: list[list[float]] = []
    for t in sorted(points):
        if runs and t - runs[-1][-1] <= gap_s:
            runs[-1].append(t)
        else:
            runs.append([t])
    return runs


def _incidents(slo: SLO, inputs: ReportInputs, period: Period) -> list[Incident]:
    names = [a.name for a in (slo.page, slo.ticket) if not a.disable] + [a.name for a in slo.burn_alerts]
    if not names:
        return []
    regex = "|".join(re.escape(n) for n in sorted(set(names)))
    selector = f"ALERTS{{sloth_id={json.dumps(slo.id)}, alertname=~{json.dumps(regex)}}}"
    lookback = period.seconds + 86400
    by_alert: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}
    for labels, points in inputs.query(f"{selector}[{prom_duration(lookback)}]", period.end_s * 1000):
        state = labels.pop("alertstate", "")
        key = tuple(sorted(labels.items()))
        by_alert.setdefault(key, {}).setdefault(state, []).extend(t / 1000 for t, _ in points)
    out: list[Incident] = []
    for key, states in by_alert.items():
        labels = dict(key)
        firing = sorted(states.get("firing", []))
        pending = sorted(states.get("pending", []))
        spacing = [b - a for a, b in itertools.pairwise(firing) if b > a]
        step = min(min(spacing, default=0.0), STALE_GAP_S)
        for run in _runs(firing, STALE_GAP_S):
            start, end = run[0], run[-1] + step
            detect = start
            for t in reversed([p for p in pending if p < start]):
                if detect - t > STALE_GAP_S:
                    break
                detect = t
            lo, hi = max(start, period.start_s), min(end, period.end_s)
            if hi < lo or (hi == lo and not period.start_s <= start < period.end_s):
                continue
            severity = labels.get("sloth_severity") or labels.get("severity", "")
            out.append(Incident(labels.get("alertname", ""), severity, lo, hi,
                                start - detect))
    return sorted(out, key=lambda i: (i.start_s, i.alert))


def slo_report(slo: SLO, inputs: ReportInputs, period: Period, trend_periods: int = 0,
               with_incidents: bool = True) -> SLOReport:
    """The figures of one SLO over the period (and the trend of the ``trend_periods`` before it)."""
    windows = windows_for(slo, inputs.silences, inputs.time_intervals, period.start_s, period.end_s)
    parts = complement(windows, period.start_s, period.end_s)
    counted = float(sum(hi - lo for lo, hi in parts))
    if slo.error_ratio_query:
        ratio = _raw_ratio(slo, inputs, period, windows)
        report = SLOReport(slo, "raw", None if ratio is None else 1 - ratio, counted, maintenance=windows)
    else:
        bad, total = _events(slo, inputs, parts)
        attained = None if not total or bad is None else 1 - min(max(bad / total, 0.0), 1.0)
        report = SLOReport(slo, "events", attained, counted, total, bad, windows)
    if with_incidents:
        report.incidents = _incidents(slo, inputs, period)
    previous = period
    for _ in range(trend_periods):
        previous = previous.previous()
        past = slo_report(slo, inputs, previous, 0, with_incidents=False)
        report.trend.insert(0, TrendPoint(previous.label, past.attained, past.status, past.budget_remaining))
    return report


def build_report(slos: Iterable[SLO], inputs: ReportInputs, period: Period, trend_periods: int = 3,
                 now: float | None = None) -> Report:
    """The compliance report of every SLO, in order."""
    return Report(period, [slo_report(slo, inputs, period, trend_periods) for slo in slos],
                  time.time() if now is None else now)
