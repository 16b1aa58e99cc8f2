"""Go's ``time.Time`` (UTC, millisecond precision) and ``time.Duration`` as template values.

``toTime`` and ``toDuration`` return these; templates call their methods (``.Format "2006-01-02"``,
``.Unix``, ``.Add``, ``.String``...) as they would on Go's types. ``Format`` reads Go's reference-time
layouts (``Mon Jan 2 15:04:05 MST 2006``).
"""

from __future__ import annotations

import datetime as dt

from tsdb.gotemplate.golayout import format_layout

_EPOCH = dt.datetime(1970, 1, 1)


def _quo(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


class GoDuration:
    """A ``*time.Duration`` in nanoseconds."""

    GO_TYPE = "*time.Duration"

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def String(self) -> str:  # noqa: N802 - Go's method names
        return format_go_duration(self.ns)

    def Seconds(self) -> float:  # noqa: N802
        return self.ns / 1e9

    def Minutes(self) -> float:  # noqa: N802
        return self.ns / 6e10

    def Hours(self) -> float:  # noqa: N802
        return self.ns / 3.6e12

    def Milliseconds(self) -> int:  # noqa: N802
        return _quo(self.ns, 1_000_000)


class GoTime:
    """A ``*time.Time`` in UTC, in milliseconds since the epoch (what Prometheus's model.Time keeps)."""

    GO_TYPE = "*time.Time"

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def _dt(self) -> dt.datetime:
        return _EPOCH + dt.timedelta(milliseconds=self.ms)

    def String(self) -> str:  # noqa: N802
        return self.Format("2006-01-02 15:04:05.999999999 -0700 MST")

    def Unix(self) -> int:  # noqa: N802
        return self.ms // 1000

    def UnixMilli(self) -> int:  # noqa: N802
        return self.ms

    def UnixNano(self) -> int:  # noqa: N802
        return self.ms * 1_000_000

    def Year(self) -> int:  # noqa: N802
        return self._dt().year

    def Add(self, d: GoDuration) -> GoTime:  # noqa: N802
        return GoTime(self.ms + _quo(d.ns, 1_000_000))

    def Format(self, layout: str) -> str:  # noqa: N802
        return format_layout(self._dt(), (self.ms % 1000) * 1_000_000, layout)


def format_go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if u < size * 1000:
                whole, frac = divmod(u, size)
                width = len(str(size)) - 1
                return sign + str(whole) + (("." + f"{frac:0{width}d}".rstrip("0")) if frac else "") + unit
    whole, frac = divmod(u, 1_000_000_000)
    text = str(whole % 60) + (("." + f"{frac:09d}".rstrip("0")) if frac else "") + "s"
    minutes, hours = (whole // 60) % 60, whole // 3600
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text
