"""Notification log and silences survive a restart (SQLite): no duplicate first notification, the repeat
schedule kept, silences still muting."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.alerting.test_dispatcher import CONFIG, Clock, Recorder, _alert
from tsdb.alerting.config import parse_config
from tsdb.alerting.dispatcher import Dispatcher
from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.silences import Silence, SilenceStore
from tsdb.alerting.store import AlertingStore


def _dispatcher(path: Path, clock: Clock, recorder: Recorder) -> tuple[Dispatcher, AlertingStore]:
    store = AlertingStore(path)
    silences = SilenceStore(clock, {s.id: s for s in store.load_silences()}, on_change=store.save_silence)
    d = Dispatcher(parse_config(CONFIG), recorder, clock=clock, silences=silences)
    d.nflog.update(store.load_nflog())
    d.on_log = store.save_nflog
    return d, store


def test_restart_keeps_nflog_and_silences(tmp_path: Path) -> None:
    clock, rec = Clock(), Recorder()
    path = tmp_path / "alerting.sqlite"
    d, store = _dispatcher(path, clock, rec)
    far = clock.now + 10 * 3600
    d.put([_alert(clock, far, alertname="A", cluster="c1")])
    clock.now += 30
    asyncio.run(d.tick())
    assert len(rec.sent) == 1
    sid = d.silences.set(Silence("", parse_matchers('{alertname="Muted"}'), clock.now, clock.now + 3600, "me", "x"))
    store.close()
    # restart: the same alert arrives again (Prometheus re-sends it); the receiver was told already
    clock.now += 60
    again, store2 = _dispatcher(path, clock, rec)
    again.put([_alert(clock, far, alertname="A", cluster="c1"), _alert(clock, far, alertname="Muted")])
    clock.now += 30
    asyncio.run(again.tick())
    assert len(rec.sent) == 1  # no duplicate first notification, and the silence still mutes "Muted"
    assert again.silences.get(sid) is not None and again.silences.mutes({"alertname": "Muted"}) == [sid]
    clock.now += 4 * 3600  # the repeat schedule continues from the first notification
    asyncio.run(again.tick())
    groups = [n.group_labels.get("alertname") for n in rec.sent[1:]]
    assert sorted(groups) == ["A", "Muted"]  # A repeated; Muted notified now that its silence has ended
    store2.close()


def test_recurring_silence_mutes_only_in_its_window_and_persists(tmp_path: Path) -> None:
    import datetime as dt

    from tsdb.alerting.silences import recurrence_of

    sunday_2am = dt.datetime(2026, 11, 29, 2, 30, tzinfo=dt.UTC).timestamp()
    clock = Clock()
    clock.now = sunday_2am
    store = AlertingStore(tmp_path / "a.sqlite")
    silences = SilenceStore(clock, on_change=store.save_silence)
    specs, raw = recurrence_of([{"weekdays": ["sunday"], "times": [{"start_time": "02:00", "end_time": "04:00"}]}])
    sid = silences.set(Silence("", parse_matchers('{job="batch"}'), clock.now - 86_400 * 30, clock.now + 86_400 * 365,
                               "ops", "weekly maintenance", recurrence=specs, recurrence_raw=raw))
    assert silences.mutes({"job": "batch"}) == [sid]
    clock.now += 3 * 3600  # 05:30: outside the window
    assert silences.mutes({"job": "batch"}) == []
    clock.now += 7 * 86_400 - 3 * 3600  # next Sunday 02:30
    again = SilenceStore(clock, {s.id: s for s in store.load_silences()})
    assert again.mutes({"job": "batch"}) == [sid]
    store.close()


def test_a_per_receiver_log_of_an_older_version_still_dedups(tmp_path: Path) -> None:
    """Entries of the older per-receiver table stand for every integration without an entry of its own."""
    import sqlite3

    path = tmp_path / "alerting.sqlite"
    clock = Clock()
    far = clock.now + 10 * 3600
    alert = _alert(clock, far, alertname="A", cluster="c1")
    group_key = '{}:{alertname="A",cluster="c1"}'
    AlertingStore(path).close()
    db = sqlite3.connect(str(path))
    db.execute("INSERT INTO nflog VALUES (?, 'default', ?, '[]', ?)", (group_key, f'["{alert.fingerprint}"]',
                                                                        clock.now - 60))
    db.commit()
    db.close()
    class Keyed(Recorder):
        def integration_keys(self, receiver: str) -> list[str]:
            return ["webhook/0"]

    rec = Keyed()
    d, store = _dispatcher(path, clock, rec)
    assert (group_key, "default", "") in d.nflog
    d.put([alert])
    clock.now += 30
    asyncio.run(d.tick())
    assert rec.sent == []  # told before the upgrade
    store.close()


def test_the_notification_log_forgets_gone_groups_after_its_retention(tmp_path: Path) -> None:
    """Alertmanager's --data.retention: an entry outlives its group by the retention, then goes from memory
    and from the store (a long-running server sees ever new groups); a live group keeps its entry."""
    clock, rec = Clock(), Recorder()
    path = tmp_path / "alerting.sqlite"
    d, store = _dispatcher(path, clock, rec)
    d.on_forget = store.forget_nflog
    d.nflog_retention_s = 3600.0
    far = clock.now + 10 * 3600
    d.put([_alert(clock, far, alertname="Live", cluster="c1")])
    for i in range(3):  # short-lived groups: fire, get told, resolve, get told, go
        d.put([_alert(clock, clock.now + 60, alertname="Once", cluster=f"short-{i}")])
    clock.now += 30
    asyncio.run(d.tick())
    clock.now += 400
    asyncio.run(d.tick())
    assert len(d.nflog) == 4 and {k[0] for k in d.nflog} >= set(d.groups)
    assert len(d.groups) == 1  # only Live is left
    clock.now += 1800
    assert d.gc_nflog(clock.now) == 0  # within the retention
    clock.now += 3600
    assert d.gc_nflog(clock.now) == 3
    assert [k[0] for k in d.nflog] == list(d.groups)
    store.close()
    assert AlertingStore(path).load_nflog().keys() == d.nflog.keys()  # gone from disk too
