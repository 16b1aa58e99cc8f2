"""Editing silences follows Alertmanager's ``Set``: in place while history stays the same, otherwise the old
silence is expired and a new id replaces it."""

from __future__ import annotations

import pytest

from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.silences import Silence, SilenceStore
from tsdb.errors import InvalidArgumentError

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _store() -> tuple[SilenceStore, Clock, list[str]]:
    clock = Clock()
    changed: list[str] = []
    return SilenceStore(clock, on_change=lambda s: changed.append(s.id)), clock, changed


def _silence(sid: str, matchers: str, starts: float, ends: float, comment: str = "c") -> Silence:
    return Silence(sid, parse_matchers(matchers), starts, ends, "me", comment)


def test_active_silence_same_matchers_updates_in_place() -> None:
    store, clock, changed = _store()
    sid = store.set(_silence("", '{job="a"}', T0, T0 + 3600))
    clock.now += 60
    again = store.set(_silence(sid, '{job="a"}', T0 + 0.4, T0 + 7200, "longer"))
    assert again == sid and len(store.all()) == 1
    s = store.get(sid)
    assert s is not None and s.comment == "longer" and s.ends_at == T0 + 7200 and s.updated_at == clock.now
    assert changed == [sid, sid]


def test_active_silence_new_matchers_expires_old_and_creates_new() -> None:
    store, clock, changed = _store()
    sid = store.set(_silence("", '{job="a"}', T0, T0 + 3600))
    clock.now += 60
    new = store.set(_silence(sid, '{job="b"}', T0, T0 + 3600))
    assert new != sid
    old, fresh = store.get(sid), store.get(new)
    assert old is not None and old.state(clock.now) == "expired" and old.ends_at == clock.now
    assert fresh is not None and fresh.starts_at == clock.now and fresh.state(clock.now) == "active"
    assert store.mutes({"job": "a"}) == [] and store.mutes({"job": "b"}) == [new]
    assert changed == [sid, sid, new]


def test_active_silence_moved_start_is_replaced() -> None:
    store, clock, _ = _store()
    sid = store.set(_silence("", '{job="a"}', T0, T0 + 3600))
    clock.now += 60
    new = store.set(_silence(sid, '{job="a"}', T0 + 30, T0 + 3600))
    assert new != sid and store.get(sid).state(clock.now) == "expired"  # type: ignore[union-attr]


def test_pending_silence_updates_in_place_unless_start_moves_into_the_past() -> None:
    store, clock, _ = _store()
    sid = store.set(_silence("", '{job="a"}', T0 + 600, T0 + 3600))
    assert store.set(_silence(sid, '{job="a"}', T0 + 900, T0 + 3600)) == sid
    new = store.set(_silence(sid, '{job="a"}', T0 - 10, T0 + 3600))
    assert new != sid
    old = store.get(sid)
    assert old is not None and old.state(clock.now) == "expired"
    assert store.get(new).starts_at == T0  # type: ignore[union-attr]


def test_expired_silence_is_never_changed() -> None:
    store, clock, _ = _store()
    sid = store.set(_silence("", '{job="a"}', T0, T0 + 60))
    clock.now += 120
    new = store.set(_silence(sid, '{job="a"}', T0, T0 + 3600, "again"))
    assert new != sid
    old = store.get(sid)
    assert old is not None and old.comment == "c" and old.ends_at == T0 + 60


def test_errors() -> None:
    store, _, _ = _store()
    with pytest.raises(InvalidArgumentError, match="not found"):
        store.set(_silence("nope", '{job="a"}', T0, T0 + 60))
    with pytest.raises(InvalidArgumentError, match="in the past"):
        store.set(_silence("", '{job="a"}', T0 - 120, T0 - 60))
    with pytest.raises(InvalidArgumentError, match="before"):
        store.set(_silence("", '{job="a"}', T0 + 60, T0))
