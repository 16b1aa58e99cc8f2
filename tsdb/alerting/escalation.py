"""Acknowledgement and escalation: an unacknowledged firing group climbs its policy's steps.

A policy is an ordered list of steps (``wait`` then notify ``receivers`` and/or the current on-call
person of ``oncall`` schedules), run ``repeat`` extra times. The hook (a :class:`DispatchHook`) starts an
escalation when a firing notification for a bound receiver went out, adds ``extras["ack_url"]`` to every
notification, stops on resolve or acknowledgement, suppresses repeats of acknowledged groups, and re-opens
a group when a new alert fires in it. State (acks, escalations, pending page retries) is kept in SQLite and
survives restarts.

A page that fails (any integration of its target) is not recorded as sent: it is tried again, only for the
integrations that failed, ``RETRY_FIRST_S`` later, doubling up to ``RETRY_MAX_DELAY_S``, until delivered or
``RETRY_FOR_S`` / ``RETRY_MAX_ATTEMPTS`` are exhausted (then it is given up: logged, counted in
``tsdb_notifications_given_up_total``, noted in the group's history). Steps keep their schedule meanwhile.
Acknowledging or resolving the group drops its pending retries.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsdb.alerting.model import Alert, DeliveryResult, Notification
from tsdb.alerting.oncall import OnCall, User
from tsdb.alerting.receivers.base import DeliveryMetrics
from tsdb.config import parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.sqlite_store import open_store

log = logging.getLogger("tsdb.alerting.escalation")


@dataclass(frozen=True)
class Step:
    wait_s: float
    receivers: tuple[str, ...] = ()
    oncall: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0


@dataclass
class Escalation:
    """A running escalation of one group."""

    group_key: str
    policy: str
    step: int
    next_at: float
    repeats: int = 0
    notification: dict[str, Any] = field(default_factory=dict)


RETRY_FIRST_S = 10.0
"""A failed page is tried again this long after its first attempt, then after twice as long each time..."""
RETRY_MAX_DELAY_S = 300.0
"""...but at most this long between attempts..."""
RETRY_FOR_S = 3600.0
"""...and no later than this long after the first attempt..."""
RETRY_MAX_ATTEMPTS = 30
"""...nor more than this many attempts in all."""
MAX_PENDING = 10_000
"""At most this many pages wait for a retry; beyond, the oldest is given up."""


@dataclass
class PendingPage:
    """A failed page (one step's notification to one target) waiting for its next attempt.

    ``integrations`` are the keys of the target's integrations still to be told (None: all of them)."""

    id: str
    group_key: str
    step: int
    target: str
    integrations: tuple[str, ...] | None
    attempts: int
    first_at: float
    next_at: float
    notification: dict[str, Any] = field(default_factory=dict)


def encode_key(group_key: str) -> str:
    """A URL-safe form of a group key (for ack links)."""
    return base64.urlsafe_b64encode(group_key.encode()).decode().rstrip("=")


def decode_key(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as err:
        raise KeyError(token) from err


def parse_policies(raw: dict[str, Any] | None) -> tuple[dict[str, Policy], dict[str, str]]:
    """``{policies: {name: {steps: [...], repeat}}, routes: {receiver: policy}}`` -> (policies, bindings)."""
    raw = raw or {}
    policies = {}
    for name, spec in (raw.get("policies") or {}).items():
        steps = []
        for i, step in enumerate((spec or {}).get("steps") or []):
            where = f"escalation.policies.{name}.steps[{i}]"
            try:
                wait = parse_duration_ms(step.get("wait") or "0s", f"{where}.wait") / 1000
            except TsdbError as err:
                raise ConfigError(str(err)) from err
            receivers = tuple(map(str, _as_list(step.get("notify"))))
            oncall = tuple(map(str, _as_list(step.get("notify_oncall"))))
            if not receivers and not oncall:
                raise ConfigError(f"{where}: a step needs notify and/or notify_oncall")
            steps.append(Step(wait, receivers, oncall))
        if not steps:
            raise ConfigError(f"escalation.policies.{name}: no steps")
        policies[str(name)] = Policy(str(name), tuple(steps), int((spec or {}).get("repeat") or 0))
    bindings = {str(k): str(v) for k, v in (raw.get("routes") or {}).items()}
    for receiver, policy in bindings.items():
        if policy not in policies:
            raise ConfigError(f"escalation.routes.{receiver}: unknown policy {policy!r}")
    return policies, bindings


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _snapshot(n: Notification) -> dict[str, Any]:
    return {"receiver": n.receiver, "group_key": n.group_key, "group_labels": n.group_labels,
            "status": n.status, "now": n.now, "external_url": n.external_url,
            "alerts": [{"labels": a.labels, "annotations": a.annotations, "starts_at": a.starts_at,
                        "ends_at": a.ends_at, "generator_url": a.generator_url} for a in n.alerts]}


def _restore(raw: dict[str, Any], receiver: str, now: float, step: int) -> Notification:
    alerts = [Alert(a["labels"], a["annotations"], a["starts_at"], a["ends_at"], a["generator_url"], now)
              for a in raw.get("alerts", [])]
    return Notification(receiver, raw["group_key"], raw["group_labels"], alerts, "firing", now,
                        raw.get("external_url", ""), extras={"escalation_step": step + 1})


ESCALATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS acks (group_key TEXT PRIMARY KEY, by TEXT, comment TEXT, at REAL, fingerprints TEXT);
CREATE TABLE IF NOT EXISTS escalations (group_key TEXT PRIMARY KEY, policy TEXT, step INTEGER, next_at REAL,
                                        repeats INTEGER, notification TEXT);
CREATE TABLE IF NOT EXISTS page_retries (id TEXT PRIMARY KEY, group_key TEXT, step INTEGER, target TEXT,
                                         integrations TEXT, attempts INTEGER, first_at REAL, next_at REAL,
                                         notification TEXT);
"""


class EscalationStore:
    """SQLite tables of acknowledgements and running escalations."""

    def __init__(self, path: Path) -> None:
        self._db = open_store(path, ESCALATION_SCHEMA, "escalation store")
        self._lock = threading.Lock()

    def load(self) -> tuple[dict[str, dict[str, Any]], dict[str, Escalation]]:
        with self._lock:
            acks = {g: {"by": b, "comment": c, "at": a, "fingerprints": json.loads(f)}
                    for g, b, c, a, f in self._db.execute("SELECT * FROM acks")}
            escalations = {g: Escalation(g, p, s, n, r, json.loads(x))
                           for g, p, s, n, r, x in self._db.execute("SELECT * FROM escalations")}
        return acks, escalations

    def load_retries(self) -> dict[str, PendingPage]:
        with self._lock:
            rows = self._db.execute("SELECT id, group_key, step, target, integrations, attempts, first_at, "
                                    "next_at, notification FROM page_retries").fetchall()
        out = {}
        for i, g, s, t, keys, a, f, n, x in rows:
            integrations = json.loads(keys)
            out[i] = PendingPage(i, g, s, t, None if integrations is None else tuple(integrations), a, f, n,
                                 json.loads(x))
        return out

    def save_retry(self, page_id: str, page: PendingPage | None) -> None:
        with self._lock:
            if page is None:
                self._db.execute("DELETE FROM page_retries WHERE id = ?", (page_id,))
            else:
                self._db.execute("INSERT OR REPLACE INTO page_retries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (page.id, page.group_key, page.step, page.target,
                                  json.dumps(None if page.integrations is None else list(page.integrations)),
                                  page.attempts, page.first_at, page.next_at, json.dumps(page.notification)))

    def save_ack(self, group_key: str, ack: dict[str, Any] | None) -> None:
        with self._lock:
            if ack is None:
                self._db.execute("DELETE FROM acks WHERE group_key = ?", (group_key,))
            else:
                self._db.execute("INSERT OR REPLACE INTO acks VALUES (?, ?, ?, ?, ?)",
                                 (group_key, ack["by"], ack["comment"], ack["at"], json.dumps(ack["fingerprints"])))

    def save_escalation(self, group_key: str, esc: Escalation | None) -> None:
        with self._lock:
            if esc is None:
                self._db.execute("DELETE FROM escalations WHERE group_key = ?", (group_key,))
            else:
                self._db.execute("INSERT OR REPLACE INTO escalations VALUES (?, ?, ?, ?, ?, ?)",
                                 (group_key, esc.policy, esc.step, esc.next_at, esc.repeats,
                                  json.dumps(esc.notification)))

    def close(self) -> None:
        with self._lock:
            self._db.close()


Deliver = Callable[[Notification], Awaitable[list[DeliveryResult]]]
"""Sends a notification to ``notification.receiver`` (a configured receiver or ``user:<name>``)."""


class EscalationHook:
    """Acknowledgement + escalation (see module docstring); driven by :meth:`tick`."""

    def __init__(self, policies: dict[str, Policy], bindings: dict[str, str], oncall: OnCall,
                 deliver: Deliver, store: EscalationStore, clock: Callable[[], float], external_url: str,
                 metrics: DeliveryMetrics | None = None) -> None:
        self.policies, self.bindings, self.oncall = policies, bindings, oncall
        self.deliver, self.store, self.clock, self.external_url = deliver, store, clock, external_url
        self.metrics = metrics or DeliveryMetrics()
        self.acks, self.escalations = store.load()
        self.retries: dict[str, PendingPage] = store.load_retries()  # id -> failed page awaiting a retry
        self.sent: list[tuple[int, str]] = []  # (step, target) of delivered pages, newest last (the last 1,000)
        self.history: dict[str, list[dict[str, Any]]] = {}  # group key -> events, oldest first (in memory)

    def ack_url(self, group_key: str) -> str:
        """The link notifications carry: the web UI's confirmation page (a GET never acknowledges)."""
        return f"{self.external_url}/ui/ack/{encode_key(group_key)}"

    def record(self, group_key: str, event: str) -> None:
        """Append ``event`` to the group's history (bounded: the newest 50 events of 1,000 groups)."""
        events = self.history.pop(group_key, [])
        events.append({"at": self.clock(), "event": event})
        self.history[group_key] = events[-50:]
        while len(self.history) > 1000:
            self.history.pop(next(iter(self.history)))

    # -- DispatchHook -------------------------------------------------------------------------------
    def on_alerts(self, alerts: Any, now: float) -> None:
        return None

    def before_send(self, notification: Notification) -> Notification | None:
        notification.extras = {**notification.extras, "ack_url": self.ack_url(notification.group_key)}
        ack = self.acks.get(notification.group_key)
        if ack is None or notification.status == "resolved":
            return notification
        firing = {a.fingerprint for a in notification.firing}
        if firing <= set(ack["fingerprints"]):
            return None  # acknowledged and nothing new: no repeats
        self.acks.pop(notification.group_key)  # a new alert fired: the group is open again
        self.store.save_ack(notification.group_key, None)
        self.record(notification.group_key, "re-opened: a new alert fired")
        return notification

    async def after_send(self, notification: Notification, results: list[DeliveryResult]) -> None:
        key = notification.group_key
        if notification.status == "resolved":
            if key in self.escalations or key in self.acks:
                self.record(key, "resolved")
            self._stop(key)
            self._drop_retries(key)
            self.acks.pop(key, None)
            self.store.save_ack(key, None)
            return
        policy = self.bindings.get(notification.receiver)
        if policy is None or notification.retry or key in self.acks or key in self.escalations:
            return  # (a retry of a notification that failed is no news: a finished escalation stays so)
        first = self.policies[policy].steps[0]
        esc = Escalation(key, policy, 0, notification.now + first.wait_s, 0, _snapshot(notification))
        self.escalations[key] = esc
        self.store.save_escalation(key, esc)
        self.record(key, f"escalation started (policy {policy}, sent to {notification.receiver})")

    # -- acknowledgement ----------------------------------------------------------------------------
    def ack(self, group_key: str, by: str, comment: str, fingerprints: list[str]) -> None:
        self.acks[group_key] = {"by": by, "comment": comment, "at": self.clock(), "fingerprints": fingerprints}
        self.store.save_ack(group_key, self.acks[group_key])
        self._stop(group_key)
        self._drop_retries(group_key)
        self.record(group_key, f"acknowledged by {by}" + (f": {comment}" if comment else ""))

    def _stop(self, key: str) -> None:
        if self.escalations.pop(key, None) is not None:
            self.store.save_escalation(key, None)

    def _drop_retries(self, key: str) -> None:
        for page in [p for p in self.retries.values() if p.group_key == key]:
            self._forget(page)

    # -- escalation steps ---------------------------------------------------------------------------
    async def tick(self) -> int:
        """Retry every failed page that is due, then run every due step; returns how many steps ran."""
        now = self.clock()
        for page in sorted(self.retries.values(), key=lambda p: p.next_at):
            if page.next_at <= now and page.id in self.retries:
                await self._page(page.group_key, page.step, page.target, page.notification, now, page)
        ran = 0
        for key, esc in list(self.escalations.items()):
            if esc.next_at > now or key in self.acks:
                continue
            policy = self.policies.get(esc.policy)
            if policy is None:
                self._stop(key)
                continue
            step = policy.steps[esc.step]
            for target in self._targets(step, now):
                await self._page(key, esc.step, target, esc.notification, now, None)
            ran += 1
            esc.step += 1
            if esc.step >= len(policy.steps):
                if esc.repeats >= policy.repeat:
                    self._stop(key)
                    self.record(key, "escalation finished: no steps left")
                    continue
                esc.step, esc.repeats = 0, esc.repeats + 1
            esc.next_at = now + policy.steps[esc.step].wait_s
            self.store.save_escalation(key, esc)
        return ran

    async def _page(self, key: str, step: int, target: str, snapshot: dict[str, Any], now: float,
                    pending: PendingPage | None) -> None:
        """Send step ``step``'s page to ``target`` (a retry of ``pending``: to its integrations still due);
        record it as sent only when every integration delivered, else schedule a retry or give up."""
        notification = _restore(snapshot, target, now, step)
        notification.extras["ack_url"] = self.ack_url(key)
        if pending is not None and pending.integrations is not None:
            notification.integrations = frozenset(pending.integrations)
        try:
            results = await self.deliver(notification)
        except Exception as err:
            log.exception("escalation delivery failed", extra={"target": target})
            results = [DeliveryResult(target, "", False, 1, error=str(err))]
        attempts = 1 if pending is None else pending.attempts + 1
        failed = [r for r in results if not r.ok]
        if pending is not None:
            self._forget(pending)
        if not failed:
            self.sent.append((step, target))
            del self.sent[:-1000]
            self.record(key, f"step {step + 1}: notified {target}" + (f" (attempt {attempts})" if attempts > 1 else ""))
            return
        if any(not r.key for r in failed):  # the whole target failed
            remaining = pending.integrations if pending is not None else None
        else:
            remaining = tuple(sorted(r.key for r in failed))
        errors = "; ".join(r.error for r in failed if r.error)[:300] or "failed"
        first_at = pending.first_at if pending is not None else now
        delay = min(RETRY_FIRST_S * 2 ** (attempts - 1), RETRY_MAX_DELAY_S)
        page = PendingPage(pending.id if pending is not None else uuid.uuid4().hex[:16], key, step, target,
                           remaining, attempts, first_at, now + delay, snapshot)
        if attempts >= RETRY_MAX_ATTEMPTS or page.next_at > first_at + RETRY_FOR_S:
            self._give_up(page, errors)
            return
        self.retries[page.id] = page
        self.store.save_retry(page.id, page)
        self.record(key, f"step {step + 1}: notifying {target} failed ({errors}); retry in {delay:g}s")
        while len(self.retries) > MAX_PENDING:
            self._give_up(min(self.retries.values(), key=lambda p: p.first_at), "too many pages awaiting a retry")

    def _give_up(self, page: PendingPage, why: str) -> None:
        self._forget(page)
        log.error("escalation page given up", extra={"group_key": page.group_key, "target": page.target,
                                                      "step": page.step + 1, "attempts": page.attempts,
                                                      "error": why})
        for integration in page.integrations or ("",):
            self.metrics.gave_up(page.group_key, page.target, integration.split("/")[0], integration)
        self.record(page.group_key, f"step {page.step + 1}: gave up notifying {page.target} after "
                                    f"{page.attempts} attempts ({why})")

    def _forget(self, page: PendingPage) -> None:
        if self.retries.pop(page.id, None) is not None:
            self.store.save_retry(page.id, None)

    def _targets(self, step: Step, now: float) -> list[str]:
        targets = list(step.receivers)
        for schedule in step.oncall:
            try:
                user, _ = self.oncall.who_is_on_call(schedule, now)
            except KeyError:
                log.error("escalation names an unknown schedule", extra={"schedule": schedule})
                continue
            if user is not None:
                targets.append(f"user:{user.name}")
        return targets


ACK_TEXT = '{{ with .Extras.ack_url }}Acknowledge: {{ . }}{{ end }}'
"""The text of on-call pages by email and Slack: the acknowledgement link (Alertmanager's defaults otherwise)."""


def user_receivers(users: dict[str, User], contact: dict[str, Any]) -> list[dict[str, Any]]:
    """Alertmanager-style receivers ``user:<name>`` reaching each user by email, SMS and Slack, using the
    ``contact`` section's channel settings (``email: {smarthost, from, require_tls}``, ``sms: {url, from}``)."""
    out = []
    for user in users.values():
        receiver: dict[str, Any] = {"name": f"user:{user.name}"}
        if user.email and contact.get("email"):
            receiver["email_configs"] = [{**contact["email"], "to": user.email, "send_resolved": True,
                                          "text": ACK_TEXT}]
        if user.phone and contact.get("sms"):
            receiver["sms_configs"] = [{**contact["sms"], "to": user.phone}]
        if user.slack_url:
            receiver["slack_configs"] = [{"api_url": user.slack_url, "send_resolved": True, "text": ACK_TEXT}]
        out.append(receiver)
    return out
