"""The Slack integration: the incoming-webhook JSON exactly as Alertmanager 0.25 builds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tsdb.alerting.gotmpl.fields import FieldRenderer
from tsdb.alerting.gotmpl.render import NotificationTemplates
from tsdb.alerting.model import Notification
from tsdb.alerting.receivers.common import build_or_fail, configured, http_url, omit_empty, truncate_runes
from tsdb.alerting.receivers.http import HttpOptions, post

SLACK_DEFAULTS = {
    "channel": "", "username": '{{ template "slack.default.username" . }}',
    "color": '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}',
    "title": '{{ template "slack.default.title" . }}', "title_link": '{{ template "slack.default.titlelink" . }}',
    "pretext": '{{ template "slack.default.pretext" . }}', "text": '{{ template "slack.default.text" . }}',
    "fallback": '{{ template "slack.default.fallback" . }}',
    "callback_id": '{{ template "slack.default.callbackid" . }}',
    "footer": '{{ template "slack.default.footer" . }}', "icon_emoji": '{{ template "slack.default.iconemoji" . }}',
    "icon_url": '{{ template "slack.default.iconurl" . }}', "image_url": "", "thumb_url": "",
}
"""Alertmanager 0.25's Slack defaults: the template of every text field left unset."""
_SLACK_ACTION_KEYS = ("type", "text", "url", "style", "name", "value")
_SLACK_CONFIRM_KEYS = ("title", "text", "ok_text", "dismiss_text")


@dataclass
class SlackIntegration:
    """Slack incoming-webhook JSON exactly as Alertmanager 0.25 builds it (one attachment)."""

    url: str
    options: HttpOptions
    fields: dict[str, str] = field(default_factory=dict)
    slack_fields: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    short_fields: bool = False
    link_names: bool = False
    mrkdwn_in: list[str] = field(default_factory=list)
    send_resolved: bool = False
    templates: NotificationTemplates | None = None
    engine: str = "go"
    kind: str = "slack"

    @classmethod
    def from_config(cls, raw: dict[str, Any], global_config: dict[str, Any], where: str,
                    templates: NotificationTemplates | None = None, engine: str = "go") -> SlackIntegration:
        default = str(global_config.get("slack_api_url") or "")
        return cls(http_url(raw, "api_url", where, default), HttpOptions.from_config(raw.get("http_config"), where),
                   configured(raw, SLACK_DEFAULTS), [dict(f) for f in raw.get("fields") or []],
                   [dict(a) for a in raw.get("actions") or []], bool(raw.get("short_fields", False)),
                   bool(raw.get("link_names", False)), [str(m) for m in raw.get("mrkdwn_in") or []],
                   bool(raw.get("send_resolved", False)), templates, engine)

    def payload(self, notification: Notification) -> dict[str, Any]:
        """The request body; :class:`FieldTemplateError` when a template fails."""
        r = FieldRenderer(notification, self.templates, self.engine, self.kind)

        def text(key: str) -> str:
            return r.text(key, self.fields.get(key), SLACK_DEFAULTS[key])

        attachment: dict[str, Any] = {
            "title": truncate_runes(text("title"), 1024), "title_link": text("title_link"),
            "pretext": text("pretext"), "text": text("text"), "fallback": text("fallback"),
            "callback_id": text("callback_id")}
        if self.slack_fields:
            attachment["fields"] = [omit_empty(
                {"title": r.text("fields.title", str(f.get("title") or "")),
                 "value": r.text("fields.value", str(f.get("value") or "")),
                 "short": bool(f["short"]) if f.get("short") is not None else self.short_fields}, ("short",))
                for f in self.slack_fields]
        if self.actions:
            attachment["actions"] = [self._action(r, a) for a in self.actions]
        attachment.update({"image_url": text("image_url"), "thumb_url": text("thumb_url"),
                           "footer": text("footer"), "color": text("color"),
                           "mrkdwn_in": self.mrkdwn_in or ["fallback", "pretext", "text"]})
        body: dict[str, Any] = {"channel": text("channel"), "username": text("username"),
                                "icon_emoji": text("icon_emoji"), "icon_url": text("icon_url"),
                                "link_names": self.link_names, "attachments": [omit_empty(attachment, _KEEP)]}
        return omit_empty(body, ("attachments",))

    def _action(self, r: FieldRenderer, action: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {k: r.text(f"actions.{k}", str(action.get(k) or "")) for k in _SLACK_ACTION_KEYS}
        confirm = action.get("confirm")
        if confirm:
            out["confirm"] = omit_empty({k: r.text(f"actions.confirm.{k}", str(confirm.get(k) or ""))
                                          for k in _SLACK_CONFIRM_KEYS}, ())
        return omit_empty(out, ())

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int:
        return await post(session, self.url, self.options, "slack", json_body=build_or_fail(self.payload, notification))


_KEEP = ("text", "fallback", "callback_id", "footer")
"""Attachment keys Alertmanager sends even when empty (no ``omitempty``)."""
