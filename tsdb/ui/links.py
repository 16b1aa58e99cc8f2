"""Prometheus UI links (``/graph?g0.expr=…``), as alert ``generatorURL``s and old bookmarks carry them,
translated to the query explorer (``/ui/explore?expr=…&from=…&to=…&tab=…``).

Read: ``g0.expr``; ``g0.tab`` (``0``/``graph`` graph, ``1``/``table`` table, as Prometheus 2 and 3 write it);
``g0.range_input`` (a duration: the range ends at ``g0.end_input``/``g0.moment_input`` or now);
``g0.end_input``/``g0.moment_input`` (``2006-01-02 15:04:05`` UTC, RFC 3339, or Unix seconds). Only the first
panel (``g0``) is kept; the explorer has one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from urllib.parse import urlencode

from tsdb.timefmt import try_parse_duration


def _parse_moment(text: str) -> int | None:
    """Unix ms of a Prometheus UI end time, or None when it cannot be read."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(float(text) * 1000)
    except ValueError:
        pass
    for candidate in (text.replace(" ", "T"), text):
        try:
            moment = dt.datetime.fromisoformat(candidate.replace("Z", "+00:00"))
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1000)
    return None


def explorer_url(params: Mapping[str, str]) -> str:
    """The explorer URL for the query parameters of a Prometheus ``/graph`` link."""
    out: dict[str, str] = {}
    expr = params.get("g0.expr", "")
    if expr:
        out["expr"] = expr
    tab = params.get("g0.tab", "")
    out["tab"] = "table" if tab in ("1", "table") else "graph"
    range_ms = try_parse_duration(params.get("g0.range_input", "")) if params.get("g0.range_input") else None
    end_ms = _parse_moment(params.get("g0.end_input") or params.get("g0.moment_input") or "")
    if end_ms is not None:
        out["from"] = str(end_ms - (range_ms or 3_600_000))
        out["to"] = str(end_ms)
    elif range_ms:
        seconds = range_ms // 1000
        out["from"] = f"now-{seconds}s" if seconds else "now-1h"
        out["to"] = "now"
    return "/ui/explore?" + urlencode(out)
