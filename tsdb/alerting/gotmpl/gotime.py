"""Go's ``time.Time`` as notification templates see it: printing gives Go's default format
(``2006-01-02 15:04:05.999999999 -0700 MST``) and ``.Format`` takes a Go layout.

Times are held as integer nanoseconds since the Unix epoch and print in UTC (Alertmanager stores the zone an
alert was posted with; tsdb keeps Unix seconds), or in the IANA zone that ``tz`` gave them. The zero value is
Go's zero time (``0001-01-01 00:00:00 +0000 UTC``).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
# Longest tokens first, as Go's layout scanner prefers them.
_TOKENS = re.compile(r"January|Jan|Monday|Mon|MST|2006|Z07:00:00|Z07:00|Z0700|Z07|-07:00:00|-07:00|-0700|-07|"
                     r"[.,](?:0+|9+)|002|__2|_2|01|02|03|04|05|06|15|PM|pm|1|2|3|4|5")


class GoTime:
    """An instant; ``str()`` is Go's ``Time.String()`` without the monotonic clock reading."""

    GO_TYPE = "time.Time"
    __slots__ = ("ns", "zone")

    def __init__(self, ns: int | None, zone: zoneinfo.ZoneInfo | None = None) -> None:
        self.ns = ns  # None: Go's zero time
        self.zone = zone  # None: UTC

    @classmethod
    def from_seconds(cls, seconds: float | None) -> GoTime:
        """``None`` (no time) gives the zero time."""
        return cls(None if seconds is None else round(seconds * 1e9))

    def _datetime(self) -> tuple[dt.datetime, int]:
        if self.ns is None:
            return dt.datetime(1, 1, 1, tzinfo=dt.UTC), 0
        seconds, frac = divmod(self.ns, 1_000_000_000)
        when = _EPOCH + dt.timedelta(seconds=seconds)
        return (when.astimezone(self.zone) if self.zone is not None else when), frac

    def In(self, zone: zoneinfo.ZoneInfo) -> GoTime:  # noqa: N802
        """The same instant shown in ``zone``."""
        return GoTime(self.ns, zone)

    def IsZero(self) -> bool:  # noqa: N802 - Go's method name
        return self.ns is None

    def Unix(self) -> int:  # noqa: N802
        when, _ = self._datetime()
        return int((when - _EPOCH).total_seconds())

    def UnixNano(self) -> int:  # noqa: N802
        return self.ns if self.ns is not None else -6795364578871345152

    def UTC(self) -> GoTime:  # noqa: N802
        return GoTime(self.ns)

    def Local(self) -> GoTime:  # noqa: N802
        return self

    def Format(self, layout: str) -> str:  # noqa: N802
        """The time in Go layout ``layout`` (reference time ``Mon Jan 2 15:04:05 MST 2006``)."""
        when, frac = self._datetime()
        return _TOKENS.sub(lambda m: _token(m.group(0), when, frac), layout)

    def String(self) -> str:  # noqa: N802
        return str(self)

    def __str__(self) -> str:
        return self.Format("2006-01-02 15:04:05.999999999 -0700 MST")

    def __repr__(self) -> str:
        return f"GoTime({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoTime) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(self.ns)


def _token(token: str, when: dt.datetime, frac: int) -> str:
    hour12 = when.hour % 12 or 12
    offset = int((when.utcoffset() or dt.timedelta()).total_seconds())
    sign = "-" if offset < 0 else "+"
    oh, om, osec = abs(offset) // 3600, abs(offset) % 3600 // 60, abs(offset) % 60
    zone_name = when.tzname() or "UTC"
    if zone_name[:1] in "+-":  # a zone without an abbreviation: Go prints the offset (-07 or -0730)
        zone_name = f"{sign}{oh:02d}" + (f"{om:02d}" if om else "")
    numeric = {"-0700": f"{sign}{oh:02d}{om:02d}", "-07:00": f"{sign}{oh:02d}:{om:02d}", "-07": f"{sign}{oh:02d}",
               "-07:00:00": f"{sign}{oh:02d}:{om:02d}:{osec:02d}"}
    simple = {
        "January": _MONTHS[when.month - 1], "Jan": _MONTHS[when.month - 1][:3], "Monday": _DAYS[when.weekday()],
        "Mon": _DAYS[when.weekday()][:3], "MST": zone_name, "2006": f"{when.year:04d}", "06": f"{when.year % 100:02d}",
        "01": f"{when.month:02d}", "1": str(when.month), "02": f"{when.day:02d}", "2": str(when.day),
        "_2": f"{when.day:>2d}", "__2": f"{when.timetuple().tm_yday:>3d}", "002": f"{when.timetuple().tm_yday:03d}",
        "15": f"{when.hour:02d}", "03": f"{hour12:02d}", "3": str(hour12), "04": f"{when.minute:02d}",
        "4": str(when.minute), "05": f"{when.second:02d}", "5": str(when.second),
        "PM": "PM" if when.hour >= 12 else "AM", "pm": "pm" if when.hour >= 12 else "am",
        **numeric,
        **({"Z0700": "Z", "Z07:00": "Z", "Z07": "Z", "Z07:00:00": "Z"} if offset == 0 else
           {"Z0700": numeric["-0700"], "Z07:00": numeric["-07:00"], "Z07": numeric["-07"],
            "Z07:00:00": numeric["-07:00:00"]}),
    }
    if token in simple:
        return simple[token]
    digits = f"{frac:09d}"[: len(token) - 1]
    if token[1] == "0":  # fixed width
        return token[0] + digits
    digits = digits.rstrip("0")
    return token[0] + digits if digits else ""
