"""The notification system's state shared by the nodes of a notification cluster (tsdb/cluster, docs/scaling.md).

Namespaces in :class:`~tsdb.cluster.state.ReplicatedState`:

- ``nflog``: the notification log (key: JSON ``[group key, receiver, integration]``), so a node that takes
  over dispatching sends neither again what was sent nor less than was due;
- ``silences`` (key: id): created, updated or expired on any node, they mute on all (``amtool`` works against any);
- ``acks``, ``escalations``, ``retries`` (key: group key or page id): acknowledgements from any node stop
  the escalation run by the dispatching node, which a successor continues at the same step;
- ``overrides`` (key: JSON ``[schedule, id]``): on-call overrides created over any node's API.

Each node still keeps everything in its own SQLite stores (a restart without etcd loses nothing). A change
from another node is applied to the node's memory and its local store, never published back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tsdb.alerting.dispatcher import Dispatcher, NflogEntry
from tsdb.alerting.escalation import Escalation, EscalationHook, EscalationStore, PendingPage
from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.model import DeliveryResult, Notification
from tsdb.alerting.oncall import Override
from tsdb.alerting.oncall_store import OverrideStore
from tsdb.alerting.silences import Silence, recurrence_of
from tsdb.alerting.store import AlertingStore
from tsdb.cluster.state import ReplicatedState

log = logging.getLogger("tsdb.cluster")

FLUSH_AFTER_SEND_S = 2.0
"""How long a delivery waits for its notification log entry to reach etcd (shortens the window in which a
node killed right after a delivery leaves its successor to send it again)."""


# -- codecs -------------------------------------------------------------------------------------------
def nflog_json(entry: NflogEntry) -> dict[str, Any]:
    return {"firing": sorted(entry.firing), "resolved": sorted(entry.resolved), "at": entry.at}


def nflog_from_json(raw: dict[str, Any]) -> NflogEntry:
    return NflogEntry(frozenset(raw["firing"]), frozenset(raw["resolved"]), float(raw["at"]))


def silence_json(s: Silence) -> dict[str, Any]:
    return {"id": s.id, "matchers": "{" + ",".join(str(m) for m in s.matchers) + "}", "starts_at": s.starts_at,
            "ends_at": s.ends_at, "created_by": s.created_by, "comment": s.comment, "updated_at": s.updated_at,
            "recurrence": s.recurrence_raw}


def silence_from_json(raw: dict[str, Any]) -> Silence:
    specs, recurrence = recurrence_of(raw.get("recurrence") or [])
    return Silence(str(raw["id"]), parse_matchers(raw["matchers"]), float(raw["starts_at"]), float(raw["ends_at"]),
                   str(raw.get("created_by", "")), str(raw.get("comment", "")), float(raw["updated_at"]), specs,
                   recurrence)


# -- the notification log and silences ---------------------------------------------------------------------
class _FlushAfterSend:
    """A dispatcher hook: after each delivery, wait (briefly) until its log entry is in etcd."""

    def __init__(self, state: ReplicatedState) -> None:
        self.state = state

    def on_alerts(self, alerts: Any, now: float) -> None:
        return None

    def before_send(self, notification: Notification) -> Notification | None:
        return notification

    async def after_send(self, notification: Notification, results: list[DeliveryResult]) -> None:
        await self.state.flush(FLUSH_AFTER_SEND_S)


def share_notifications(state: ReplicatedState, dispatcher: Dispatcher, store: AlertingStore,
                        is_active: Callable[[], bool]) -> None:
    """Send only while ``is_active()``, and share the notification log and silences (see module docstring)."""
    dispatcher.active = is_active

    def logged(group_key: str, receiver: str, integration: str, entry: NflogEntry) -> None:
        store.save_nflog(group_key, receiver, integration, entry)
        state.publish("nflog", json.dumps([group_key, receiver, integration]), nflog_json(entry))

    def forgotten(keys: list[tuple[str, str, str]]) -> None:
        store.forget_nflog(keys)
        for key in keys:
            state.publish("nflog", json.dumps(list(key)), None)

    def apply_nflog(key: str, value: Any) -> None:
        group_key, receiver, integration = json.loads(key)
        k = (group_key, receiver, integration)
        entry = None if value is None else nflog_from_json(value)
        if not dispatcher.merge_log(k, entry):
            return
        if entry is None:
            store.forget_nflog([k])
        else:
            store.save_nflog(group_key, receiver, integration, entry)

    dispatcher.on_log, dispatcher.on_forget = logged, forgotten
    state.register("nflog", apply_nflog, offer_local=lambda: {
        json.dumps(list(k)): nflog_json(e) for k, e in list(dispatcher.nflog.items())})

    silences = dispatcher.silences

    def silence_changed(silence: Silence) -> None:
        store.save_silence(silence)
        state.publish("silences", silence.id, silence_json(silence))

    def apply_silence(key: str, value: Any) -> None:
        if value is None:
            return  # silences expire, they are never deleted
        silence = silence_from_json(value)
        if silences.merge(silence):
            store.save_silence(silence)

    silences.on_change = silence_changed
    state.register("silences", apply_silence, offer_local=lambda: {s.id: silence_json(s) for s in silences.all()})
    dispatcher.add_hook(_FlushAfterSend(state))


# -- acknowledgements, escalations, page retries ------------------------------------------------------------
class SharedEscalationStore(EscalationStore):
    """The escalation store, publishing every change to the cluster too."""

    def __init__(self, path: Path, state: ReplicatedState) -> None:
        super().__init__(path)
        self.state = state

    def save_ack(self, group_key: str, ack: dict[str, Any] | None) -> None:
        super().save_ack(group_key, ack)
        self.state.publish("acks", group_key, ack)

    def save_escalation(self, group_key: str, esc: Escalation | None) -> None:
        super().save_escalation(group_key, esc)
        self.state.publish("escalations", group_key, None if esc is None else dataclasses.asdict(esc))

    def save_retry(self, page_id: str, page: PendingPage | None) -> None:
        super().save_retry(page_id, page)
        self.state.publish("retries", page_id, None if page is None else dataclasses.asdict(page))


def share_escalation(state: ReplicatedState, hook: EscalationHook, store: SharedEscalationStore) -> None:
    """Apply other nodes' acknowledgements, escalation positions and page retries to ``hook`` and ``store``."""
    local = EscalationStore  # the unshared methods: what another node did is not published back

    def apply_ack(key: str, value: Any) -> None:
        if value is None:
            hook.acks.pop(key, None)
        else:
            known = key in hook.acks
            hook.acks[key] = value
            if not known:
                hook.record(key, f"acknowledged by {value.get('by', '')} (on another node)")
        local.save_ack(store, key, value)

    def apply_escalation(key: str, value: Any) -> None:
        if value is None:
            hook.escalations.pop(key, None)
            local.save_escalation(store, key, None)
            return
        esc = Escalation(**value)
        hook.escalations[key] = esc
        local.save_escalation(store, key, esc)

    def apply_retry(key: str, value: Any) -> None:
        if value is None:
            hook.retries.pop(key, None)
            local.save_retry(store, key, None)
            return
        integrations = value.get("integrations")
        page = PendingPage(**{**value, "integrations": None if integrations is None else tuple(integrations)})
        hook.retries[key] = page
        local.save_retry(store, key, page)

    state.register("acks", apply_ack, offer_local=lambda: dict(hook.acks))
    state.register("escalations", apply_escalation, offer_local=lambda: {
        k: dataclasses.asdict(e) for k, e in hook.escalations.items()})
    state.register("retries", apply_retry)


# -- on-call overrides ---------------------------------------------------------------------------------------
def override_key(schedule: str, override_id: str) -> str:
    return json.dumps([schedule, override_id])


def override_json(override: Override) -> dict[str, Any]:
    return dataclasses.asdict(override)


def share_overrides(state: ReplicatedState, store: OverrideStore,
                    runtime: Callable[[], dict[str, list[Override]]],
                    set_runtime: Callable[[dict[str, list[Override]]], None]) -> None:
    """Apply on-call overrides created or deleted on other nodes (the owner publishes its own with
    :func:`override_key` and :func:`override_json`)."""

    def apply(key: str, value: Any) -> None:
        schedule, override_id = json.loads(key)
        current = runtime()
        kept = [o for o in current.get(schedule, []) if o.id != override_id]
        if value is None:
            store.delete(schedule, override_id)
            set_runtime({**current, schedule: kept})
            return
        override = Override(**value)
        with contextlib.suppress(sqlite3.IntegrityError):  # already stored (applied before)
            store.add(schedule, override)
        set_runtime({**current, schedule: sorted([*kept, override], key=lambda o: (o.created_at, o.id))})

    state.register("overrides", apply, offer_local=lambda: {
        override_key(schedule, o.id): override_json(o) for schedule, items in runtime().items() for o in items})
