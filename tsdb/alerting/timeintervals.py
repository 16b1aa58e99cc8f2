"""Alertmanager time intervals (``time_intervals``): when a route is muted or active.

An interval is a list of specs; it contains a time if any spec does. A spec holds when every field it
sets holds: ``times`` (``HH:MM`` ranges, end exclusive), ``weekdays`` (``monday:friday``), ``days_of_month``
(``1:5``, negative counts from the month's end), ``months`` (``january:march`` or numbers), ``years``,
in ``location`` (an IANA time zone; UTC by default).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tsdb.config import config_list, config_mapping
from tsdb.errors import ConfigError

WEEKDAYS = {name: i for i, name in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday",
                                               "saturday", "sunday"])}
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}

Range = tuple[int, int]


def _ranges(values: Any, where: str, parse: Any) -> tuple[Range, ...]:
    out = []
    for text in config_list(values or None, where):
        lo, sep, hi = str(text).partition(":")
        a = parse(lo.strip(), where)
        b = parse(hi.strip(), where) if sep else a
        out.append((a, b))
    return tuple(out)


def _int(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a number") from None


def _weekday(text: str, where: str) -> int:
    if text.lower() not in WEEKDAYS:
        raise ConfigError(f"{where}: unknown weekday {text!r}")
    return WEEKDAYS[text.lower()]


def _month(text: str, where: str) -> int:
    if text.isdigit():
        value = int(text)
        if 1 <= value <= 12:
            return value
    elif text.lower() in MONTHS:
        return MONTHS[text.lower()]
    raise ConfigError(f"{where}: unknown month {text!r}")


def _minutes(text: str, where: str) -> int:
    hh, sep, mm = text.partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or int(mm) > 59 or int(hh) > 24:
        raise ConfigError(f"{where}: invalid time {text!r}, expected HH:MM")
    return int(hh) * 60 + int(mm)


@dataclass(frozen=True)
class Spec:
    """One entry of an interval."""

    times: tuple[Range, ...] = ()
    weekdays: tuple[Range, ...] = ()
    days_of_month: tuple[Range, ...] = ()
    months: tuple[Range, ...] = ()
    years: tuple[Range, ...] = ()
    location: str = "UTC"

    def contains(self, seconds: float) -> bool:
        t = dt.datetime.fromtimestamp(seconds, tz=ZoneInfo(self.location))
        minute = t.hour * 60 + t.minute
        if self.times and not any(lo <= minute < hi for lo, hi in self.times):
            return False
        if self.weekdays and not any(lo <= t.weekday() <= hi for lo, hi in self.weekdays):
            return False
        if self.days_of_month:
            days = calendar.monthrange(t.year, t.month)[1]
            resolve = (lambda d: d if d > 0 else days + d + 1)  # noqa: E731
            if not any(resolve(lo) <= t.day <= resolve(hi) for lo, hi in self.days_of_month):
                return False
        if self.months and not any(lo <= t.month <= hi for lo, hi in self.months):
            return False
        return not self.years or any(lo <= t.year <= hi for lo, hi in self.years)


def parse_spec(raw: dict[str, Any], where: str) -> Spec:
    """One time interval entry; ConfigError naming ``where`` and the field."""
    raw = config_mapping(raw, where)
    known = {"times", "weekdays", "days_of_month", "months", "years", "location"}
    unknown = sorted(set(map(str, raw)) - known)
    if unknown:
        raise ConfigError(f"{where}: field {unknown[0]} not found in a time interval")
    times = []
    for i, item in enumerate(config_list(raw.get("times") or None, f"{where}.times")):
        item = config_mapping(item, f"{where}.times[{i}]")
        start = _minutes(str(item.get("start_time", "")), f"{where}.times[{i}].start_time")
        end = _minutes(str(item.get("end_time", "")), f"{where}.times[{i}].end_time")
        if end <= start:
            raise ConfigError(f"{where}.times[{i}]: end_time must be after start_time")
        times.append((start, end))
    location = str(raw.get("location") or "UTC")
    try:
        ZoneInfo(location)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # OSError: a directory, a name too long
        raise ConfigError(f"{where}: unknown location {location!r}") from err
    return Spec(tuple(times), _ranges(raw.get("weekdays"), f"{where}.weekdays", _weekday),
                _ranges(raw.get("days_of_month"), f"{where}.days_of_month", _int),
                _ranges(raw.get("months"), f"{where}.months", _month),
                _ranges(raw.get("years"), f"{where}.years", _int), location)


def parse_intervals(raw: dict[str, Any], where: str = "time_intervals") -> dict[str, tuple[Spec, ...]]:
    """``{name: [spec dicts]}`` (as collected from the config) -> parsed specs."""
    return {name: tuple(parse_spec(spec or {}, f"{where}[{name}][{i}]")
                        for i, spec in enumerate(config_list(specs or None, f"{where}[{name}]")))
            for name, specs in raw.items()}


def active(specs: tuple[Spec, ...], seconds: float) -> bool:
    """Whether any spec of an interval contains the time."""
    return any(spec.contains(seconds) for spec in specs)
