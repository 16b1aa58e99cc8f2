"""A schedule's timeline over a window ``[start, end)``: who is on call when and why, exact to the second.

:func:`timeline` returns the final on-call segments (the user and the rule that decided: ``override`` or
``layer N``, with gaps where nobody is on call), the segments of every layer on its own, the overrides that
touch the window, and the hand-offs (the instants where the on-call user changes). Instead of sampling, it
collects every instant where a rule can change (a layer's shift boundaries, local midnights for weekday-
limited layers, daylight-saving transitions, override starts and ends) and evaluates the schedule once per
interval between them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from tsdb.alerting.oncall import DAY_S, Layer, OnCall, Override, Schedule

MAX_WINDOW_S = 92 * DAY_S
"""The longest window :func:`timeline` accepts (the HTTP API answers 400 beyond it)."""


@dataclass(frozen=True)
class Segment:
    """``user`` (None: nobody) is on call over ``[start, end)`` because of ``source`` (``override``,
    ``layer N`` or ``""``); ``override_id`` names the override when ``source`` is ``override``."""

    start: float
    end: float
    user: str | None
    source: str = ""
    override_id: str = ""


@dataclass(frozen=True)
class Handoff:
    """At ``at`` the on-call user changes from ``from_user`` to ``to_user`` (None: nobody)."""

    at: float
    from_user: str | None
    to_user: str | None
    source: str


@dataclass
class Timeline:
    """See :func:`timeline`. ``layers[i]`` holds the covered segments of layer ``i`` (no gaps listed)."""

    schedule: str
    start: float
    end: float
    final: list[Segment] = field(default_factory=list)
    layers: list[list[Segment]] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)


def _dst_transitions(zone: ZoneInfo, start: float, end: float) -> list[float]:
    """The instants within ``(start, end)`` where ``zone``'s UTC offset changes (found per day, to 1 s)."""
    out: list[float] = []

    def offset(t: float) -> dt.timedelta | None:
        return dt.datetime.fromtimestamp(t, tz=zone).utcoffset()

    t = start
    while t < end:
        nxt = min(t + DAY_S, end)
        if offset(t) != offset(nxt):
            lo, hi = t, nxt  # offset(lo) != offset(hi): bisect to the first second of the new offset
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == offset(lo):
                    lo = mid
                else:
                    hi = mid
            out.append(float(hi))
        t = nxt
    return out


def layer_boundaries(layer: Layer, start: float, end: float) -> list[float]:
    """Every instant within ``(start, end)`` where ``layer`` may change who it puts on call (a superset)."""
    zone = ZoneInfo(layer.zone)
    hour, minute = divmod(layer.handoff_minutes, 60)
    first = dt.datetime.combine(layer.start, dt.time(hour, minute), tzinfo=zone).timestamp()
    out = [first]
    day = dt.datetime.fromtimestamp(start, tz=zone).date() - dt.timedelta(days=1)
    last = dt.datetime.fromtimestamp(end, tz=zone).date() + dt.timedelta(days=1)
    while day <= last:
        out.append(dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone).timestamp())
        out.append(dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).timestamp())
        day += dt.timedelta(days=1)
    if layer.shift_s % DAY_S:
        k = max(0, int((start - first) // layer.shift_s))
        t = first + k * layer.shift_s
        while t < end:
            out.append(t)
            t += layer.shift_s
    out.extend(_dst_transitions(zone, start, end))
    return [t for t in out if start < t < end]


def _cuts(start: float, end: float, points: list[float]) -> list[float]:
    return [start, *sorted({p for p in points if start < p < end}), end]


def _merge(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in segments:
        if out and out[-1].end == s.start and (out[-1].user, out[-1].source, out[-1].override_id) == (
                s.user, s.source, s.override_id):
            out[-1] = Segment(out[-1].start, s.end, s.user, s.source, s.override_id)
        else:
            out.append(s)
    return out


def schedule_timeline(schedule: Schedule, start: float, end: float) -> Timeline:
    """The timeline of ``schedule`` over ``[start, end)`` (see the module doc); ValueError when
    ``end <= start`` or the window is longer than :data:`MAX_WINDOW_S`."""
    if end <= start:
        raise ValueError("end must be after start")
    if end - start > MAX_WINDOW_S:
        raise ValueError(f"the window must not be longer than {MAX_WINDOW_S // DAY_S} days")
    result = Timeline(schedule.name, start, end)
    all_points: list[float] = []
    for i, layer in enumerate(schedule.layers):
        points = layer_boundaries(layer, start, end)
        all_points.extend(points)
        cuts = _cuts(start, end, points)
        segments = [Segment(a, b, user, f"layer {i}")
                    for a, b in itertools.pairwise(cuts) if (user := layer.on_call(a)) is not None]
        result.layers.append(_merge(segments))
    result.overrides = sorted((o for o in schedule.overrides if o.start < end and o.end > start),
                              key=lambda o: (o.start, o.end, o.id))
    for o in result.overrides:
        all_points.extend((o.start, o.end))
    cuts = _cuts(start, end, all_points)
    final = []
    for a, b in itertools.pairwise(cuts):
        override = schedule.override_at(a)
        if override is not None:
            final.append(Segment(a, b, override.user, "override", override.id))
        else:
            user, source = schedule.who(a)
            final.append(Segment(a, b, user, source))
    result.final = _merge(final)
    for before, after in itertools.pairwise(result.final):
        if before.user != after.user:
            result.handoffs.append(Handoff(after.start, before.user, after.user, after.source))
    return result


def timeline(oncall: OnCall, schedule: str, start: float, end: float) -> Timeline:
    """:func:`schedule_timeline` of ``oncall.schedules[schedule]``; KeyError for an unknown schedule."""
    return schedule_timeline(oncall.schedules[schedule], start, end)


def handoffs(oncall: OnCall, schedule: str, start: float, end: float) -> list[dict[str, Any]]:
    """The changes of who is on call in ``schedule`` within ``(start, end)``, exact to the second:
    ``[{at, user, from, source}]`` (``user``/``from`` None: nobody). KeyError for an unknown schedule."""
    return [{"at": h.at, "user": h.to_user, "from": h.from_user, "source": h.source}
            for h in timeline(oncall, schedule, start, end).handoffs]
