"""HTTP API parameter parsing as Prometheus does it: times, durations, limits.

Times are Unix float seconds (rounded to milliseconds) or RFC 3339; durations are float seconds or a
Prometheus duration (``1h30m``). Results are int64 milliseconds. Errors are
:class:`InvalidArgumentError` with Prometheus's wording, naming the parameter.
"""

from __future__ import annotations

import math

from tsdb.errors import InvalidArgumentError
from tsdb.timefmt import parse_rfc3339_ms, try_parse_duration

MIN_TIME_MS = -(1 << 63) // 1_000_000 // 1000 * 1000
"""Prometheus's MinTime (year -292273086) expressed in ms, as its API uses for absent ``start``."""
MAX_TIME_MS = ((1 << 63) - 1) // 1_000_000 // 1000 * 1000
MIN_TIME_FORMATTED = "-292273086-05-16T16:47:06Z"
MAX_TIME_FORMATTED = "292277025-08-18T07:12:54.999999999Z"



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
    ms = parse_rfc3339_ms(text)
    if ms is not None:
        return ms
    if text == MIN_TIME_FORMATTED:
        return MIN_TIME_MS
    if text == MAX_TIME_FORMATTED:
        return MAX_TIME_MS
    raise InvalidArgumentError(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp')


def _round_half_away(x: float) -> int:
    """Go's math.Round: halves round away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


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
    ms_value = try_parse_duration(text)
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
