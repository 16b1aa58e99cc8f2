"""The Alertmanager API v2 subset, so Prometheus can use tsdb as its Alertmanager and ``amtool`` works.

``POST/GET /api/v2/alerts``, ``GET/POST /api/v2/silences``, ``GET/DELETE /api/v2/silence/{id}``,
``GET /api/v2/status``, ``GET /api/v2/receivers``, plus ``GET /api/v1/notifications`` (the delivery log).
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tsdb import __version__
from tsdb.alerting.dispatcher import Dispatcher
from tsdb.alerting.matchers import matches, parse_matchers
from tsdb.alerting.model import Alert
from tsdb.alerting.silences import Silence, recurrence_of
from tsdb.errors import ConfigError, InvalidArgumentError, TsdbError
from tsdb.labels import Matcher
from tsdb.secrets import masked_yaml
from tsdb.timefmt import format_rfc3339, parse_rfc3339


def rfc3339(seconds: float | None) -> str:
    if seconds is None:
        return "0001-01-01T00:00:00.000Z"
    return format_rfc3339(seconds, "ms")


def parse_time(text: Any, what: str) -> float | None:
    if text in (None, "", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"):
        return None
    try:
        return parse_rfc3339(str(text))
    except ValueError as err:
        raise InvalidArgumentError(f"invalid {what} {text!r}: {err}") from err


def _bad(message: str) -> web.Response:
    return web.Response(status=400, text=json.dumps(message), content_type="application/json")


class AlertmanagerApi:
    """Handlers over one :class:`Dispatcher` (and its silences and receivers)."""

    def __init__(self, dispatcher: Dispatcher, config_text: str, delivery_log: Any = None) -> None:
        self.dispatcher = dispatcher
        self.config_text = config_text
        self.delivery_log = delivery_log
        self.started = time.time()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post("/api/v2/alerts", self.post_alerts), web.get("/api/v2/alerts", self.get_alerts),
                web.get("/api/v2/silences", self.get_silences), web.post("/api/v2/silences", self.post_silence),
                web.get("/api/v2/silence/{id}", self.get_silence),
                web.delete("/api/v2/silence/{id}", self.delete_silence),
                web.get("/api/v2/status", self.status), web.get("/api/v2/receivers", self.receivers),
                web.get("/api/v1/notifications", self.notifications)]

    async def post_alerts(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError as err:
            return _bad(f"invalid JSON: {err}")
        if not isinstance(body, list):
            return _bad("expected a JSON list of alerts")
        alerts = []
        now = time.time()
        for i, raw in enumerate(body):
            labels = raw.get("labels") if isinstance(raw, dict) else None
            if not isinstance(labels, dict) or not labels:
                return _bad(f"alert {i}: labels must be a non-empty object")
            try:
                starts = parse_time(raw.get("startsAt"), "startsAt") or now
                ends = parse_time(raw.get("endsAt"), "endsAt")
            except InvalidArgumentError as err:
                return _bad(f"alert {i}: {err}")
            if ends is not None and ends < starts:
                return _bad(f"alert {i}: end time must not be before start time")
            alerts.append(Alert({str(k): str(v) for k, v in labels.items()},
                                {str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
                                starts, ends, str(raw.get("generatorURL") or ""), now))
        self.dispatcher.put(alerts)
        return web.Response(status=200)

    async def get_alerts(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            filters: list[Matcher] = [m for f in q.getall("filter", []) for m in parse_matchers(f)]
        except ConfigError as err:
            return _bad(str(err))
        want = {k: q.get(k, "true") != "false" for k in ("active", "silenced", "inhibited", "unprocessed")}
        receiver = q.get("receiver")
        d = self.dispatcher
        now = d.clock()
        out = []
        for alert in list(d.alerts.values()):
            if d.is_resolved(alert, now) or not matches(filters, alert.labels):
                continue
            receivers = sorted({r.receiver for r in d.config.route.match(alert.labels)})
            if receiver and receiver not in receivers:
                continue
            silenced, inhibited = d.muted_by(alert)
            state = "suppressed" if silenced or inhibited else "active"
            if (state == "active" and not want["active"]) or (silenced and not want["silenced"]) or \
                    (inhibited and not want["inhibited"]):
                continue
            ends = alert.ends_at if alert.ends_at is not None else alert.updated_at + d.resolve_timeout_s
            out.append({"labels": alert.labels, "annotations": alert.annotations,
                        "startsAt": rfc3339(alert.starts_at), "endsAt": rfc3339(ends),
                        "generatorURL": alert.generator_url, "fingerprint": alert.fingerprint,
                        "updatedAt": rfc3339(alert.updated_at), "receivers": [{"name": r} for r in receivers],
                        "status": {"state": state, "silencedBy": silenced,
                                   "inhibitedBy": [] if not inhibited else ["inhibited"]}})
        return web.json_response(out)

    def _silence_json(self, s: Silence) -> dict[str, Any]:
        return s.to_json(self.dispatcher.clock(), rfc3339)

    async def get_silences(self, request: web.Request) -> web.Response:
        try:
            filters = [m for f in request.query.getall("filter", []) for m in parse_matchers(f)]
        except ConfigError as err:
            return _bad(str(err))
        out = []
        for s in self.dispatcher.silences.all():
            named = {m.name: m.value for m in s.matchers}
            if all(named.get(f.name) is not None and f.matches(named[f.name]) for f in filters):
                out.append(self._silence_json(s))
        return web.json_response(out)

    async def post_silence(self, request: web.Request) -> web.Response:
        try:
            raw = await request.json()
            matchers = []
            for m in raw.get("matchers") or []:
                regex, equal = bool(m.get("isRegex")), m.get("isEqual", True) is not False
                op = ("=~" if equal else "!~") if regex else ("=" if equal else "!=")
                matchers.append(Matcher(op, str(m["name"]), str(m["value"])))
            starts = parse_time(raw.get("startsAt"), "startsAt") or time.time()
            ends = parse_time(raw.get("endsAt"), "endsAt")
            if ends is None:
                return _bad("endsAt is required")
            specs, spec_raw = recurrence_of(raw.get("tsdbRecurrence"))
            silence = Silence(str(raw.get("id") or ""), matchers, starts, ends, str(raw.get("createdBy") or ""),
                              str(raw.get("comment") or ""), recurrence=specs, recurrence_raw=spec_raw)
            silence_id = self.dispatcher.silences.set(silence)
        except (ValueError, KeyError, TypeError, TsdbError) as err:
            return _bad(f"invalid silence: {err}")
        return web.json_response({"silenceID": silence_id})

    async def get_silence(self, request: web.Request) -> web.Response:
        s = self.dispatcher.silences.get(request.match_info["id"])
        if s is None:
            return web.Response(status=404, text=json.dumps("silence not found"), content_type="application/json")
        return web.json_response(self._silence_json(s))

    async def delete_silence(self, request: web.Request) -> web.Response:
        try:
            self.dispatcher.silences.expire(request.match_info["id"])
        except KeyError:
            return web.Response(status=404, text=json.dumps("silence not found"), content_type="application/json")
        except InvalidArgumentError as err:
            return _bad(str(err))
        return web.Response(status=200)

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({
            "cluster": {"name": "", "status": "disabled", "peers": []},
            "config": {"original": masked_yaml(self.config_text)},  # secrets as <secret>, as Alertmanager
            "versionInfo": {"version": __version__, "revision": "", "branch": "", "buildUser": "", "buildDate": "",
                            "goVersion": "python"},
            "uptime": rfc3339(self.started)})

    async def receivers(self, request: web.Request) -> web.Response:
        names = sorted(str(r.get("name")) for r in self.dispatcher.config.receivers)
        return web.json_response([{"name": n} for n in names])

    async def notifications(self, request: web.Request) -> web.Response:
        log = self.delivery_log() if self.delivery_log is not None else []
        return web.json_response({"status": "success", "data": log})
