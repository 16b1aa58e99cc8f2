"""Go's ``Time.Format``: a time printed in a Go layout (reference time ``Mon Jan 2 15:04:05 MST 2006``).

One implementation for every template that formats times (rule templates' ``toTime``, notification
templates' ``.StartsAt``, ``date``). The time is an aware ``datetime`` (its zone gives ``MST`` and the
numeric offsets) plus the nanoseconds within its second.
"""

from __future__ import annotations

import datetime as dt
import re

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
# Longest tokens first, as Go's layout scanner prefers them.
_TOKENS = re.compile(r"January|Jan|Monday|Mon|MST|2006|Z07:00:00|Z070000|Z07:00|Z0700|Z07|-07:00:00|-070000|"
                     r"-07:00|-0700|-07|[.,](?:0+|9+)|002|__2|_2|01|02|03|04|05|06|15|PM|pm|1|2|3|4|5")


def format_layout(when: dt.datetime, frac_ns: int, layout: str) -> str:
    """``when`` (aware; naive is taken as UTC) with ``frac_ns`` nanoseconds, in Go layout ``layout``."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return _TOKENS.sub(lambda m: _token(m.group(0), when, frac_ns), layout)


def _token(token: str, when: dt.datetime, frac: int) -> str:
    hour12 = when.hour % 12 or 12
    offset = int((when.utcoffset() or dt.timedelta()).total_seconds())
    sign = "-" if offset < 0 else "+"
    oh, om, osec = abs(offset) // 3600, abs(offset) % 3600 // 60, abs(offset) % 60
    zone_name = when.tzname() or "UTC"
    if zone_name[:1] in "+-":  # a zone without an abbreviation: Go prints the offset (-07 or -0730)
        zone_name = f"{sign}{oh:02d}" + (f"{om:02d}" if om else "")
    numeric = {"-0700": f"{sign}{oh:02d}{om:02d}", "-07:00": f"{sign}{oh:02d}:{om:02d}", "-07": f"{sign}{oh:02d}",
               "-07:00:00": f"{sign}{oh:02d}:{om:02d}:{osec:02d}", "-070000": f"{sign}{oh:02d}{om:02d}{osec:02d}"}
    simple = {
        "January": _MONTHS[when.month - 1], "Jan": _MONTHS[when.month - 1][:3], "Monday": _DAYS[when.weekday()],
        "Mon": _DAYS[when.weekday()][:3], "MST": zone_name, "2006": f"{when.year:04d}", "06": f"{when.year % 100:02d}",
        "01": f"{when.month:02d}", "1": str(when.month), "02": f"{when.day:02d}", "2": str(when.day),
        "_2": f"{when.day:>2d}", "__2": f"{when.timetuple().tm_yday:>3d}", "002": f"{when.timetuple().tm_yday:03d}",
        "15": f"{when.hour:02d}", "03": f"{hour12:02d}", "3": str(hour12), "04": f"{when.minute:02d}",
        "4": str(when.minute), "05": f"{when.second:02d}", "5": str(when.second),
        "PM": "PM" if when.hour >= 12 else "AM", "pm": "pm" if when.hour >= 12 else "am",
        **numeric,
        **({"Z0700": "Z", "Z07:00": "Z", "Z07": "Z", "Z07:00:00": "Z", "Z070000": "Z"} if offset == 0 else
           {"Z0700": numeric["-0700"], "Z07:00": numeric["-07:00"], "Z07": numeric["-07"],
            "Z07:00:00": numeric["-07:00:00"], "Z070000": numeric["-070000"]}),
    }
    if token in simple:
        return simple[token]
    digits = f"{frac:09d}"[: len(token) - 1]
    if token[1] == "0":  # fixed width
        return token[0] + digits
    digits = digits.rstrip("0")
    return token[0] + digits if digits else ""
