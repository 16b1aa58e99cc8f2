"""Acknowledgement, escalation and on-call as a server component (``notifications.escalation`` and
``notifications.oncall``): the hook on the dispatcher, its step loop, and the HTTP endpoints
``GET /api/v1/alerts/groups/{key}`` (a group, its escalation and history), ``POST /api/v1/alerts/groups/{key}/ack``,
``GET /api/v1/oncall``, ``GET /api/v1/oncall/{schedule}?at=``, ``GET /api/v1/oncall/{schedule}/timeline``,
``POST /api/v1/oncall/{schedule}/overrides``, ``DELETE /api/v1/oncall/{schedule}/overrides/{id}``,
``GET /api/v1/escalations``.

On-call overrides created over the API are stored in ``<data dir>/alerting/oncall.sqlite`` and merged in
front of the config's overrides (newest first), so escalations to on-call users see them too.

Always built with the notification system, so every notification carries an acknowledgement link (to the
web UI's confirmation page ``/ui/ack/<key>``) and acknowledgements work without any policy. A ``GET`` of the
acknowledgement endpoint never acknowledges (link previewers fetch links): it redirects to that page. A reload
applies new policies, routes, users, schedules and contact settings; acknowledgements and running escalations
are kept."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from typing import Any

from aiohttp import web

from tsdb.alerting.escalation import (
    EscalationHook,
    EscalationStore,
    Policy,
    decode_key,
    parse_policies,
    user_receivers,
)
from tsdb.alerting.model import DeliveryResult, Notification
from tsdb.alerting.oncall import OnCall, Override, parse_oncall
from tsdb.alerting.oncall_store import OverrideStore
from tsdb.alerting.oncall_timeline import Segment, handoffs, timeline
from tsdb.alerting.receivers import ReceiverSet, build_receivers
from tsdb.config import ServerConfig
from tsdb.errors import InvalidArgumentError
from tsdb.server.auth import parse_basic
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext, run_every
from tsdb.server.components.groups import group_json
from tsdb.server.params import parse_time
from tsdb.server.shared_alerting import (
    SharedEscalationStore,
    override_json,
    override_key,
    share_escalation,
    share_overrides,
)
from tsdb.timefmt import format_rfc3339, parse_rfc3339


class EscalationComponent:
    name = "escalation"

    def __init__(self, context: ServerContext, section: dict[str, Any]) -> None:
        self.context = context
        assert context.services.dispatcher is not None, "escalation is built after notifications"
        self.dispatcher = context.services.dispatcher
        self.raw = _own(section)
        assert context.services.receivers is not None, "escalation is built after notifications"
        self.metrics = context.services.receivers.metrics  # the notification system's counters
        policies, bindings, self.config_oncall, self.user_receivers = self._parse(section)
        self.override_store = OverrideStore(context.db.path / "alerting" / "oncall.sqlite")
        self.runtime_overrides = self.override_store.load()
        self.oncall = self.config_oncall.with_runtime_overrides(self.runtime_overrides)
        self.cluster = context.services.cluster
        path = context.db.path / "alerting" / "escalation.sqlite"
        store = SharedEscalationStore(path, self.cluster.state) if self.cluster else EscalationStore(path)
        self.hook = EscalationHook(policies, bindings, self.oncall, self._deliver, store, time.time,
                                   context.external_url, self.metrics)
        self.store = store
        if self.cluster is not None and isinstance(store, SharedEscalationStore):
            share_escalation(self.cluster.state, self.hook, store)
            share_overrides(self.cluster.state, self.override_store, lambda: self.runtime_overrides,
                            self._set_runtime_overrides)
        self.dispatcher.add_hook(self.hook)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _parse(self, section: dict[str, Any]) -> tuple[dict[str, Policy], dict[str, str], OnCall, ReceiverSet]:
        escalation = section.get("escalation") or {}
        policies, bindings = parse_policies(escalation)
        oncall = parse_oncall(section.get("oncall"))
        users = build_receivers(user_receivers(oncall.users, escalation.get("contact") or {}),
                                global_config={}, templates=[], base_dir=None,
                                external_url=self.context.external_url, metrics=self.metrics)
        return policies, bindings, oncall, users

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        section = dict(config.notifications or {})
        if _own(section) == self.raw:
            return UNCHANGED
        policies, bindings, oncall, users = self._parse(section)

        async def apply() -> None:
            old = self.user_receivers
            self.raw, self.config_oncall, self.user_receivers = _own(section), oncall, users
            self.hook.policies, self.hook.bindings = policies, bindings
            self._merge_overrides()
            await old.close()

        return Reload(apply, users.close)

    def _set_runtime_overrides(self, overrides: dict[str, list[Override]]) -> None:
        self.runtime_overrides = overrides
        self._merge_overrides()

    def _merge_overrides(self) -> None:
        """Put the config's schedules plus the runtime overrides in effect (API and escalation alike)."""
        self.oncall = self.config_oncall.with_runtime_overrides(self.runtime_overrides)
        self.hook.oncall = self.oncall

    async def _deliver(self, notification: Notification) -> list[DeliveryResult]:
        if notification.receiver.startswith("user:"):
            return await self.user_receivers.notify(notification)
        receivers = self.context.services.receivers
        assert receivers is not None
        result: list[DeliveryResult] = await receivers.notify(notification)
        return result

    def routes(self) -> list[web.AbstractRouteDef]:
        ack = "/api/v1/alerts/groups/{key}/ack"
        return [web.post(ack, self.ack), web.get(ack, self.ack_page),
                web.get("/api/v1/alerts/groups/{key}", self.group),
                web.get("/api/v1/oncall", self.schedules),
                web.get("/api/v1/oncall/{schedule}", self.who),
                web.get("/api/v1/oncall/{schedule}/timeline", self.timeline_api),
                web.post("/api/v1/oncall/{schedule}/overrides", self.add_override),
                web.delete("/api/v1/oncall/{schedule}/overrides/{id}", self.delete_override),
                web.get("/api/v1/escalations", self.list)]

    async def schedules(self, request: web.Request) -> web.Response:
        """Every schedule: who is on call now (and why), the hand-offs of the next 7 days, its overrides."""
        now = time.time()
        out = []
        for name, schedule in sorted(self.oncall.schedules.items()):
            user, source = self.oncall.who_is_on_call(name, now)
            out.append({"schedule": name, "user": user.name if user else None, "source": source,
                        "handoffs": [{**h, "at": format_rfc3339(h["at"], "iso", "+00:00")}
                                     for h in handoffs(self.oncall, name, now, now + 7 * 86400)[:20]],
                        "overrides": [_override_json(o) for o in schedule.overrides if o.end > now],
                        "layers": len(schedule.layers)})
        return web.json_response({"status": "success", "data": out})

    async def timeline_api(self, request: web.Request) -> web.Response:
        """Final, per-layer and override segments and hand-offs of a schedule over ``[start, end)`` (unix
        seconds or RFC 3339; default now and 7 days later)."""
        name = request.match_info["schedule"]
        if name not in self.oncall.schedules:
            return _error(f"unknown schedule {name!r}", 404)
        try:
            start = _query_time(request.query["start"], "start") if "start" in request.query else time.time()
            end = _query_time(request.query["end"], "end") if "end" in request.query else start + 7 * 86400
        except InvalidArgumentError as err:
            return _error(str(err), 400)
        try:
            tl = timeline(self.oncall, name, start, end)
        except ValueError as err:
            return _error(f'invalid parameter "end": {err}', 400)
        schedule = self.oncall.schedules[name]

        def seg(s: Segment) -> dict[str, Any]:
            return {"user": s.user, "start": _iso(s.start), "end": _iso(s.end), "source": s.source,
                    **({"override_id": s.override_id} if s.override_id else {})}

        layers = [{"index": i, "name": f"layer {i}", "users": list(layer.users), "shift_seconds": layer.shift_s,
                   "time_zone": layer.zone, "segments": [seg(s) for s in tl.layers[i]]}
                  for i, layer in enumerate(schedule.layers)]
        data = {"schedule": name, "start": _iso(tl.start), "end": _iso(tl.end), "now": _iso(time.time()),
                "users": sorted(self.oncall.users), "layers": layers,
                "overrides": [_override_json(o) for o in tl.overrides],
                "final": [seg(s) for s in tl.final],
                "handoffs": [{"at": _iso(h.at), "from": h.from_user, "to": h.to_user, "source": h.source}
                             for h in tl.handoffs]}
        return web.json_response({"status": "success", "data": data})

    async def add_override(self, request: web.Request) -> web.Response:
        """Create a runtime override from JSON ``{user, start, end, created_by?, comment?}``."""
        name = request.match_info["schedule"]
        if name not in self.oncall.schedules:
            return _error(f"unknown schedule {name!r}", 404)
        try:
            body: Any = await request.json()
        except ValueError as err:
            return _error(f"invalid JSON: {err}", 400)
        if not isinstance(body, dict):
            return _error("the body must be a JSON object {user, start, end, created_by, comment}", 400)
        user = str(body.get("user") or "")
        if user not in self.oncall.users:
            return _error(f"unknown user {user!r}" if user else 'missing "user"', 400)
        try:
            start = _body_time(body, "start")
            end = _body_time(body, "end")
        except InvalidArgumentError as err:
            return _error(str(err), 400)
        if end <= start:
            return _error('"end" must be after "start"', 400)
        credentials = parse_basic(request.headers.get("Authorization", ""))
        created_by = str(body.get("created_by") or (credentials[0] if credentials else ""))[:200]
        override = Override(user, start, end, uuid.uuid4().hex[:12], True, created_by,
                            str(body.get("comment") or "")[:2000], time.time())
        await asyncio.get_running_loop().run_in_executor(self.context.executor, self.override_store.add,
                                                         name, override)
        self.runtime_overrides = {**self.runtime_overrides,
                                  name: [*self.runtime_overrides.get(name, []), override]}
        self._merge_overrides()
        if self.cluster is not None:
            self.cluster.state.publish("overrides", override_key(name, override.id), override_json(override))
        return web.json_response({"status": "success", "data": _override_json(override)})

    async def delete_override(self, request: web.Request) -> web.Response:
        """Delete a runtime override; config overrides are read-only (400)."""
        name, override_id = request.match_info["schedule"], request.match_info["id"]
        if name not in self.oncall.schedules:
            return _error(f"unknown schedule {name!r}", 404)
        if any(o.id == override_id and not o.runtime for o in self.oncall.schedules[name].overrides):
            return _error(f"override {override_id!r} comes from the config file and is read-only; "
                          "change the config file to remove it", 400)
        if not any(o.id == override_id for o in self.runtime_overrides.get(name, [])):
            return _error(f"schedule {name!r} has no override {override_id!r}", 404)
        await asyncio.get_running_loop().run_in_executor(self.context.executor, self.override_store.delete,
                                                         name, override_id)
        self.runtime_overrides = {**self.runtime_overrides,
                                  name: [o for o in self.runtime_overrides[name] if o.id != override_id]}
        self._merge_overrides()
        if self.cluster is not None:
            self.cluster.state.publish("overrides", override_key(name, override_id), None)
        return web.json_response({"status": "success", "data": {"id": override_id}})

    async def ack_page(self, request: web.Request) -> web.Response:
        """A GET never acknowledges: it sends the browser to the confirmation page."""
        raise web.HTTPSeeOther(f"/ui/ack/{request.match_info['key']}")

    async def group(self, request: web.Request) -> web.Response:
        try:
            group_key = decode_key(request.match_info["key"])
        except KeyError:
            return web.json_response({"status": "error", "error": "unknown group key"}, status=404)
        data = group_json(self.dispatcher, self.hook, group_key)
        if data is None:
            return web.json_response({"status": "error", "error": f"no active group {group_key}"}, status=404)
        return web.json_response({"status": "success", "data": data})

    async def ack(self, request: web.Request) -> web.Response:
        """Acknowledge (form or JSON body: ``by``, ``comment``)."""
        try:
            group_key = decode_key(request.match_info["key"])
        except KeyError:
            return web.json_response({"status": "error", "error": "unknown group key"}, status=404)
        group = self.dispatcher.groups.get(group_key)
        if group is None:
            return web.json_response({"status": "error", "error": f"no active group {group_key}"}, status=404)
        if request.content_type == "application/json":
            try:
                form: Any = await request.json()
            except ValueError as err:
                return web.json_response({"status": "error", "error": f"invalid JSON: {err}"}, status=400)
            form = form if isinstance(form, dict) else {}
        else:
            form = await request.post()
        by = str(form.get("by") or "web")
        self.hook.ack(group_key, by, str(form.get("comment") or ""), sorted(group.alerts))
        return web.json_response({"status": "success", "data": {"groupKey": group_key, "by": by}})

    async def who(self, request: web.Request) -> web.Response:
        schedule = request.match_info["schedule"]
        at_text = request.query.get("at")
        try:
            at = time.time() if not at_text else (float(at_text) if at_text.replace(".", "").isdigit() else
                                                  parse_rfc3339(at_text))
            user, source = self.oncall.who_is_on_call(schedule, at)
        except KeyError:
            return web.json_response({"status": "error", "error": f"unknown schedule {schedule!r}"}, status=404)
        except ValueError as err:
            return web.json_response({"status": "error", "error": f"invalid parameter \"at\": {err}"}, status=400)
        data: dict[str, Any] = {"schedule": schedule, "at": format_rfc3339(at, "iso", "+00:00"),
                                "source": source, "user": None}
        if user is not None:
            data["user"] = {"name": user.name, "email": user.email, "phone": user.phone, "slack": bool(user.slack_url)}
        return web.json_response({"status": "success", "data": data})

    async def list(self, request: web.Request) -> web.Response:
        """Running escalations, acknowledgements, and every active group with its step and history."""
        out = [{"groupKey": e.group_key, "policy": e.policy, "step": e.step, "nextAt": e.next_at,
                "repeats": e.repeats} for e in self.hook.escalations.values()]
        acks = [{"groupKey": k, **v} for k, v in self.hook.acks.items()]
        groups = [g for key in sorted(self.dispatcher.groups)
                  if (g := group_json(self.dispatcher, self.hook, key)) is not None]
        return web.json_response({"status": "success", "data": {"escalations": out, "acks": acks, "groups": groups}})

    async def _tick(self) -> None:
        if self.cluster is None or self.cluster.is_active():  # in a cluster, the dispatching node escalates
            await self.hook.tick()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            run_every(self._stop, 0.5, self._tick, "escalation steps"))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.user_receivers.close()
        self.store.close()
        self.override_store.close()


def _iso(seconds: float) -> str:
    return format_rfc3339(seconds, "iso", "+00:00")


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"status": "error", "errorType": "bad_data" if status == 400 else "not_found",
                              "error": message}, status=status)


def _override_json(o: Override) -> dict[str, Any]:
    return {"id": o.id, "user": o.user, "start": _iso(o.start), "end": _iso(o.end), "runtime": o.runtime,
            "created_by": o.created_by, "comment": o.comment,
            "created_at": _iso(o.created_at) if o.created_at else None}


_LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z: later times cannot be formatted


def _query_time(text: str, name: str) -> float:
    """A query time (RFC 3339 or unix seconds, years 1970 to 9999); InvalidArgumentError naming ``name``."""
    seconds = parse_time(text, name) / 1000
    if not 0 <= seconds <= _LAST_SECOND:
        raise InvalidArgumentError(f'invalid parameter "{name}": {text!r} is outside the years 1970 to 9999')
    return seconds


def _body_time(body: dict[str, Any], key: str) -> float:
    """A body time: unix seconds (number or text) or RFC 3339, years 1970 to 9999; InvalidArgumentError
    naming ``key``."""
    value = body.get(key)
    if isinstance(value, bool) or value is None or value == "":
        raise InvalidArgumentError(f'missing or invalid "{key}"')
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        try:
            seconds = parse_time(str(value), key) / 1000
        except InvalidArgumentError as err:
            raise InvalidArgumentError(
                f'invalid "{key}": cannot parse {value!r} as RFC 3339 or unix seconds') from err
    if not math.isfinite(seconds) or not 0 <= seconds <= _LAST_SECOND:
        raise InvalidArgumentError(f'invalid "{key}": {value!r} is outside the years 1970 to 9999')
    return seconds


def _own(section: dict[str, Any]) -> dict[str, Any]:
    return {"escalation": section.get("escalation"), "oncall": section.get("oncall")}


def build(context: ServerContext) -> Any:
    """The component whenever the notification system runs (acknowledgement needs no configuration)."""
    if context.services.dispatcher is None:
        return None
    return EscalationComponent(context, dict(context.config.notifications or {}))
