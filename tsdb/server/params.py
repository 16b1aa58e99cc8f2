"""HTTP API parameter parsing as Prometheus does it: times, durations, limits.

Times are Unix float seconds (rounded to milliseconds) or RFC 3339; durations are float seconds or a
Prometheus duration (``1h30m``). Results are int64 milliseconds. Errors are
:class:`InvalidArgumentError` with Prometheus's wording, naming the parameter.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from tsdb.errors import InvalidArgumentError

MIN_TIME_MS = -(1 << 63) // 1_000_000 // 1000 * 1000
"""Prometheus's MinTime (year -292273086) expressed in ms, as its API uses for absent ``start``."""
MAX_TIME_MS = ((1 << 63) - 1) // 1_000_000 // 1000 * 1000
MIN_TIME_FORMATTED = "-292273086-05-16T16:47:06Z"
MAX_TIME_FORMATTED = "292277025-08-18T07:12:54.999999999Z"

_DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_time(text: str, name: str = "time") -> int:
    """A time parameter -> Unix ms."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds) and abs(seconds) < 9.2e15:  # within int64 milliseconds
            whole = math.trunc(seconds)
            return int(whole) * 1000 + _round_half_away((seconds - whole) * 1000)
        raise InvalidArgumentError(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp')
    match = _RFC3339.match(text)
    if match:
        try:
            fraction = match.group(7) or ""
            base = datetime.fromisoformat(
                f"{text[:19].upper()}{'+00:00' if match.group(8) in 'Zz' else match.group(8)}"
            )
            ms = int(base.timestamp()) * 1000
            return ms + (int((fraction[1:] + "000")[:3]) if fraction else 0)
        except ValueError:
            pass
    if text == MIN_TIME_FORMATTED:
        return MIN_TIME_MS
    if text == MAX_TIME_FORMATTED:
        return MAX_TIME_MS
    raise InvalidArgumentError(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp')


def _round_half_away(x: float) -> int:
    """Go's math.Round: halves round away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def parse_prometheus_duration(text: str) -> int | None:
    """A Prometheus duration string (``1h30m``, ``0``) -> ms, or None when it is not one."""
    if text == "0":
        return 0
    match = _DURATION_RE.match(text)
    if not match or not text:
        return None
    return sum(int(g) * unit for g, unit in zip(match.groups(), _UNIT_MS, strict=True) if g)


def parse_duration(text: str, name: str = "step") -> int:
    """A duration parameter (float seconds or Prometheus duration) -> ms."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        ms = seconds * 1000
        if not math.isfinite(ms) or ms >= 2**63 or ms <= -(2**63):
            raise InvalidArgumentError(
                f'invalid parameter "{name}": cannot parse "{text}" to a valid duration. It overflows int64'
            )
        return int(ms)
    ms_value = parse_prometheus_duration(text)
    if ms_value is None:
        raise InvalidArgumentError(f'invalid parameter "{name}": cannot parse "{text}" to a valid duration')
    return ms_value


def parse_limit(text: str | None) -> int:
    """The ``limit`` parameter: 0 (no limit) when absent; a non-negative integer."""
    if text is None or text == "":
        return 0
    try:
        limit = int(text)
    except ValueError as err:
        raise InvalidArgumentError(f'invalid parameter "limit": cannot parse "{text}" to a valid limit') from err
    if limit < 0:
        raise InvalidArgumentError('invalid parameter "limit": limit must be non-negative')
    return limit
