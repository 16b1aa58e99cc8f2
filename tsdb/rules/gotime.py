"""Go's ``time.Time`` (UTC, millisecond precision) and ``time.Duration`` as template values.

``toTime`` and ``toDuration`` return these; templates call their methods (``.Format "2006-01-02"``,
``.Unix``, ``.Add``, ``.String``...) as they would on Go's types. ``Format`` reads Go's reference-time
layouts (``Mon Jan 2 15:04:05 MST 2006``).
"""

from __future__ import annotations

import datetime as dt
import re

_EPOCH = dt.datetime(1970, 1, 1)
_LAYOUT = re.compile(r"January|Jan|Monday|Mon|MST|2006|06|01|_2|02|002|__2|15|03|04|05|PM|pm|Z07:00:00|"
                     r"Z070000|Z07:00|Z0700|Z07|-07:00:00|-070000|-07:00|-0700|-07|[.,](?:0+|9+)|1|2|3|4|5")


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
        return format_go_layout(self._dt(), self.ms % 1000, layout)


def format_go_layout(t: dt.datetime, ms: int, layout: str) -> str:
    """Go's ``Time.Format`` for a UTC time."""
    frac = f"{ms:03d}000000"
    table: dict[str, str] | None = None

    def repl(m: re.Match[str]) -> str:
        nonlocal table
        tok = m.group(0)
        if table is None:
            table = _fields(t)
        if tok in table:
            return table[tok]
        if tok.startswith("Z"):
            return "Z"
        if tok.startswith("-07"):
            return {"-07": "+00", "-0700": "+0000", "-07:00": "+00:00", "-070000": "+000000"}.get(tok, "+00:00:00")
        if tok[0] in ".,":  # fractional seconds: 0s keep width, 9s trim trailing zeros (and the point)
            digits = frac[:len(tok) - 1]
            if tok[1] == "9":
                digits = digits.rstrip("0")
                return tok[0] + digits if digits else ""
            return tok[0] + digits
        return tok
    return _LAYOUT.sub(repl, layout)


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _fields(t: dt.datetime) -> dict[str, str]:
    """The value of each layout element for ``t``."""
    month, weekday = _MONTHS[t.month - 1], _DAYS[t.weekday()]
    return {
            "January": month, "Jan": month[:3], "Monday": weekday,
            "Mon": weekday[:3], "MST": "UTC", "2006": f"{t.year:04d}", "06": f"{t.year % 100:02d}",
            "01": f"{t.month:02d}", "1": str(t.month), "02": f"{t.day:02d}", "2": str(t.day),
            "_2": f"{t.day:2d}", "002": f"{t.timetuple().tm_yday:03d}", "__2": f"{t.timetuple().tm_yday:3d}",
            "15": f"{t.hour:02d}", "03": f"{(t.hour % 12) or 12:02d}", "3": str((t.hour % 12) or 12),
            "04": f"{t.minute:02d}", "4": str(t.minute), "05": f"{t.second:02d}", "5": str(t.second),
            "PM": "PM" if t.hour >= 12 else "AM", "pm": "pm" if t.hour >= 12 else "am",
        }


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
