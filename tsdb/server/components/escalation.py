"""Acknowledgement, escalation and on-call as a server component (``notifications.escalation`` and
``notifications.oncall``): the hook on the dispatcher, its step loop, and the HTTP endpoints
``GET /api/v1/alerts/groups/{key}`` (a group, its escalation and history), ``POST /api/v1/alerts/groups/{key}/ack``,
``GET /api/v1/oncall/{schedule}?at=``, ``GET /api/v1/escalations``.

Always built with the notification system, so every notification carries an acknowledgement link (to the
web UI's confirmation page ``/ui/ack/<key>``) and acknowledgements work without any policy. A ``GET`` of the
acknowledgement endpoint never acknowledges (link previewers fetch links): it redirects to that page. A reload
applies new policies, routes, users, schedules and contact settings; acknowledgements and running escalations
are kept."""

from __future__ import annotations

import asyncio
import time
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
from tsdb.alerting.oncall import OnCall, parse_oncall
from tsdb.alerting.oncall_timeline import handoffs
from tsdb.alerting.receivers import ReceiverSet, build_receivers
from tsdb.config import ServerConfig
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext, run_every
from tsdb.server.components.groups import group_json
from tsdb.timefmt import format_rfc3339, parse_rfc3339


class EscalationComponent:
    name = "escalation"

    def __init__(self, context: ServerContext, section: dict[str, Any]) -> None:
        self.context = context
        assert context.services.dispatcher is not None, "escalation is built after notifications"
        self.dispatcher = context.services.dispatcher
        self.raw = _own(section)
        policies, bindings, self.oncall, self.user_receivers = self._parse(section)
        store = EscalationStore(context.db.path / "alerting" / "escalation.sqlite")
        self.hook = EscalationHook(policies, bindings, self.oncall, self._deliver, store, time.time,
                                   context.external_url)
        self.store = store
        self.dispatcher.add_hook(self.hook)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _parse(self, section: dict[str, Any]) -> tuple[dict[str, Policy], dict[str, str], OnCall, ReceiverSet]:
        escalation = section.get("escalation") or {}
        policies, bindings = parse_policies(escalation)
        oncall = parse_oncall(section.get("oncall"))
        users = build_receivers(user_receivers(oncall.users, escalation.get("contact") or {}),
                                global_config={}, templates=[], base_dir=None,
                                external_url=self.context.external_url)
        return policies, bindings, oncall, users

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        section = dict(config.notifications or {})
        if _own(section) == self.raw:
            return UNCHANGED
        policies, bindings, oncall, users = self._parse(section)

        async def apply() -> None:
            old = self.user_receivers
            self.raw, self.oncall, self.user_receivers = _own(section), oncall, users
            self.hook.policies, self.hook.bindings, self.hook.oncall = policies, bindings, oncall
            await old.close()

        return Reload(apply, users.close)

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
                web.get("/api/v1/oncall/{schedule}", self.who), web.get("/api/v1/escalations", self.list)]

    async def schedules(self, request: web.Request) -> web.Response:
        """Every schedule: who is on call now (and why), the hand-offs of the next 7 days, its overrides."""
        now = time.time()
        out = []
        for name, schedule in sorted(self.oncall.schedules.items()):
            user, source = self.oncall.who_is_on_call(name, now)
            out.append({"schedule": name, "user": user.name if user else None, "source": source,
                        "handoffs": [{**h, "at": format_rfc3339(h["at"], "iso", "+00:00")}
                                     for h in handoffs(self.oncall, name, now, now + 7 * 86400)[:20]],
                        "overrides": [{"user": o.user, "start": format_rfc3339(o.start, "iso", "+00:00"),
                                       "end": format_rfc3339(o.end, "iso", "+00:00")} for o in schedule.overrides],
                        "layers": len(schedule.layers)})
        return web.json_response({"status": "success", "data": out})

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

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            run_every(self._stop, 0.5, self.hook.tick, "escalation steps"))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.user_receivers.close()
        self.store.close()


def _own(section: dict[str, Any]) -> dict[str, Any]:
    return {"escalation": section.get("escalation"), "oncall": section.get("oncall")}


def build(context: ServerContext) -> Any:
    """The component whenever the notification system runs (acknowledgement needs no configuration)."""
    if context.services.dispatcher is None:
        return None
    return EscalationComponent(context, dict(context.config.notifications or {}))
