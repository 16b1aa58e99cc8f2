"""Silences: matchers muting alerts between ``starts_at`` and ``ends_at`` (Alertmanager's model).

Times are Unix seconds. A silence is ``pending`` before its start, ``active`` within, ``expired`` after.
Thread-safe; persisted by the owner through :meth:`SilenceStore.snapshot` / :meth:`restore`.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tsdb.alerting.matchers import matches
from tsdb.alerting.timeintervals import active, parse_spec
from tsdb.config import config_list
from tsdb.errors import InvalidArgumentError
from tsdb.labels import Matcher


def recurrence_of(raw: Any) -> tuple[tuple[Any, ...], list[dict[str, Any]]]:
    """Parsed recurrence specs (ConfigError naming the problem) and their raw form."""
    specs = list(config_list(raw or None, "silence recurrence"))
    return tuple(parse_spec(spec or {}, f"silence recurrence[{i}]") for i, spec in enumerate(specs)), specs


@dataclass
class Silence:
    """One silence."""

    id: str
    matchers: list[Matcher]
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""
    updated_at: float = 0.0
    recurrence: tuple[Any, ...] = ()
    """Extension: time-interval specs (tsdb.alerting.timeintervals) limiting when the silence mutes, e.g.
    every Sunday 02:00-04:00 for weekly maintenance, within ``starts_at``..``ends_at``."""
    recurrence_raw: list[dict[str, Any]] = field(default_factory=list)

    def state(self, now: float) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        if self.state(now) != "active" or not matches(self.matchers, labels):
            return False
        return not self.recurrence or active(self.recurrence, now)

    def to_json(self, now: float, rfc3339: Callable[[float], str]) -> dict[str, Any]:
        return {"id": self.id, "status": {"state": self.state(now)}, "updatedAt": rfc3339(self.updated_at),
                "comment": self.comment, "createdBy": self.created_by, "startsAt": rfc3339(self.starts_at),
                "endsAt": rfc3339(self.ends_at),
                "matchers": [{"name": m.name, "value": m.value, "isRegex": m.type.value in ("=~", "!~"),
                              "isEqual": m.type.value in ("=", "=~")} for m in self.matchers],
                **({"tsdbRecurrence": self.recurrence_raw} if self.recurrence_raw else {})}


def _can_update(old: Silence, new: Silence, now: float) -> bool:
    """Whether ``old`` may become ``new`` under the same id (Alertmanager's rule): the matchers stay, an
    active silence keeps its start (to the second) and does not end in the past, a pending one does not
    start in the past; an expired silence never changes."""
    if old.matchers != new.matchers:
        return False
    state = old.state(now)
    if state == "active":
        return math.floor(old.starts_at) == math.floor(new.starts_at) and new.ends_at >= now
    if state == "pending":
        return new.starts_at >= now
    return False


def _expire(silence: Silence, now: float) -> None:
    silence.ends_at = min(silence.ends_at, now)
    silence.starts_at = min(silence.starts_at, now)
    silence.updated_at = now


@dataclass
class SilenceStore:
    """All silences by id."""

    clock: Callable[[], float]
    silences: dict[str, Silence] = field(default_factory=dict)
    on_change: Callable[[Silence], None] | None = None
    """Called after a silence is created, updated or expired (persistence)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, silence: Silence) -> str:
        """Create (empty id) or update a silence, with Alertmanager's semantics; returns the id.

        An existing silence is updated in place only when that leaves the history of what was muted
        unchanged: same matchers, and while it is active the same start (to the second) and an end not in
        the past, while it is pending a start not in the past. Otherwise (other matchers, a moved start,
        an expired silence) the old silence is expired, unless it already is, and a new one with a new id
        replaces it. A new silence starting in the past starts now."""
        if not silence.matchers:
            raise InvalidArgumentError("silence has no matchers")
        if silence.ends_at <= silence.starts_at:
            raise InvalidArgumentError("silence ends before (or when) it starts")
        now = self.clock()
        with self._lock:
            old = self.silences.get(silence.id) if silence.id else None
            if silence.id and old is None:
                raise InvalidArgumentError(f"silence {silence.id} not found")
            replaced: Silence | None = None
            if old is None or not _can_update(old, silence, now):
                if silence.ends_at <= now:
                    raise InvalidArgumentError("silence end time is in the past")
                if old is not None and old.state(now) != "expired":
                    _expire(old, now)
                    replaced = old
                silence.id = str(uuid.uuid4())
                silence.starts_at = max(silence.starts_at, now)
            silence.updated_at = now
            self.silences[silence.id] = silence
        for changed in (replaced, silence):
            if changed is not None and self.on_change is not None:
                self.on_change(changed)
        return silence.id

    def expire(self, silence_id: str) -> None:
        now = self.clock()
        with self._lock:
            silence = self.silences.get(silence_id)
            if silence is None:
                raise KeyError(silence_id)
            if silence.state(now) == "expired":
                raise InvalidArgumentError(f"silence {silence_id} already expired")
            _expire(silence, now)
        if self.on_change is not None:
            self.on_change(silence)

    def merge(self, silence: Silence) -> bool:
        """Take a silence as another node of a notification cluster has it (no ``on_change``): kept unless
        this store has a newer version of it. Returns whether it was taken."""
        with self._lock:
            old = self.silences.get(silence.id)
            if old is not None and old.updated_at > silence.updated_at:
                return False
            self.silences[silence.id] = silence
        return True

    def get(self, silence_id: str) -> Silence | None:
        with self._lock:
            return self.silences.get(silence_id)

    def all(self) -> list[Silence]:
        with self._lock:
            return list(self.silences.values())

    def mutes(self, labels: Mapping[str, str]) -> list[str]:
        """Ids of the active silences muting ``labels``."""
        now = self.clock()
        with self._lock:
            return [s.id for s in self.silences.values() if s.mutes(labels, now)]
