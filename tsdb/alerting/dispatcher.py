"""The dispatcher: Alertmanager's alert store, aggregation groups, timers and notification-log dedup.

Alerts arrive through :meth:`Dispatcher.put` (from the rule evaluator's notifier or the API v2). Each
alert goes to the routes it matches; per route and group-by label values it joins an aggregation group.
A group flushes first ``group_wait`` after it was created (at once when an alert joining it before that
started more than ``group_wait`` ago, as Alertmanager does), then every ``group_interval``. A flush sends
a :class:`~tsdb.alerting.model.Notification` when the notification log says so (Alertmanager's dedup
stage: new firing alerts; all alerts resolved; with ``send_resolved``, newly resolved ones; otherwise
once ``repeat_interval`` has passed). Silenced and inhibited alerts are left out. Time comes from the
injectable ``clock`` and :meth:`tick` does the work due at a time, so tests control every timer.

In a notification cluster (tsdb/cluster) every node holds every alert and group, but only the elected node
sends: :attr:`Dispatcher.active` says whether this node may. A standby keeps each group's timer and drops the
resolved alerts the (shared) notification log says were told; when it becomes active, each group resumes one
``group_interval`` after the last notification the log records for it (at once when that has passed).

Delivery is per integration, as in Alertmanager: the notification log keeps one entry per group, receiver
and integration (``webhook/0``, ``slack/0``, ... from ``Sender.integration_keys`` when the sender has it,
else one entry ``""`` for the whole receiver). A flush goes only to the integrations whose entry says so;
an integration that delivered is logged and not sent the same again, one that failed keeps its old entry
and so is tried again at the group's next flush (every ``group_interval``) until it succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tsdb.alerting.config import AlertingConfig, InhibitRule, Route
from tsdb.alerting.matchers import matches
from tsdb.alerting.model import Alert, DeliveryResult, DispatchHook, Notification, Sender, notification_order
from tsdb.alerting.silences import SilenceStore
from tsdb.alerting.timeintervals import active

log = logging.getLogger("tsdb.alerting")

RESOLVE_TIMEOUT_S = 300.0
NFLOG_RETENTION_S = 120 * 3600.0
"""How long a notification log entry outlives its group (Alertmanager's ``--data.retention`` default)."""
NFLOG_GC_INTERVAL_S = 900.0
"""How often expired notification log entries are removed (Alertmanager's maintenance interval)."""


@dataclass
class NflogEntry:
    """What a group's receiver was last told: firing and resolved fingerprints, and when."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at: float


@dataclass
class AggregationGroup:
    """Alerts of one route with equal group-by label values."""

    route: Route
    labels: dict[str, str]
    key: str
    next_flush: float
    alerts: dict[str, Alert] = field(default_factory=dict)
    flushed_once: bool = False
    attempted: NflogEntry | None = None
    """What the group's receiver was last sent (delivered or not): a flush with nothing new is a retry."""


def group_key(route: Route, group_labels: dict[str, str]) -> str:
    """Alertmanager's group key shape: ``{route path}:{label="value",...}``."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(group_labels.items()))
    return f"{route.key}:{{{inner}}}"


class Dispatcher:
    """Routes, groups, dedups and hands notifications to a :class:`Sender`. Thread-safe."""

    def __init__(self, config: AlertingConfig, sender: Sender, *, clock: Callable[[], float],
                 silences: SilenceStore | None = None, external_url: str = "",
                 resolve_timeout_s: float = RESOLVE_TIMEOUT_S, nflog_retention_s: float = NFLOG_RETENTION_S
                 ) -> None:
        self.config = config
        self.sender = sender
        self.clock = clock
        self.silences = silences or SilenceStore(clock)
        self.external_url = external_url
        self.resolve_timeout_s = resolve_timeout_s
        self.nflog_retention_s = nflog_retention_s
        self._next_nflog_gc = 0.0
        self.alerts: dict[str, Alert] = {}
        self.groups: dict[str, AggregationGroup] = {}
        self.nflog: dict[tuple[str, str, str], NflogEntry] = {}
        """(group key, receiver, integration key) -> what that integration was last told; integration key
        ``""`` stands for the whole receiver (a sender without integration keys, or a log written before
        entries were kept per integration: it then applies to every integration without its own entry)."""
        self.hooks: list[DispatchHook] = []
        self.on_log: Callable[[str, str, str, NflogEntry], None] | None = None
        """Called when the notification log changes (persistence): group key, receiver, integration key."""
        self.on_forget: Callable[[list[tuple[str, str, str]]], None] | None = None
        """Called with the notification log keys :meth:`gc_nflog` removed (persistence)."""
        self.sent: list[Notification] = []  # the last notifications sent, newest last (bounded)
        self.active: Callable[[], bool] = lambda: True
        """Whether this node sends (a notification cluster's elected node); see the module docstring."""
        self._was_active = True
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def add_hook(self, hook: DispatchHook) -> None:
        self.hooks.append(hook)

    def apply_config(self, config: AlertingConfig, sender: Sender) -> None:
        """A new configuration: groups are rebuilt from the current alerts (their timers restart)."""
        with self._lock:
            self.config, self.sender = config, sender
            self.groups = {}
            for alert in self.alerts.values():
                self._route(alert)

    # -- intake -------------------------------------------------------------------------------------
    def put(self, alerts: Sequence[Alert]) -> None:
        """Receive alerts (new or updates of known ones, merged by label fingerprint)."""
        now = self.clock()
        with self._lock:
            for incoming in alerts:
                alert = Alert(dict(incoming.labels), dict(incoming.annotations), incoming.starts_at or now,
                              incoming.ends_at, incoming.generator_url, now)
                if alert.ends_at is None:
                    alert.ends_at = None  # firing until updated; resolve_timeout applies at flush
                known = self.alerts.get(alert.fingerprint)
                if known is not None and known.starts_at and not known.resolved_at(now):
                    alert.starts_at = min(known.starts_at, alert.starts_at)
                self.alerts[alert.fingerprint] = alert
                self._route(alert)
            for hook in self.hooks:
                hook.on_alerts(alerts, now)
        self._poke()

    def _route(self, alert: Alert) -> None:
        now = self.clock()
        for route in self.config.route.match(alert.labels):
            labels = dict(alert.labels) if route.group_by is None else {
                k: alert.labels[k] for k in route.group_by if k in alert.labels}
            key = group_key(route, labels)
            group = self.groups.get(key)
            if group is None:
                group = AggregationGroup(route, labels, key, now + route.group_wait_ms / 1000)
                self.groups[key] = group
            group.alerts[alert.fingerprint] = alert
            if not group.flushed_once and alert.starts_at + route.group_wait_ms / 1000 < now:
                group.next_flush = min(group.next_flush, now)

    # -- muting ---------------------------------------------------------------------------------------
    def is_resolved(self, alert: Alert, now: float) -> bool:
        if alert.ends_at is not None:
            return alert.ends_at <= now
        return now - alert.updated_at >= self.resolve_timeout_s

    def inhibited(self, alert: Alert, now: float) -> bool:
        """Whether a firing source alert of an inhibit rule mutes ``alert``."""
        for rule in self.config.inhibit_rules:
            if not matches(rule.target, alert.labels):
                continue
            for source in self.alerts.values():
                if source is alert or self.is_resolved(source, now):
                    continue
                if _inhibits(rule, source, alert):
                    return True
        return False

    def muted_by(self, alert: Alert) -> tuple[list[str], bool]:
        """(ids of silences muting it, inhibited)."""
        now = self.clock()
        return self.silences.mutes(alert.labels), self.inhibited(alert, now)

    def route_muted(self, route: Route, now: float) -> bool:
        """Whether the route's mute_time_intervals hold, or its active_time_intervals do not."""
        intervals = self.config.time_intervals
        if any(active(intervals.get(name, ()), now) for name in route.mute_time_intervals):
            return True
        return bool(route.active_time_intervals) and not any(
            active(intervals.get(name, ()), now) for name in route.active_time_intervals)

    # -- timers -------------------------------------------------------------------------------------
    def gc_nflog(self, now: float) -> int:
        """Forget notification log entries older than the retention whose group is gone (Alertmanager's
        ``--data.retention``): a group that comes back after that notifies as new. Returns how many went."""
        with self._lock:
            horizon = now - self.nflog_retention_s
            old = [key for key, entry in self.nflog.items() if entry.at < horizon and key[0] not in self.groups]
            for key in old:
                del self.nflog[key]
        if old and self.on_forget is not None:
            self.on_forget(old)
        return len(old)

    def merge_log(self, key: tuple[str, str, str], entry: NflogEntry | None) -> bool:
        """Take another cluster node's notification log entry (no ``on_log``): kept unless this node logged a
        later one; None removes it. Returns whether the log changed."""
        with self._lock:
            if entry is None:
                return self.nflog.pop(key, None) is not None
            current = self.nflog.get(key)
            if current is not None and current.at > entry.at:
                return False
            self.nflog[key] = entry
            return True

    async def tick(self) -> int:
        """Flush every group due now; returns how many notifications were sent."""
        now = self.clock()
        if now >= self._next_nflog_gc:
            self._next_nflog_gc = now + NFLOG_GC_INTERVAL_S
            self.gc_nflog(now)
        if not self.active():
            self._standby(now)
            return 0
        if not self._was_active:
            self._resume(now)
        due = []
        with self._lock:
            for group in list(self.groups.values()):
                if group.next_flush <= now:
                    group.next_flush = now + group.route.group_interval_ms / 1000
                    group.flushed_once = True
                    due.append(self._prepare(group, now))
        sent = 0
        for prepared in due:
            if prepared is None:
                continue
            asked = prepared.integrations
            notification: Notification | None = prepared
            for hook in self.hooks:
                if notification is None:
                    break
                notification = hook.before_send(notification)
            if notification is None:
                continue
            if not self.active():  # leadership lost during this tick: the next leader sends the rest
                self._was_active = False  # (and if this node leads again, it resumes them at once)
                break
            results = await self._deliver(notification)
            with self._lock:
                keys = self._integration_keys(notification.receiver)
                failed = {r.key for r in results if not r.ok}
                if "" not in failed:  # "" failed: the whole receiver did (rate limited, an exception)
                    for key in keys:
                        if (asked is None or key in asked) and key not in failed:
                            self._log(notification, key)
                self._drop_told(notification, keys)
                self.sent.append(notification)
                del self.sent[:-1000]
            for hook in self.hooks:
                await hook.after_send(notification, results)
            sent += 1
        return sent

    def _standby(self, now: float) -> None:
        """A tick of a node that does not send: keep the timers, drop resolved alerts the log says were told."""
        self._was_active = False
        with self._lock:
            for group in list(self.groups.values()):
                if group.next_flush > now:
                    continue
                group.next_flush = now + group.route.group_interval_ms / 1000
                group.flushed_once = True
                keys = self._integration_keys(group.route.receiver)
                self._drop_resolved(group, [self._entry(group.key, group.route.receiver, k) for k in keys], now)

    def _resume(self, now: float) -> None:
        """This node starts sending: each group flushes one group_interval after its last logged notification."""
        self._was_active = True
        with self._lock:
            last: dict[str, float] = {}
            for (key, _, _), entry in self.nflog.items():
                last[key] = max(last.get(key, 0.0), entry.at)
            for group in self.groups.values():
                if group.key in last:
                    group.next_flush = max(now, last[group.key] + group.route.group_interval_ms / 1000)
                elif group.flushed_once:
                    group.next_flush = now  # never told (as far as the log says): at once
                group.attempted = None

    async def _deliver(self, notification: Notification) -> list[DeliveryResult]:
        try:
            return await self.sender.notify(notification)
        except Exception as err:  # a broken receiver must not stop the dispatcher
            log.exception("notify failed", extra={"receiver": notification.receiver})
            return [DeliveryResult(notification.receiver, "", False, 1, error=str(err))]

    def _prepare(self, group: AggregationGroup, now: float) -> Notification | None:
        """Decide (nflog) and build the notification of a flush, or None; drops resolved alerts once told."""
        visible = []
        for fp in list(group.alerts):
            current = self.alerts.get(fp)
            if current is None:
                del group.alerts[fp]
                continue
            group.alerts[fp] = current
            if self.silences.mutes(current.labels) or self.inhibited(current, now):
                continue
            visible.append(current)
        firing = frozenset(a.fingerprint for a in visible if not self.is_resolved(a, now))
        resolved = frozenset(a.fingerprint for a in visible if self.is_resolved(a, now))
        receiver = group.route.receiver
        if self.route_muted(group.route, now):
            return None  # nothing is sent (nor logged) while a mute interval holds or no active one does
        keys = self._integration_keys(receiver)
        entries = [self._entry(group.key, receiver, key) for key in keys]
        repeat_s = group.route.repeat_interval_ms / 1000
        due = [key for key, entry in zip(keys, entries, strict=True)
               if self._needs_update(entry, firing, resolved, repeat_s, now)]
        if not due:
            self._drop_resolved(group, entries, now)
            return None
        alerts = [_with_end(a, now, self.is_resolved(a, now)) for a in notification_order(visible)]
        retry = group.attempted is not None and not self._needs_update(group.attempted, firing, resolved,
                                                                        repeat_s, now)
        if not retry:
            group.attempted = NflogEntry(firing, resolved, now)
        return Notification(receiver, group.key, dict(group.labels), alerts, "firing" if firing else "resolved",
                            now, self.external_url, retry_until=now + group.route.group_interval_ms / 1000,
                            integrations=None if len(due) == len(keys) else frozenset(due), retry=retry)

    def _integration_keys(self, receiver: str) -> list[str]:
        """The notification log keys of the receiver's integrations (``[""]``: one for the receiver)."""
        keys_of = getattr(self.sender, "integration_keys", None)
        keys = list(keys_of(receiver)) if keys_of is not None else []
        return keys or [""]

    def _entry(self, group_key: str, receiver: str, key: str) -> NflogEntry | None:
        entry = self.nflog.get((group_key, receiver, key))
        if entry is None and key:
            entry = self.nflog.get((group_key, receiver, ""))  # logged for the whole receiver
        return entry

    @staticmethod
    def _needs_update(entry: NflogEntry | None, firing: frozenset[str], resolved: frozenset[str],
                      repeat_s: float, now: float) -> bool:
        if entry is None:
            return bool(firing)
        if not firing <= entry.firing:
            return True
        if not firing:
            return bool(entry.firing)
        if not resolved <= entry.resolved:
            return True
        return entry.at <= now - repeat_s

    def _log(self, notification: Notification, integration: str) -> None:
        """Record that ``integration`` of the notification's receiver was told (Alertmanager's SetNotifies)."""
        now = notification.now
        firing = frozenset(a.fingerprint for a in notification.alerts if not a.resolved_at(now))
        resolved = frozenset(a.fingerprint for a in notification.alerts if a.resolved_at(now))
        key = (notification.group_key, notification.receiver, integration)
        self.nflog[key] = NflogEntry(firing, resolved, now)
        if self.on_log is not None:
            self.on_log(notification.group_key, notification.receiver, integration, self.nflog[key])

    def _drop_told(self, notification: Notification, keys: list[str]) -> None:
        group = self.groups.get(notification.group_key)
        if group is not None:
            entries = [self._entry(notification.group_key, notification.receiver, key) for key in keys]
            self._drop_resolved(group, entries, notification.now)

    def _drop_resolved(self, group: AggregationGroup, entries: list[NflogEntry | None], now: float) -> None:
        """Resolved alerts every integration of the receiver has been told about leave the group; an empty
        group goes. (An integration that keeps failing keeps them, so it is told once it delivers.)"""

        def told(fp: str) -> bool:
            return all(e is None or fp not in e.firing or fp in e.resolved for e in entries)

        dropped = [fp for fp, alert in group.alerts.items() if self.is_resolved(alert, now) and told(fp)]
        if not dropped:
            return
        for fp in dropped:
            del group.alerts[fp]
        if not group.alerts:
            self.groups.pop(group.key, None)
        # forget a dropped alert once no other group holds it
        held = {fp for g in self.groups.values() for fp in g.alerts if fp in dropped}
        for fp in dropped:
            if fp not in held:
                self.alerts.pop(fp, None)

    async def run(self, stop: asyncio.Event, period_s: float = 0.2) -> None:
        """Call :meth:`tick` every ``period_s`` (and at once when alerts arrive) until ``stop`` is set."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.tick()
            except Exception:
                log.exception("dispatcher tick failed")
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waits, timeout=period_s, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()

    def _poke(self) -> None:
        """Wake the run loop (from any thread): a group with group_wait 0 flushes without delay."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(wake.set)


def _inhibits(rule: InhibitRule, source: Alert, target: Alert) -> bool:
    if not matches(rule.source, source.labels):
        return False
    if matches(rule.target, source.labels) and matches(rule.source, target.labels):
        return False  # an alert matching both sides does not inhibit itself's peers symmetrically
    return all(source.labels.get(name, "") == target.labels.get(name, "") for name in rule.equal)


def _with_end(alert: Alert, now: float, resolved: bool) -> Alert:
    ends = alert.ends_at if alert.ends_at is not None else (now if resolved else None)
    return Alert(dict(alert.labels), dict(alert.annotations), alert.starts_at, ends, alert.generator_url, now)
