"""Time text in one place: Prometheus durations (``1h30m``, ``500ms``) and RFC 3339 timestamps.

Layer 0: imports only :mod:`tsdb.errors`. Every part of tsdb that reads or writes such text uses these
functions; callers keep their own error types and wording around :func:`try_parse_duration` and
:func:`parse_rfc3339` where their users (config files, HTTP parameters, test scripts) expect them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from tsdb.errors import InvalidArgumentError

# -- durations ---------------------------------------------------------------------------------------
DURATION_UNITS_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000,
                     "s": 1000, "ms": 1}
"""Milliseconds per Prometheus duration unit (a year is 365 days)."""
_UNIT_ORDER = ("y", "w", "d", "h", "m", "s", "ms")
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")


def try_parse_duration(text: str) -> int | None:
    """A Prometheus duration -> ms, or None when ``text`` is not one. Units in the order y w d h m s ms,
    each at most once; ``0`` alone is valid."""
    if text == "0":
        return 0
    match = _DURATION.match(text)
    if not text or match is None:
        return None
    return sum(int(g) * DURATION_UNITS_MS[unit] for g, unit in zip(match.groups(), _UNIT_ORDER, strict=True) if g)


def parse_duration(text: str) -> int:
    """A Prometheus duration -> ms; :class:`InvalidArgumentError` ``not a valid duration string`` otherwise."""
    ms = try_parse_duration(text)
    if ms is None:
        raise InvalidArgumentError(f'not a valid duration string: "{text}"')
    return ms


def format_duration(ms: int) -> str:
    """ms -> the shortest Prometheus duration (``0s`` for zero; negative values get a ``-``)."""
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    parts = []
    for unit in _UNIT_ORDER:
        size = DURATION_UNITS_MS[unit]
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return sign + "".join(parts)


# -- RFC 3339 ------------------------------------------------------------------------------------------
ZERO_TIME = "0001-01-01T00:00:00Z"
"""Go's zero time.Time as RFC 3339: what Prometheus and Alertmanager print for "never"."""

Precision = Literal["s", "ms", "us", "ms+", "iso"]


def format_rfc3339(seconds: float, precision: Precision = "ms", suffix: str = "Z") -> str:
    """Unix seconds -> RFC 3339 in UTC.

    ``precision``: "s" whole seconds; "ms" 3 fraction digits; "us" 6; "ms+" 3 to 6 digits, trailing zeros
    trimmed (what Prometheus's rules API prints); "iso"
    6 digits, none when the microseconds are zero (Python's ``isoformat``). ``suffix`` is the zone.
    """
    t = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    micro = f"{t.microsecond:06d}"
    fraction = {"s": "", "ms": micro[:3], "us": micro, "ms+": micro.rstrip("0").ljust(3, "0"),
                "iso": micro if t.microsecond else ""}[precision]
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + suffix


def format_go_time(seconds: float) -> str:
    """Unix seconds -> Go's ``time.Time.String()`` in UTC: ``2006-01-02 15:04:05.999999999 +0000 UTC``."""
    t = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond * 1000:09d}".rstrip("0").ljust(1, "0") + " +0000 UTC"


def parse_rfc3339(text: str, naive_is_utc: bool = False) -> float:
    """RFC 3339 (or any ISO 8601 form Python reads; ``Z`` allowed) -> Unix seconds; ValueError otherwise.

    A time without a zone is local time unless ``naive_is_utc``."""
    value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if naive_is_utc and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


_RFC3339_STRICT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339_ms(text: str) -> int | None:
    """Strict RFC 3339 (as Prometheus's HTTP API reads it) -> Unix ms, fraction truncated to ms; None if not."""
    match = _RFC3339_STRICT.match(text)
    if not match:
        return None
    try:
        fraction = match.group(7) or ""
        base = dt.datetime.fromisoformat(f"{text[:19].upper()}{'+00:00' if match.group(8) in 'Zz' else match.group(8)}")
    except ValueError:
        return None
    return int(base.timestamp()) * 1000 + (int((fraction[1:] + "000")[:3]) if fraction else 0)
