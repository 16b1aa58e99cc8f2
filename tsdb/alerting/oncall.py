"""On-call schedules: users with contact methods, rotation layers, overrides; who is on call at a time.

A schedule has layers (later layers take precedence where they apply) and overrides (an explicit user for
a time range, above every layer). A layer rotates its users every ``shift`` starting at ``start`` (a local
date) at ``handoff`` (local ``HH:MM``) in ``time_zone``; whole-day shifts count local days, so a weekly
09:00 handoff stays at 09:00 across daylight-saving changes. A layer may be limited to ``weekdays``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tsdb.config import parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.timefmt import parse_rfc3339

DAY_S = 86_400
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@dataclass(frozen=True)
class User:
    """A person on call and how to reach them."""

    name: str
    email: str = ""
    phone: str = ""
    slack_url: str = ""


@dataclass(frozen=True)
class Layer:
    users: tuple[str, ...]
    shift_s: int
    start: dt.date
    handoff_minutes: int
    zone: str
    weekdays: tuple[int, ...] = ()

    def on_call(self, at: float) -> str | None:
        tz = ZoneInfo(self.zone)
        local = dt.datetime.fromtimestamp(at, tz=tz)
        if self.weekdays and local.weekday() not in self.weekdays:
            return None
        first = dt.datetime.combine(self.start, dt.time(self.handoff_minutes // 60, self.handoff_minutes % 60),
                                    tzinfo=tz)
        if local < first:
            return None
        if self.shift_s % DAY_S == 0:
            # count local days since the first handoff (a day starts at the handoff time)
            handoff_today = local.replace(hour=first.hour, minute=first.minute, second=0, microsecond=0)
            day = (local.date() - self.start).days - (1 if local < handoff_today else 0)
            index = day // (self.shift_s // DAY_S)
        else:
            index = int((at - first.timestamp()) // self.shift_s)
        return self.users[index % len(self.users)]


@dataclass(frozen=True)
class Override:
    user: str
    start: float
    end: float


@dataclass(frozen=True)
class Schedule:
    name: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()

    def who(self, at: float) -> tuple[str | None, str]:
        """(user on call at ``at`` or None, which rule decided: ``override`` or ``layer N``)."""
        for o in self.overrides:
            if o.start <= at < o.end:
                return o.user, "override"
        for i in range(len(self.layers) - 1, -1, -1):
            user = self.layers[i].on_call(at)
            if user is not None:
                return user, f"layer {i}"
        return None, ""


@dataclass
class OnCall:
    """Users and schedules of the ``oncall`` config section."""

    users: dict[str, User] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)

    def who_is_on_call(self, schedule: str, at: float) -> tuple[User | None, str]:
        if schedule not in self.schedules:
            raise KeyError(schedule)
        name, source = self.schedules[schedule].who(at)
        return (self.users.get(name) if name else None), source


def _time(text: str, where: str) -> float:
    try:
        return parse_rfc3339(str(text), naive_is_utc=True)
    except ValueError as err:
        raise ConfigError(f"{where}: invalid time {text!r}") from err


def parse_oncall(raw: dict[str, Any] | None) -> OnCall:
    """Parse ``{users: {name: {email, phone, slack_url}}, schedules: {name: {layers, overrides}}}``."""
    raw = raw or {}
    users = {}
    for name, info in (raw.get("users") or {}).items():
        info = info or {}
        users[str(name)] = User(str(name), str(info.get("email") or ""), str(info.get("phone") or ""),
                                str(info.get("slack_url") or ""))
    schedules = {}
    for name, spec in (raw.get("schedules") or {}).items():
        where = f"oncall.schedules.{name}"
        layers = []
        for i, layer in enumerate((spec or {}).get("layers") or []):
            lw = f"{where}.layers[{i}]"
            members = tuple(str(u) for u in layer.get("users") or [])
            if not members:
                raise ConfigError(f"{lw}: users must not be empty")
            unknown = [u for u in members if u not in users]
            if unknown:
                raise ConfigError(f"{lw}: unknown user {unknown[0]!r}")
            try:
                shift_s = parse_duration_ms(layer.get("shift") or "1w", f"{lw}.shift") // 1000
                start = dt.date.fromisoformat(str(layer.get("start") or "2024-01-01"))
                zone = str(layer.get("time_zone") or "UTC")
                ZoneInfo(zone)
            except (TsdbError, ValueError, ZoneInfoNotFoundError) as err:
                raise ConfigError(f"{lw}: {err}") from err
            hh, _, mm = str(layer.get("handoff") or "09:00").partition(":")
            if not hh.isdigit() or not mm.isdigit():
                raise ConfigError(f"{lw}.handoff: expected HH:MM")
            days = tuple(WEEKDAYS.index(d.lower()) for d in layer.get("weekdays") or [] if d.lower() in WEEKDAYS)
            layers.append(Layer(members, int(shift_s), start, int(hh) * 60 + int(mm), zone, days))
        overrides = tuple(Override(str(o["user"]), _time(o["start"], f"{where}.overrides"),
                                   _time(o["end"], f"{where}.overrides"))
                          for o in (spec or {}).get("overrides") or [])
        for o in overrides:
            if o.user not in users:
                raise ConfigError(f"{where}.overrides: unknown user {o.user!r}")
        schedules[str(name)] = Schedule(str(name), tuple(layers), overrides)
    return OnCall(users, schedules)


def handoffs(oncall: OnCall, schedule: str, start: float, end: float, step_s: float = 300.0) -> list[dict[str, Any]]:
    """The changes of who is on call in ``schedule`` within ``[start, end)``, found at ``step_s`` resolution:
    ``[{at, user, source}]`` (``user`` None: nobody). Raises KeyError for an unknown schedule."""
    out: list[dict[str, Any]] = []
    previous = oncall.who_is_on_call(schedule, start)
    at = (start // step_s + 1) * step_s  # on the step grid: hand-offs at whole 5 minutes are found exactly
    while at < end:
        current = oncall.who_is_on_call(schedule, at)
        if (current[0] and current[0].name) != (previous[0] and previous[0].name):
            out.append({"at": at, "user": current[0].name if current[0] else None, "source": current[1]})
        previous = current
        at += step_s
    return out
