"""Acknowledgement and escalation: an unacknowledged firing group climbs its policy's steps.

A policy is an ordered list of steps (``wait`` then notify ``receivers`` and/or the current on-call
person of ``oncall`` schedules), run ``repeat`` extra times. The hook (a :class:`DispatchHook`) starts an
escalation when a firing notification for a bound receiver went out, adds ``extras["ack_url"]`` to every
notification, stops on resolve or acknowledgement, suppresses repeats of acknowledged groups, and re-opens
a group when a new alert fires in it. State (acks, escalations) is kept in SQLite and survives restarts.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsdb.alerting.model import Alert, DeliveryResult, Notification
from tsdb.alerting.oncall import OnCall, User
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
                 deliver: Deliver, store: EscalationStore, clock: Callable[[], float], external_url: str) -> None:
        self.policies, self.bindings, self.oncall = policies, bindings, oncall
        self.deliver, self.store, self.clock, self.external_url = deliver, store, clock, external_url
        self.acks, self.escalations = store.load()
        self.sent: list[tuple[int, str]] = []  # (step, target) of escalation sends, for status and tests
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
            self.acks.pop(key, None)
            self.store.save_ack(key, None)
            return
        policy = self.bindings.get(notification.receiver)
        if policy is None or key in self.acks or key in self.escalations:
            return
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
        self.record(group_key, f"acknowledged by {by}" + (f": {comment}" if comment else ""))

    def _stop(self, key: str) -> None:
        if self.escalations.pop(key, None) is not None:
            self.store.save_escalation(key, None)

    # -- escalation steps ---------------------------------------------------------------------------
    async def tick(self) -> int:
        """Run every due step; returns how many steps ran."""
        now = self.clock()
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
                notification = _restore(esc.notification, target, now, esc.step)
                notification.extras["ack_url"] = self.ack_url(key)
                try:
                    await self.deliver(notification)
                except Exception:
                    log.exception("escalation delivery failed", extra={"target": target})
                self.sent.append((esc.step, target))
                self.record(key, f"step {esc.step + 1}: notified {target}")
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
