"""On-call schedules: users with contact methods, rotation layers, overrides; who is on call at a time.

A schedule has layers (later layers take precedence where they apply) and overrides (an explicit user for
a time range, above every layer). A layer rotates its users every ``shift`` starting at ``start`` (a local
date) at ``handoff`` (local ``HH:MM``) in ``time_zone``; whole-day shifts count local days, so a weekly
09:00 handoff stays at 09:00 across daylight-saving changes. A layer may be limited to ``weekdays``.
Overrides created at runtime (stored by :mod:`tsdb.alerting.oncall_store`) are merged in front of the
config's with :meth:`OnCall.with_runtime_overrides`; :mod:`tsdb.alerting.oncall_timeline` lays a schedule
out over a window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
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
        """The layer's user at ``at``, or None (before its start or on an excluded weekday). A day starts at
        the local hand-off time; a hand-off time skipped by a daylight-saving change happens that much later
        (02:30 on a day jumping from 02:00 to 03:00 becomes 03:30), a repeated one at its first occurrence."""
        tz = ZoneInfo(self.zone)
        local = dt.datetime.fromtimestamp(at, tz=tz)
        if self.weekdays and local.weekday() not in self.weekdays:
            return None
        handoff = dt.time(self.handoff_minutes // 60, self.handoff_minutes % 60)
        first = dt.datetime.combine(self.start, handoff, tzinfo=tz).timestamp()
        if at < first:
            return None
        if self.shift_s % DAY_S == 0:
            # count local days since the first handoff (a day starts at the handoff time)
            handoff_today = dt.datetime.combine(local.date(), handoff, tzinfo=tz).timestamp()
            day = (local.date() - self.start).days - (1 if at < handoff_today else 0)
            index = day // (self.shift_s // DAY_S)
        else:
            index = int((at - first) // self.shift_s)
        return self.users[index % len(self.users)]


@dataclass(frozen=True)
class Override:
    """``user`` is on call over ``[start, end)`` above every layer. ``id`` is ``config-N`` for the N-th
    override of the config (read-only) or a random id for one created at runtime (``runtime`` True)."""

    user: str
    start: float
    end: float
    id: str = ""
    runtime: bool = False
    created_by: str = ""
    comment: str = ""
    created_at: float = 0.0


@dataclass(frozen=True)
class Schedule:
    name: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()

    def who(self, at: float) -> tuple[str | None, str]:
        """(user on call at ``at`` or None, which rule decided: ``override`` or ``layer N``)."""
        o = self.override_at(at)
        if o is not None:
            return o.user, "override"
        for i in range(len(self.layers) - 1, -1, -1):
            user = self.layers[i].on_call(at)
            if user is not None:
                return user, f"layer {i}"
        return None, ""

    def override_at(self, at: float) -> Override | None:
        """The override in effect at ``at``: the first in ``overrides`` covering it (runtime overrides are
        merged in front, newest first, so they win over config ones), or None."""
        for o in self.overrides:
            if o.start <= at < o.end:
                return o
        return None


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

    def with_runtime_overrides(self, runtime: Mapping[str, Iterable[Override]]) -> OnCall:
        """A copy whose schedules also hold the runtime overrides (``{schedule: [Override]}``), newest first
        and in front of the config ones; overrides of schedules not configured are ignored."""
        schedules = {}
        for name, s in self.schedules.items():
            extra = sorted(runtime.get(name, ()), key=lambda o: (-o.created_at, o.id))
            config = tuple(o for o in s.overrides if not o.runtime)
            schedules[name] = Schedule(s.name, s.layers, tuple(extra) + config)
        return OnCall(self.users, schedules)


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
                                   _time(o["end"], f"{where}.overrides"), f"config-{j}",
                                   comment=str(o.get("comment") or ""))
                          for j, o in enumerate((spec or {}).get("overrides") or []))
        for o in overrides:
            if o.user not in users:
                raise ConfigError(f"{where}.overrides: unknown user {o.user!r}")
        schedules[str(name)] = Schedule(str(name), tuple(layers), overrides)
    return OnCall(users, schedules)

