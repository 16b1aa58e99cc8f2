"""Rendering an integration's text fields for one notification.

A field the configuration leaves unset renders Alertmanager's default for it (Go templates over the
default template set). A field the configuration sets is a Go template, or a Jinja2 template when the
receiver opts in with the tsdb-only key ``template_engine: jinja2`` (Jinja2 sees the context of
:func:`tsdb.alerting.receivers.templates.context`). As in Alertmanager, a template that fails makes the
attempt fail: :class:`FieldTemplateError` is raised, logged and counted, and the receiver set records the
failed delivery (it is not retried, since the same template fails again).
"""

from __future__ import annotations

import logging
from typing import Any

from tsdb.alerting.gotmpl.data import Data, template_data
from tsdb.alerting.gotmpl.render import NotificationTemplateError, NotificationTemplates, default_templates
from tsdb.alerting.model import Notification
from tsdb.errors import ConfigError

log = logging.getLogger("tsdb.alerting.templates")

ENGINES = ("go", "jinja2")

template_failures = 0
"""How many notification templates failed to render (all integrations)."""


class FieldTemplateError(Exception):
    """A text field's template failed; the message names the field."""


def engine_of(raw: dict[str, Any], receiver: dict[str, Any], where: str) -> str:
    """The template engine of an integration: its own ``template_engine``, else its receiver's, else go."""
    engine = str(raw.get("template_engine") or receiver.get("template_engine") or "go")
    if engine not in ENGINES:
        raise ConfigError(f"{where}: template_engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine


class FieldRenderer:
    """Renders the fields of one integration for one notification (build one per attempt)."""

    def __init__(self, notification: Notification, templates: NotificationTemplates | None = None,
                 engine: str = "go", kind: str = "") -> None:
        self.notification = notification
        self.templates = templates or default_templates()
        self.engine = engine
        self.kind = kind
        self.data: Data = template_data(notification)
        self._jinja: dict[str, Any] | None = None

    def text(self, field: str, configured: str | None, default: str = "") -> str:
        """The field's text: ``configured`` (in the integration's engine) or the Go ``default``."""
        return self._render(field, configured, default, html=False)

    def html(self, field: str, configured: str | None, default: str = "") -> str:
        """As :meth:`text` for an HTML field (values escaped as Alertmanager's HTML templates escape them)."""
        return self._render(field, configured, default, html=True)

    def _render(self, field: str, configured: str | None, default: str, html: bool) -> str:
        global template_failures
        try:
            if configured is not None and self.engine == "jinja2":
                from tsdb.alerting.receivers import templates as jinja

                if self._jinja is None:
                    self._jinja = jinja.context(self.notification)
                return jinja.render_jinja(configured, self._jinja, html=html)
            template = default if configured is None else configured
            return (self.templates.html if html else self.templates.text)(template, self.data)
        except NotificationTemplateError as err:
            template_failures += 1
            log.error("notification template failed", extra={"receiver": self.notification.receiver,
                                                              "integration": self.kind, "field": field,
                                                              "error": str(err)})
            raise FieldTemplateError(f"{self.kind}: template of {field!r} failed: {err}") from err
