"""Old explorer links (``/ui/explore?expr=…&from=…&to=…&tab=…``) translated to the query explorer at
Prometheus's URL (``/graph?g0.expr=…``), so bookmarks made before the explorers were merged keep working.

Read: ``expr``; ``tab`` (``table`` or ``graph``, the default); ``from``/``to`` as Unix ms, RFC 3339 or
``now`` / ``now-<duration>``. A range ending now becomes ``g0.range_input``; a fixed range becomes
``g0.range_input`` plus ``g0.end_input`` (``2006-01-02 15:04:05`` UTC). Times that cannot be read are left out
(the explorer's default: the last hour).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from urllib.parse import urlencode

from tsdb.timefmt import format_duration, parse_rfc3339, try_parse_duration


def _moment_ms(text: str, now_ms: int) -> int | None:
    """Unix ms of an explorer time (``now``, ``now-1h``, Unix ms, RFC 3339), or None when unreadable."""
    text = text.strip()
    if text == "now":
        return now_ms
    if text.startswith("now-"):
        offset = try_parse_duration(text[4:])
        return None if offset is None else now_ms - offset
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        return int(parse_rfc3339(text, naive_is_utc=True) * 1000)
    except ValueError:
        return None


def graph_url(params: Mapping[str, str], now_ms: int) -> str:
    """The ``/graph`` URL for the query parameters of an old ``/ui/explore`` link."""
    out = {"g0.expr": params.get("expr", ""), "g0.tab": "1" if params.get("tab") == "table" else "0"}
    to_text = params.get("to", "now") or "now"
    from_ms = _moment_ms(params.get("from", ""), now_ms) if params.get("from") else None
    to_ms = _moment_ms(to_text, now_ms)
    if from_ms is not None and to_ms is not None and to_ms > from_ms:
        out["g0.range_input"] = format_duration((to_ms - from_ms) // 1000 * 1000 or 1000)
        if to_text.strip() != "now":
            moment = dt.datetime.fromtimestamp(to_ms / 1000, tz=dt.UTC)
            out["g0.end_input"] = moment.strftime("%Y-%m-%d %H:%M:%S")
    return "/graph?" + urlencode(out)
