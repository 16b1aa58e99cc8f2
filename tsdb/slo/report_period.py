"""Report periods: a calendar month or any ``[start, end)`` range in UTC or an IANA time zone.

Month boundaries are local midnights, so a month's length follows daylight saving time (October 2026 in
Europe/Berlin lasts 31 days and 1 hour). Every error names the offending value (month, time zone, time).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tsdb.errors import InvalidArgumentError

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``UTC`` when empty); InvalidArgumentError naming it when unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidArgumentError(f"unknown time zone {name!r} (expected an IANA name such as "
                                   "Europe/Berlin or UTC)") from err


@dataclass(frozen=True)
class Period:
    """``[start, end)`` as aware datetimes in ``tz``; ``label`` is ``2026-11`` for a month."""

    start: dt.datetime
    end: dt.datetime
    tz: str
    label: str
    month: bool = False

    @property
    def start_s(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_s(self) -> int:
        return int(self.end.timestamp())

    @property
    def seconds(self) -> int:
        """Elapsed seconds (a DST change makes a month an hour longer or shorter)."""
        return self.end_s - self.start_s

    def previous(self) -> Period:
        """The month before (for a month) or the range of equal length just before."""
        if self.month:
            year, month = self.start.year, self.start.month - 1
            if month == 0:
                year, month = year - 1, 12
            return month_period(f"{year:04d}-{month:02d}", self.tz)
        start = dt.datetime.fromtimestamp(self.start_s - self.seconds, zone(self.tz))
        return range_period(start.isoformat(), self.start.isoformat(), self.tz)


def month_period(month: str, tz: str = "UTC") -> Period:
    """The calendar month ``YYYY-MM`` from local midnight of its first day to that of the next month's."""
    match = MONTH_RE.match(month.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidArgumentError(f"bad month {month!r}: expected YYYY-MM, e.g. 2026-11")
    year, mon = int(match.group(1)), int(match.group(2))
    if year < 1970:
        raise InvalidArgumentError(f"bad month {month!r}: before 1970")
    info = zone(tz)
    start = dt.datetime(year, mon, 1, tzinfo=info)
    end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=info)
    return Period(start, end, tz or "UTC", f"{year:04d}-{mon:02d}", month=True)


def month_of(seconds: float, tz: str = "UTC") -> str:
    """The ``YYYY-MM`` month containing the Unix time in ``tz``."""
    local = dt.datetime.fromtimestamp(seconds, zone(tz))
    return f"{local.year:04d}-{local.month:02d}"


def parse_time(text: str, tz: str, what: str) -> dt.datetime:
    """An RFC 3339 / ISO 8601 date or date-time; one without an offset is local time in ``tz``."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise InvalidArgumentError(f"bad {what} {text!r}: expected a date or RFC 3339 time, e.g. 2026-11-01 "
                                   "or 2026-11-01T00:00:00Z") from err
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz))
    return value.astimezone(zone(tz))


def range_period(start: str, end: str, tz: str = "UTC") -> Period:
    """``[start, end)``; InvalidArgumentError when either is malformed or ``end`` is not after ``start``."""
    begin, finish = parse_time(start, tz, "start"), parse_time(end, tz, "end")
    if finish <= begin:
        raise InvalidArgumentError(f"bad range: end {end!r} is not after start {start!r}")
    label = f"{begin.isoformat()}..{finish.isoformat()}"
    return Period(begin, finish, tz or "UTC", label)


def period_from(month: str | None, start: str | None, end: str | None, tz: str = "UTC") -> Period:
    """A month or a range, as given by the CLI and the HTTP API (exactly one of them)."""
    if month and (start or end):
        raise InvalidArgumentError("give either a month or start and end, not both")
    if month:
        return month_period(month, tz)
    if start and end:
        return range_period(start, end, tz)
    if start or end:
        raise InvalidArgumentError("a range needs both start and end")
    raise InvalidArgumentError("missing period: give a month (YYYY-MM) or start and end")
