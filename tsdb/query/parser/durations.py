"""Prometheus durations: ``1h30m``, ``500ms``, ``2w`` <-> milliseconds."""

from __future__ import annotations

import re

from tsdb.errors import InvalidArgumentError

UNITS_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000,
            "ms": 1}
_ORDER = ("y", "w", "d", "h", "m", "s", "ms")
_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")


def parse_duration(text: str) -> int:
    """A Prometheus duration -> ms. Units in the order y w d h m s ms, each at most once; ``0`` is valid."""
    if text == "0":
        return 0
    pos = 0
    total = 0
    last = -1
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        rank = _ORDER.index(match.group(2))
        if rank <= last:
            raise InvalidArgumentError(f'not a valid duration string: "{text}"')
        last = rank
        total += int(match.group(1)) * UNITS_MS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise InvalidArgumentError(f'not a valid duration string: "{text}"')
    return total


def format_duration(ms: int) -> str:
    """ms -> the shortest Prometheus duration (``0s`` for zero; negative values get a ``-``)."""
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    parts = []
    for unit in _ORDER:
        size = UNITS_MS[unit]
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return sign + "".join(parts)
