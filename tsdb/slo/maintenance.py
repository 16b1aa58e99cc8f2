"""Maintenance windows of an SLO in a report period: what the compliance report leaves out.

The convention:

- a silence is a maintenance window when its comment contains the word ``maintenance`` (any case) or one
  of its matchers is on a label named ``maintenance``; it applies to an SLO when its other matchers match
  the labels of one of the SLO's alerts (alert name, alert labels, SLO labels, ``sloth_id``,
  ``sloth_service``, ``sloth_slo``), and to every SLO when it has no other matcher. A silence with a
  recurrence counts only while the recurrence is active.
- a time interval (``time_intervals`` or ``mute_time_intervals`` of the notifications config) whose name
  starts with ``maintenance`` is a maintenance window of every SLO whenever it is active.

Windows are merged and clipped to the period; recurrences and time intervals are followed minute by minute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tsdb.alerting.matchers import matches
from tsdb.alerting.silences import Silence
from tsdb.alerting.timeintervals import active
from tsdb.slo.sloth import id_labels
from tsdb.slo.spec import SLO

MAINTENANCE_LABEL = "maintenance"
_WORD = re.compile(r"\bmaintenance\b", re.IGNORECASE)
_STEP = 60


@dataclass(frozen=True)
class Window:
    """``[start_s, end_s)`` (Unix seconds) and where it comes from (``silence <id>`` or ``time interval <name>``)."""

    start_s: int
    end_s: int
    source: str

    @property
    def seconds(self) -> int:
        return self.end_s - self.start_s


def is_maintenance(silence: Silence) -> bool:
    """Whether the silence is marked as maintenance (comment or a ``maintenance`` matcher)."""
    return bool(_WORD.search(silence.comment)) or any(m.name == MAINTENANCE_LABEL for m in silence.matchers)


def slo_label_sets(slo: SLO) -> list[dict[str, str]]:
    """The label sets a maintenance silence's matchers are checked against: one per enabled alert."""
    base = {**slo.labels, **id_labels(slo)}
    sets = [{**base, **alert.labels, "alertname": alert.name} for alert in (slo.page, slo.ticket)
            if not alert.disable]
    sets += [{**base, **alert.labels, "alertname": alert.name} for alert in slo.burn_alerts]
    return sets or [base]


def _applies(silence: Silence, label_sets: Sequence[Mapping[str, str]]) -> bool:
    others = [m for m in silence.matchers if m.name != MAINTENANCE_LABEL]
    return not others or any(matches(others, labels) for labels in label_sets)


def _stepped(specs: tuple[Any, ...], start_s: int, end_s: int, source: str) -> list[Window]:
    """The runs of minutes in ``[start_s, end_s)`` during which the interval specs are active."""
    out: list[Window] = []
    run: int | None = None
    t = start_s - start_s % _STEP
    while t < end_s:
        if active(specs, t):
            run = t if run is None else run
        elif run is not None:
            out.append(Window(max(run, start_s), t, source))
            run = None
        t += _STEP
    if run is not None:
        out.append(Window(max(run, start_s), end_s, source))
    return [w for w in out if w.end_s > w.start_s]


def merge(windows: Iterable[Window]) -> list[Window]:
    """Overlapping or touching windows joined (sources listed together), sorted by start."""
    out: list[Window] = []
    for w in sorted(windows, key=lambda w: (w.start_s, w.end_s)):
        if out and w.start_s <= out[-1].end_s:
            last = out[-1]
            sources = last.source if w.source in last.source.split("; ") else f"{last.source}; {w.source}"
            out[-1] = Window(last.start_s, max(last.end_s, w.end_s), sources)
        else:
            out.append(w)
    return out


def windows_for(slo: SLO, silences: Iterable[Silence], intervals: Mapping[str, tuple[Any, ...]],
                start_s: int, end_s: int) -> list[Window]:
    """The SLO's merged maintenance windows within ``[start_s, end_s)``."""
    found: list[Window] = []
    label_sets = slo_label_sets(slo)
    for silence in silences:
        if not is_maintenance(silence) or not _applies(silence, label_sets):
            continue
        lo, hi = max(start_s, int(silence.starts_at)), min(end_s, int(silence.ends_at))
        if hi <= lo:
            continue
        source = f"silence {silence.id}" + (f": {silence.comment}" if silence.comment else "")
        if silence.recurrence:
            found.extend(_stepped(silence.recurrence, lo, hi, source))
        else:
            found.append(Window(lo, hi, source))
    for name, specs in intervals.items():
        if name.lower().startswith(MAINTENANCE_LABEL):
            found.extend(_stepped(specs, start_s, end_s, f"time interval {name}"))
    return merge(found)


def complement(windows: Sequence[Window], start_s: int, end_s: int) -> list[tuple[int, int]]:
    """The parts of ``[start_s, end_s)`` outside the (merged, sorted) windows."""
    out: list[tuple[int, int]] = []
    at = start_s
    for w in windows:
        if w.start_s > at:
            out.append((at, w.start_s))
        at = max(at, w.end_s)
    if at < end_s:
        out.append((at, end_s))
    return out
