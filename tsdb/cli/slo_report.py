"""``tsdb slo report``: a compliance report from a data directory (offline) or a running server.

With ``--url`` and no specs, the server builds the report of its own ``slos:`` (``GET /api/v1/slos/report``).
With specs (files or ``--config``'s ``slos.files``) the report is computed here, querying either the data
directory (``--data-dir``, or ``--config``'s ``data_dir``) or the server's query and silence APIs.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tsdb.alerting.config import parse_config
from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.silences import Silence, recurrence_of
from tsdb.cli.failures import http_body, run_command
from tsdb.errors import InvalidArgumentError
from tsdb.slo.report import QueryFn, Report, ReportInputs, Series, build_report, engine_query
from tsdb.slo.report_period import Period, period_from
from tsdb.slo.report_render import FORMATS, render
from tsdb.slo.spec import SLO
from tsdb.timefmt import parse_rfc3339


def add_parser(slo_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = slo_sub.add_parser(
        "report", help="monthly SLA/SLO compliance report (html, csv, json, pdf)",
        description="Attained value, error budget, incidents (MTTD, MTTR), maintenance windows and trend of "
        "each SLO over a calendar month or a time range (docs/slo.md, Compliance reports).")
    rep.add_argument("specs", nargs="*", metavar="SPEC", help="SLO spec files (default: --config's slos.files)")
    rep.add_argument("--month", help="calendar month YYYY-MM")
    rep.add_argument("--start", help="range start (date or RFC 3339 time; local to --tz without an offset)")
    rep.add_argument("--end", help="range end, exclusive")
    rep.add_argument("--tz", default="UTC", help="IANA time zone of the month boundaries (default UTC)")
    rep.add_argument("--format", default="html", choices=list(FORMATS), help="output format (default html)")
    rep.add_argument("-o", "--out", default="-", metavar="FILE", help="file to write (default - : stdout)")
    rep.add_argument("--trend", type=int, default=3, metavar="N", help="previous periods to compare (default 3)")
    rep.add_argument("--config", metavar="FILE", help="tsdb.yml: its slos.files, data_dir and notifications")
    where = rep.add_mutually_exclusive_group()
    where.add_argument("--data-dir", metavar="DIR", help="read this data directory (the server must be stopped)")
    where.add_argument("--url", metavar="URL", help="ask a running server, e.g. http://127.0.0.1:9201")


def http_query(base: str) -> QueryFn:
    """Instant queries through a server's ``/api/v1/query``."""
    def run(query: str, t_ms: int) -> list[Series]:
        form = urllib.parse.urlencode({"query": query, "time": f"{t_ms / 1000:.3f}"}).encode()
        data = json.loads(http_body(f"{base}/api/v1/query", form))["data"]
        out: list[Series] = []
        for item in data["result"] if data["resultType"] in ("vector", "matrix") else []:
            points = item.get("values") or ([item["value"]] if "value" in item else [])
            out.append((dict(item["metric"]), [(round(float(t) * 1000), float(v)) for t, v in points]))
        return out
    return run


def _silence(raw: dict[str, Any]) -> Silence:
    ops = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
    text = "{" + ",".join(f"{m['name']}{ops[bool(m.get('isRegex')), bool(m.get('isEqual', True))]}"
                          f"{json.dumps(m['value'])}" for m in raw["matchers"]) + "}"
    specs, recurrence = recurrence_of(raw.get("tsdbRecurrence"))
    return Silence(str(raw["id"]), parse_matchers(text), parse_rfc3339(raw["startsAt"]),
                   parse_rfc3339(raw["endsAt"]), str(raw.get("createdBy") or ""),
                   str(raw.get("comment") or ""), 0.0, specs, recurrence)


def http_inputs(base: str) -> ReportInputs:
    """The server's query API, its silences and its notification time intervals."""
    silences = [_silence(s) for s in json.loads(http_body(f"{base}/api/v2/silences"))]
    status = json.loads(http_body(f"{base}/api/v2/status"))
    config = parse_config(status["config"]["original"], "the server's notification config")
    return ReportInputs(http_query(base), silences, dict(config.time_intervals))


def _write(out: str, body: bytes) -> None:
    if out == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        Path(out).write_bytes(body)


def _specs(args: argparse.Namespace, config: Any) -> list[SLO]:
    from tsdb.cli.slo import load_specs
    from tsdb.slo.config import SLOsConfig, load_slo_specs

    if args.specs:
        return [slo for spec in load_specs(args.specs) for slo in spec.slos]
    if config is None:
        raise InvalidArgumentError("no SLOs: give SPEC files or --config tsdb.yml")
    return [slo for spec in load_slo_specs(SLOsConfig.from_raw(config.slos)) for slo in spec.slos]


def _offline(args: argparse.Namespace, config: Any, slos: list[SLO], period: Period) -> Report:
    from tsdb.alerting.store import AlertingStore
    from tsdb.embedded import open_db

    data_dir = args.data_dir or (config.data_dir if config is not None else "")
    if not data_dir:
        raise InvalidArgumentError("no data: give --data-dir DIR, --url URL or --config tsdb.yml")
    if not Path(data_dir).is_dir():
        raise InvalidArgumentError(f"--data-dir: {data_dir} is not a directory")
    silences: list[Silence] = []
    store_path = Path(data_dir) / "alerting" / "alerting.sqlite"
    if store_path.exists():
        store = AlertingStore(store_path)
        try:
            silences = store.load_silences()
        finally:
            store.close()
    intervals: dict[str, Any] = {}
    if config is not None:
        from tsdb.server.components.notifications import _config_text, _source

        section = dict(config.notifications or {})
        intervals = dict(parse_config(_config_text(section), _source(section)).time_intervals)
    with open_db(data_dir) as db:
        return build_report(slos, ReportInputs(engine_query(db.engine.instant), silences, intervals), period,
                            args.trend)


def report(args: argparse.Namespace) -> int:
    """``tsdb slo report``: 0, or 1 with the error on stderr."""
    from tsdb.config import load_server_config

    def make_report() -> None:
        if args.trend < 0 or args.trend > 24:
            raise InvalidArgumentError(f"--trend: expected 0 to 24, got {args.trend}")
        period = period_from(args.month, args.start, args.end, args.tz)
        if args.url and not args.specs and not args.config:
            query = {k: v for k, v in (("month", args.month), ("start", args.start), ("end", args.end),
                                       ("tz", args.tz), ("format", args.format), ("trend", str(args.trend)))
                     if v}
            body = http_body(f"{args.url.rstrip('/')}/api/v1/slos/report?{urllib.parse.urlencode(query)}")
        else:
            config = load_server_config(args.config) if args.config else None
            slos = _specs(args, config)
            if args.url:
                built = build_report(slos, http_inputs(args.url.rstrip("/")), period, args.trend)
            else:
                built = _offline(args, config, slos, period)
            body = render(built, args.format)
        _write(args.out, body)

    return run_command("slo report", make_report, args.out)
