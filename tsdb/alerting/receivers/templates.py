"""Jinja2 notification templates: tsdb's opt-in alternative to Go templates (``template_engine: jinja2``).

The context has ``status``, ``receiver``, ``alerts`` (each with ``status``, ``labels``, ``annotations``,
``starts_at``, ``ends_at``, ``generator_url``, ``fingerprint``), ``firing`` and ``resolved`` (the alerts by
state), ``group_labels``, ``common_labels``, ``common_annotations``, ``external_url``, ``group_key`` and
``extras`` (e.g. ``ack_url``); the same values also under Alertmanager's names (``Status``, ``Receiver``,
``Alerts``, ``GroupLabels``, ``CommonLabels``, ``CommonAnnotations``, ``ExternalURL``, ``GroupKey``). A
template that fails raises :class:`tsdb.alerting.gotmpl.render.NotificationTemplateError`, as a Go template does.
"""

from __future__ import annotations

from typing import Any

import jinja2

from tsdb.alerting.gotmpl.render import NotificationTemplateError
from tsdb.alerting.model import Alert, Notification
from tsdb.timefmt import format_rfc3339

_ENV = jinja2.Environment(autoescape=False, undefined=jinja2.ChainableUndefined, trim_blocks=True,
                          lstrip_blocks=True)
_HTML_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined, trim_blocks=True,
                               lstrip_blocks=True)

def _iso(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return format_rfc3339(seconds, "iso")


def _alert(a: Alert, now: float) -> dict[str, Any]:
    return {"status": "resolved" if a.resolved_at(now) else "firing", "labels": a.labels,
            "annotations": a.annotations, "starts_at": _iso(a.starts_at), "ends_at": _iso(a.ends_at),
            "generator_url": a.generator_url, "fingerprint": a.fingerprint}


def common_pairs(maps: list[dict[str, str]]) -> dict[str, str]:
    """The name/value pairs every map has (Alertmanager's CommonLabels / CommonAnnotations)."""
    if not maps:
        return {}
    common = dict(maps[0])
    for m in maps[1:]:
        common = {k: v for k, v in common.items() if m.get(k) == v}
    return common


def context(notification: Notification) -> dict[str, Any]:
    """The template data of a notification (see module docstring)."""
    alerts = [_alert(a, notification.now) for a in notification.alerts]
    data = {"status": notification.status, "receiver": notification.receiver, "alerts": alerts,
            "firing": [a for a in alerts if a["status"] == "firing"],
            "resolved": [a for a in alerts if a["status"] == "resolved"],
            "group_labels": notification.group_labels,
            "common_labels": common_pairs([a.labels for a in notification.alerts]),
            "common_annotations": common_pairs([a.annotations for a in notification.alerts]),
            "external_url": notification.external_url, "extras": notification.extras,
            "group_key": notification.group_key}
    # Alertmanager's names too, so templates written for its data model read the same values
    data.update({"Status": data["status"], "Receiver": data["receiver"], "Alerts": alerts,
                 "GroupLabels": data["group_labels"], "CommonLabels": data["common_labels"],
                 "CommonAnnotations": data["common_annotations"], "ExternalURL": data["external_url"],
                 "GroupKey": data["group_key"]})
    return data


def render_jinja(template: str, data: dict[str, Any], html: bool = False) -> str:
    """``template`` rendered over ``data`` (HTML-autoescaped when ``html``); NotificationTemplateError when it fails."""
    try:
        return (_HTML_ENV if html else _ENV).from_string(template).render(**data)
    except jinja2.TemplateError as err:
        raise NotificationTemplateError(f"jinja2: {err}") from err
