"""Query results for people and scripts: the one :class:`~tsdb.query.result.QueryResult`, rendered as table, CSV, JSON
or sparklines. Used by ``tsdb query`` and the REPL, whichever source (HTTP server or embedded DB) the
result came from.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence

import numpy as np

from tsdb.query.result import QueryResult
from tsdb.server import json_format as jf
from tsdb.timefmt import format_rfc3339

SPARK = "▁▂▃▄▅▆▇█"


def format_number(value: float) -> str:
    """Shortest round-trip form, with Prometheus's spellings of the special values."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value).removesuffix(".0") if abs(value) < 1e16 else repr(value)


def format_time(ts_ms: int) -> str:
    """RFC 3339 UTC with milliseconds."""
    return format_rfc3339(ts_ms / 1000, "ms")


def sparkline(values: Sequence[float]) -> str:
    """A one-line chart of finite values; gaps (NaN) shown as spaces."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return " " * len(values)
    low, high = min(finite), max(finite)
    span = high - low
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append(" ")
        else:
            out.append(SPARK[0] if span == 0 else SPARK[min(len(SPARK) - 1, int((v - low) / span * len(SPARK)))])
    return "".join(out)


def render_table(result: QueryResult, width: int = 120) -> str:
    """Human-readable table: one row per series (instant) or a sparkline + summary per series (range)."""
    if result.kind == "string":
        return result.text
    if result.kind == "scalar":
        s = result.series[0]
        return f"{format_number(float(s.values[0]))}  @ {format_time(int(s.ts[0]))}"
    if not result.series:
        return "(empty result)"
    rows: list[tuple[str, str]] = []
    if result.kind == "vector":
        rows = [(str(s.labels), format_number(float(s.values[-1]))) for s in result.series]
        left = min(max(len(r[0]) for r in rows), max(20, width - 25))
        lines = [f"{'SERIES':<{left}}  VALUE"]
        lines += [f"{name[:left]:<{left}}  {value}" for name, value in rows]
        return "\n".join(lines)
    lines = []
    spark_width = max(10, min(60, width - 60))
    for s in result.series:
        values = s.values.tolist()
        if len(values) > spark_width:  # downsample for display: last value of each bucket
            idx = np.linspace(0, len(values) - 1, spark_width).astype(int)
            values = [values[i] for i in idx]
        finite = [v for v in s.values.tolist() if math.isfinite(v)]
        summary = (f"min {format_number(min(finite))}  max {format_number(max(finite))}  "
                   f"last {format_number(float(s.values[-1]))}") if finite else "no finite values"
        lines.append(f"{s.labels}\n  {sparkline(values)}  {len(s.ts)} points  {summary}")
    return "\n".join(lines)


def render_csv(result: QueryResult) -> str:
    """``series,timestamp,value`` rows (timestamp in Unix seconds)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["series", "timestamp", "value"])
    if result.kind == "string":
        writer.writerow(["", "", result.text])
    for s in result.series:
        for t, v in zip(s.ts.tolist(), s.values.tolist(), strict=True):
            writer.writerow([str(s.labels), t / 1000, format_number(v)])
    return buffer.getvalue()


def render_json(result: QueryResult) -> str:
    """The ``data`` object of the HTTP API's answer (``resultType`` and ``result`` in Prometheus's shapes:
    ``value`` for instant vectors, ``values`` for matrices, ``[t, "v"]`` for scalars and strings), plus
    ``warnings`` and ``infos`` when there are any."""
    at = int(result.steps[0]) if result.steps is not None and len(result.steps) else 0
    if result.kind == "string":
        body = "[" + jf.format_timestamp(at) + "," + jf.json_string(result.text) + "]"
    elif result.kind == "scalar":
        s = result.series[0] if result.series else None
        body = jf.point_json(int(s.ts[0]), float(s.values[0])) if s is not None and len(s.ts) else "[]"
    else:
        items = []
        for s in result.series:
            points = [jf.point_json(t, v) for t, v in zip(s.ts.tolist(), s.values.tolist(), strict=True)]
            if result.kind == "vector":
                items += ['{"metric":' + jf.labels_json(s.labels) + ',"value":' + p + "}" for p in points[:1]]
            else:
                items.append('{"metric":' + jf.labels_json(s.labels) + ',"values":[' + ",".join(points) + "]}")
        body = "[" + ",".join(items) + "]"
    text = '{"resultType":' + jf.json_string(result.kind) + ',"result":' + body
    if result.warnings:
        text += ',"warnings":' + json.dumps(result.warnings)
    if result.infos:
        text += ',"infos":' + json.dumps(result.infos)
    return text + "}"


def render(result: QueryResult, output: str) -> str:
    """Render as ``table``, ``csv`` or ``json``."""
    if output == "csv":
        return render_csv(result)
    if output == "json":
        return render_json(result)
    return render_table(result)
