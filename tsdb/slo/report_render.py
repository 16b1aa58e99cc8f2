"""Compliance reports as files: JSON, CSV (one row per SLO), self-contained HTML and PDF (fpdf2).

Every format shows the same rounded figures: attained to 4 decimals of a percent, budget to 2, times in
minutes to 1 decimal, event counts as whole numbers.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from dataclasses import dataclass

from tsdb.errors import InvalidArgumentError
from tsdb.slo.report import Report, SLOReport


@dataclass(frozen=True)
class Format:
    name: str
    content_type: str
    extension: str
    inline: bool


FORMATS = {
    "json": Format("json", "application/json", "json", True),
    "csv": Format("csv", "text/csv; charset=utf-8", "csv", False),
    "html": Format("html", "text/html; charset=utf-8", "html", True),
    "pdf": Format("pdf", "application/pdf", "pdf", False),
}


def get_format(name: str) -> Format:
    """The format named ``name``; InvalidArgumentError listing the known ones."""
    if name not in FORMATS:
        raise InvalidArgumentError(f"unknown report format {name!r} (known: {', '.join(FORMATS)})")
    return FORMATS[name]


def filename(report: Report, fmt: str) -> str:
    """``slo-report-<period>.<ext>`` (a range's label with ``:`` and ``+`` made file-name safe)."""
    label = report.period.label.replace(":", "").replace("+", "")
    return f"slo-report-{label}.{get_format(fmt).extension}"


def pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def minutes(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 60:.1f} min"


def count(value: float | None) -> str:
    return "n/a" if value is None else f"{round(value):,}"


def bad_text(s: SLOReport) -> str:
    """What was spent against the allowance: ``30.0 min of 43.2 min`` (+ events for events SLIs)."""
    text = f"{minutes(s.bad_s)} of {minutes(s.allowance_s)}"
    if s.sli_type == "events":
        text += f" ({count(s.bad_events)} of {count(s.allowed_bad_events)} events)"
    return text


def trend_text(s: SLOReport) -> str:
    return "; ".join(f"{t.label}: {pct(t.attained, 4)} {t.status}" for t in s.trend)


def rows(report: Report) -> list[tuple[str, str]]:
    """The summary lines shown above the tables."""
    summary = report.summary()
    return [("Period", f"{report.period.label} ({report.period.start.isoformat()} to "
                       f"{report.period.end.isoformat()}, {report.period.tz})"),
            ("Generated", report.iso(report.generated_at)),
            ("SLOs", f"{summary['slos']}: {summary['passed']} passed, {summary['breached']} breached, "
                     f"{summary['no_data']} without data")]


def slo_rows(report: Report, s: SLOReport) -> list[tuple[str, str]]:
    """One SLO's figures as (label, value) pairs, as every human-readable format shows them."""
    out = [("Objective", f"{s.slo.objective:g}%"), ("Attained", pct(s.attained, 4)), ("Status", s.status.upper()),
           ("Bad time (of allowance)" if s.sli_type == "events" else "Downtime (of allowance)", bad_text(s)),
           ("Budget consumed", pct(s.budget_consumed)), ("Budget remaining", pct(s.budget_remaining)),
           ("Incidents", str(len(s.incidents))), ("MTTD", minutes(s.mttd_s)), ("MTTR", minutes(s.mttr_s)),
           ("Maintenance excluded", minutes(s.excluded_s))]
    if s.sli_type == "events":
        out.insert(3, ("Events (bad / total)", f"{count(s.bad_events)} / {count(s.total_events)}"))
    if s.trend:
        out.append(("Trend", trend_text(s)))
    return out


CSV_COLUMNS = ["period", "time_zone", "slo", "service", "sli_type", "objective_percent", "attained_percent",
               "status", "total_events", "bad_events", "allowed_bad_events", "bad_minutes", "allowance_minutes",
               "budget_consumed_percent", "budget_remaining_percent", "incidents", "mttd_minutes",
               "mttr_minutes", "maintenance_minutes", "trend"]


def _num(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in report.slos:
        def p(x: float | None, digits: int) -> str:
            return _num(None if x is None else x * 100, digits)

        def m(x: float | None) -> str:
            return _num(None if x is None else x / 60, 1)

        writer.writerow([report.period.label, report.period.tz, s.slo.id, s.slo.service, s.sli_type,
                         f"{s.slo.objective:g}", p(s.attained, 4), s.status, _num(s.total_events, 0),
                         _num(s.bad_events, 0), _num(s.allowed_bad_events, 0), m(s.bad_s), m(s.allowance_s),
                         p(s.budget_consumed, 2), p(s.budget_remaining, 2), len(s.incidents), m(s.mttd_s),
                         m(s.mttr_s), m(s.excluded_s), trend_text(s)])
    return out.getvalue()


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:60em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .7em;text-align:left}
th{background:#f3f3f3}.pass{color:#116611;font-weight:bold}.breach{color:#aa1111;font-weight:bold}
h2{margin-top:1.5em;border-bottom:1px solid #ddd}"""


def _table(head: list[str], body: list[list[str]]) -> str:
    e = html.escape
    cells = "".join(f"<tr>{''.join(f'<td>{e(c)}</td>' for c in row)}</tr>" for row in body)
    return f"<table><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr>{cells}</table>"


def render_html(report: Report) -> str:
    """A self-contained page: the summary, then per SLO its figures, incidents, maintenance and trend."""
    e = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>SLO report {e(report.period.label)}"
             f"</title><style>{_CSS}</style></head><body><h1>SLO compliance report {e(report.period.label)}</h1>",
             "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows(report)) + "</table>",
             _table(["SLO", "Objective", "Attained", "Status", "Budget remaining"],
                    [[s.slo.id, f"{s.slo.objective:g}%", pct(s.attained, 4), s.status.upper(),
                      pct(s.budget_remaining)] for s in report.slos])]
    for s in report.slos:
        parts.append(f"<h2>{e(s.slo.id)}</h2>")
        if s.slo.description:
            parts.append(f"<p>{e(s.slo.description)}</p>")
        parts.append("<table>" + "".join(
            f"<tr><th>{e(k)}</th><td" + (f' class="{s.status}"' if k == "Status" else "") + f">{e(v)}</td></tr>"
            for k, v in slo_rows(report, s)) + "</table>")
        if s.incidents:
            parts.append("<h3>Incidents</h3>" + _table(
                ["Alert", "Severity", "Start", "End", "Duration", "Time to detect"],
                [[i.alert, i.severity, report.iso(i.start_s), report.iso(i.end_s), minutes(i.duration_s),
                  minutes(i.detection_s)] for i in s.incidents]))
        if s.maintenance:
            parts.append("<h3>Maintenance windows (excluded)</h3>" + _table(
                ["Start", "End", "Duration", "Source"],
                [[report.iso(w.start_s), report.iso(w.end_s), minutes(w.seconds), w.source] for w in s.maintenance]))
        if s.trend:
            parts.append("<h3>Trend</h3>" + _table(
                ["Period", "Attained", "Status", "Budget remaining"],
                [[t.label, pct(t.attained, 4), t.status, pct(t.budget_remaining)] for t in s.trend]))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _latin1(text: str) -> str:
    """PDF core fonts cover Latin-1 only: anything else becomes ``?``."""
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(report: Report) -> bytes:
    """An A4 PDF with the same content as the HTML page (core Helvetica font, no external files)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_title(f"SLO compliance report {report.period.label}")
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def line(text: str, size: int = 10, style: str = "", height: float = 6) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(width, height, _latin1(text))

    def pairs(items: list[tuple[str, str]]) -> None:
        for key, value in items:
            pdf.set_x(pdf.l_margin)
            pdf.set_font("Helvetica", "B", 10)
            pdf.cell(50, 6, _latin1(key))
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(width - 50, 6, _latin1(value))

    line(f"SLO compliance report {report.period.label}", 16, "B", 10)
    pairs(rows(report))
    for s in report.slos:
        pdf.ln(4)
        line(s.slo.id, 13, "B", 8)
        if s.slo.description:
            line(s.slo.description, 9, "I")
        pairs(slo_rows(report, s))
        for i in s.incidents:
            line(f"Incident {i.alert} ({i.severity}): {report.iso(i.start_s)} to {report.iso(i.end_s)}, "
                 f"{minutes(i.duration_s)}, detected in {minutes(i.detection_s)}", 9)
        for w in s.maintenance:
            line(f"Maintenance excluded: {report.iso(w.start_s)} to {report.iso(w.end_s)} "
                 f"({minutes(w.seconds)}), {w.source}", 9)
    return bytes(pdf.output())


RENDERERS: dict[str, Callable[[Report], str | bytes]] = {
    "json": Report.to_json, "csv": render_csv, "html": render_html, "pdf": render_pdf}


def render(report: Report, fmt: str) -> bytes:
    """The report in ``fmt`` as bytes (UTF-8 for the text formats)."""
    get_format(fmt)
    out = RENDERERS[fmt](report)
    return out.encode() if isinstance(out, str) else out
