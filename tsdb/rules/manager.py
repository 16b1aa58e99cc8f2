"""The rule manager: loads rule files, runs every group on its interval, persists alert state, notifies.

Each group runs at ``k * interval + offset`` with a per-group offset derived from its name and file (a
stable phase, so restarts keep the schedule); a group that overruns skips the ticks it missed and counts
them. :meth:`RuleManager.tick` evaluates the groups due at a time (tests drive it with their own clock);
:meth:`run` loops in a thread. Alert state (active-since, firing, keep-firing deadline) is written to
``<state_dir>/rules-state.json`` after each evaluation that changed it and restored on start, so a restart
never turns a firing alert back to pending or fires it twice. :meth:`reload` re-reads the files and keeps
the state of rules whose definition did not change. Alerts go to the notifiers with the external labels added and
then ``alert_relabel`` applied (Prometheus's ``alert_relabel_configs``); an alert the relabelling drops goes to
no notifier.

With a :class:`GroupPlacement` (a cluster spreading rule groups over its members) this manager evaluates only
the groups placed on this node. A group placed here restores its alert state from the placement's shared copy
(what the previous evaluator last published), as after a restart; a group placed elsewhere forgets its alert
state here, without sending resolved alerts (its new evaluator goes on sending them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from tsdb.alerting.model import Alert as Notification
from tsdb.alerting.model import Notifier
from tsdb.rules.alerting import Alert, AlertingRuleState
from tsdb.rules.group import RESEND_DELAY_MS, GroupState, QueryFunc, RecordingRuleState
from tsdb.rules.loader import RuleGroup, load_rule_files
from tsdb.scrape.relabel import RelabelRule, relabel
from tsdb.storage.fileutil import atomic_write
from tsdb.storage.interfaces import Appendable

log = logging.getLogger("tsdb.rules")

STATE_FILE = "rules-state.json"


class GroupPlacement(Protocol):
    """Where each rule group is evaluated in a cluster (keys: :func:`group_key`)."""

    def evaluator(self, key: str) -> str:
        """The node evaluating the group now ("" while unknown: no node does)."""
        ...

    def evaluates(self, key: str) -> bool:
        """Whether this node evaluates the group now."""
        ...

    def saved(self, key: str) -> dict[str, list[dict[str, Any]]] | None:
        """The group's alert state as its evaluator last published it (rule key -> alert states)."""
        ...

    def save(self, key: str, state: dict[str, list[dict[str, Any]]]) -> None:
        """Publish the group's alert state (called after each evaluation here; publish only changes)."""
        ...


def group_key(group: GroupState) -> str:
    """A group's identity across nodes: ``file;name`` (Prometheus's group key)."""
    return f"{group.group.file};{group.group.name}"


class RuleManager:
    """Owns the rule groups of a server (or of an embedded DB). Thread-safe."""

    def __init__(self, patterns: Sequence[str], query: QueryFunc, appendable: Appendable,
                 notifiers: Sequence[Notifier] = (), *, interval_ms: int = 60_000,
                 external_labels: dict[str, str] | None = None, external_url: str = "",
                 state_dir: Path | None = None, resend_delay_ms: int = RESEND_DELAY_MS,
                 clock: Callable[[], float] = time.time, base_dir: Path | None = None,
                 generated: Callable[[], list[RuleGroup]] | None = None,
                 alert_relabel: Sequence[RelabelRule] = (), placement: GroupPlacement | None = None) -> None:
        self.patterns = list(patterns)
        self.generated = generated  # groups run alongside the rule files' (the server's SLO rules)
        self.query = query
        self.appendable = appendable
        self.notifiers = list(notifiers)
        self.interval_ms = interval_ms
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url
        self.alert_relabel = tuple(alert_relabel)
        self.placement = placement
        self._placed_here: set[str] = set()  # groups this node evaluates (with a placement)
        self.state_dir = state_dir
        self.resend_delay_ms = resend_delay_ms
        self.clock = clock
        self.base_dir = base_dir
        self.groups: list[GroupState] = []
        self._next_due: dict[tuple[str, str], int] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._install(self._load())
        self._restore()

    def _load(self) -> list[RuleGroup]:
        groups = load_rule_files(self.patterns, self.base_dir)
        return groups + (self.generated() if self.generated is not None else [])

    # -- configuration ------------------------------------------------------------------------------
    def _install(self, groups: list[RuleGroup]) -> None:
        previous: dict[tuple[str, ...], Any] = {}
        for g in self.groups:
            for state in g.rules:
                previous[(g.group.file, g.group.name, *state.rule.key())] = state
        self.groups = [GroupState.build(g, self.interval_ms, previous) for g in groups]

    def reload(self) -> None:
        """Re-read the rule files; unchanged rules keep their state. Raises ConfigError (state kept)."""
        self.apply(self._load())

    def apply(self, groups: list[RuleGroup], *, patterns: Sequence[str] | None = None,
              interval_ms: int | None = None, resend_delay_ms: int | None = None,
              notifiers: Sequence[Notifier] | None = None,
              generated: Callable[[], list[RuleGroup]] | None = None,
              alert_relabel: Sequence[RelabelRule] | None = None) -> None:
        """Install already loaded ``groups`` (unchanged rules keep their state) and, when given, new rule file
        patterns, default interval, resend delay, notifiers, generated groups and alert relabelling (a server
        reload, validated beforehand)."""
        with self._lock:
            if patterns is not None:
                self.patterns = list(patterns)
            if interval_ms is not None:
                self.interval_ms = interval_ms
            if resend_delay_ms is not None:
                self.resend_delay_ms = resend_delay_ms
            if notifiers is not None:
                self.notifiers = list(notifiers)
            if generated is not None:
                self.generated = generated
            if alert_relabel is not None:
                self.alert_relabel = tuple(alert_relabel)
            self._install(groups)
        log.info("rules reloaded", extra={"groups": len(groups), "rules": sum(len(g.rules) for g in groups)})

    def offset_ms(self, group: GroupState) -> int:
        """The group's stable phase within its interval."""
        digest = hashlib.blake2b(f"{group.group.file}\x00{group.group.name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % group.interval_ms

    # -- evaluation ---------------------------------------------------------------------------------
    def tick(self, now_ms: int | None = None) -> int:
        """Evaluate every group due at ``now_ms`` (default: the clock); returns how many ran."""
        now = int(self.clock() * 1000) if now_ms is None else now_ms
        ran = 0
        with self._lock:
            for group in self.groups:
                key = (group.group.file, group.group.name)
                interval, offset = group.interval_ms, self.offset_ms(group)
                slot = (now - offset) // interval * interval + offset  # the latest evaluation time <= now
                due = self._next_due.get(key)
                if due is not None and slot < due:
                    continue
                if self.placement is not None and not self._placed(group):
                    self._next_due[key] = slot + interval  # (no missed iterations counted while elsewhere)
                    continue
                if due is not None and slot > due:
                    group.missed_iterations += (slot - due) // interval
                self._next_due[key] = slot + interval
                states = group.evaluate(slot, self.query, self.appendable, self.external_labels,
                                        self.external_url)
                self._notify(states, slot)
                if self.placement is not None:
                    self.placement.save(group_key(group), self._alert_state(group))
                ran += 1
            if ran:
                self._persist()
        return ran

    def _placed(self, group: GroupState) -> bool:
        """Whether this node evaluates ``group`` now; takes over or lets go of its alert state on a change."""
        assert self.placement is not None
        key = group_key(group)
        here = self.placement.evaluates(key)
        if here and key not in self._placed_here:
            self._placed_here.add(key)
            saved = self.placement.saved(key)
            if saved is not None:
                self._load_alert_state(group, saved)
            log.info("rule group placed on this node", extra={"group": group.group.name, "file": group.group.file})
        elif not here and key in self._placed_here:
            self._placed_here.discard(key)
            for state in group.rules:
                if isinstance(state, AlertingRuleState):
                    state.alerts.clear()
            log.info("rule group placed on another node", extra={"group": group.group.name,
                                                                  "evaluator": self.placement.evaluator(key)})
        return here

    def evaluator(self, group: GroupState) -> str:
        """The node evaluating ``group`` ("" without a placement: this one)."""
        return "" if self.placement is None else self.placement.evaluator(group_key(group))

    def _notify(self, states: list[AlertingRuleState], t: int) -> None:
        """Send alerts as Prometheus does: on firing and then every resend delay; resolved ones for 15 m."""
        batch: list[Notification] = []
        for state in states:
            for alert in state.alerts.values():
                if alert.state == "pending":
                    continue
                if alert.state == "inactive" and alert.last_sent_at >= alert.resolved_at:
                    if t - alert.last_sent_at < self.resend_delay_ms:
                        continue
                elif alert.state == "firing" and alert.last_sent_at >= alert.fired_at and \
                        t - alert.last_sent_at < self.resend_delay_ms:
                    continue
                # counts as sent even when relabelling drops it, as in Prometheus (the resend clock runs on)
                alert.last_sent_at = t
                notification = self.relabelled(self.to_notification(alert, t))
                if notification is not None:
                    batch.append(notification)
        if batch:
            for notifier in self.notifiers:
                try:
                    notifier.send(batch)
                except Exception:
                    log.exception("notifier failed")

    def to_notification(self, alert: Alert, t: int) -> Notification:
        """An alert as notifiers see it (Prometheus sets endsAt to 4 resend delays ahead while firing)."""
        labels = {**self.external_labels, **alert.labels.to_dict()}
        ends = alert.resolved_at / 1000 if alert.state == "inactive" else (t + 4 * self.resend_delay_ms) / 1000
        expr = next((s.rule.expr_text for g in self.groups for s in g.rules if s.rule.name == alert.labels.get(
            "alertname")), "")
        url = f"{self.external_url}/graph?g0.expr={_quote(expr)}&g0.tab=1" if self.external_url else ""
        return Notification(labels, dict(alert.annotations), alert.active_at / 1000, ends, url, t / 1000)

    def relabelled(self, notification: Notification) -> Notification | None:
        """``notification`` after ``alert_relabel`` (a new value; the argument is not changed), or None when
        the relabelling drops it."""
        if not self.alert_relabel:
            return notification
        labels = relabel(notification.labels, self.alert_relabel)
        return None if labels is None else dataclasses.replace(notification, labels=labels)

    def run(self) -> None:
        """Evaluate due groups until :meth:`stop` (checks twice a second)."""
        while not self._stop.wait(0.5):
            try:
                self.tick()
            except Exception:
                log.exception("rule evaluation failed")

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="tsdb-rules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with self._lock:
            self._persist()

    # -- state ----------------------------------------------------------------------------------------
    def _persist(self) -> None:
        if self.state_dir is None:
            return
        doc: dict[str, Any] = {"version": 1, "rules": {}}
        for group in self.groups:
            doc["rules"].update(self._alert_state(group))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / STATE_FILE
        atomic_write(path, json.dumps(doc), tmp_name=path.with_suffix(".tmp").name)

    def _restore(self) -> None:
        """Load the saved alert state; a temporary file a killed save left behind is removed, never read."""
        if self.state_dir is None:
            return
        path = self.state_dir / STATE_FILE
        with contextlib.suppress(OSError):
            path.with_suffix(".tmp").unlink(missing_ok=True)
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:
            log.error("cannot read alert state, starting empty", extra={"path": str(path), "error": str(err)})
            return
        saved = doc.get("rules") or {}
        for group in self.groups:
            self._load_alert_state(group, saved)

    @staticmethod
    def _alert_state(group: GroupState) -> dict[str, list[dict[str, Any]]]:
        """The group's alert state: rule key (JSON of file, group, rule) -> its alerts' states."""
        out = {}
        for state in group.rules:
            if isinstance(state, AlertingRuleState) and state.alerts:
                key = json.dumps([group.group.file, group.group.name, *state.rule.key()])
                out[key] = [a.to_state() for a in state.alerts.values()]
        return out

    @staticmethod
    def _load_alert_state(group: GroupState, saved: dict[str, list[dict[str, Any]]]) -> None:
        """Put ``saved`` alert states (as :meth:`_alert_state` makes them) into the group's alerting rules."""
        for state in group.rules:
            if not isinstance(state, AlertingRuleState):
                continue
            key = json.dumps([group.group.file, group.group.name, *state.rule.key()])
            entries = saved.get(key)
            if entries is None:
                continue
            state.alerts.clear()
            for raw in entries:
                alert = Alert.from_state(raw)
                state.alerts[alert.labels] = alert

    # -- status for the HTTP API ----------------------------------------------------------------------
    def rule_states(self) -> list[tuple[GroupState, list[RecordingRuleState | AlertingRuleState]]]:
        with self._lock:
            return [(g, list(g.rules)) for g in self.groups]

    def active_alerts(self) -> list[tuple[AlertingRuleState, Alert]]:
        with self._lock:
            return [(s, a) for g in self.groups for s in g.rules if isinstance(s, AlertingRuleState)
                    for a in s.active()]


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")

