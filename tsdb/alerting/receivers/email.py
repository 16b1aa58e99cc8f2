"""The email integration: SMTP with STARTTLS and AUTH; headers and parts as Alertmanager 0.25 builds them
(``Subject``/``To``/``From`` headers from templates, the HTML part from ``html`` — by default Alertmanager's
``email.default.html`` — and a text part only when ``text`` is set)."""

from __future__ import annotations

import asyncio
import quopri
import smtplib
import ssl
from dataclasses import dataclass
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from typing import Any

import aiohttp

from tsdb.alerting.gotmpl.fields import FieldRenderer
from tsdb.alerting.gotmpl.render import NotificationTemplates
from tsdb.alerting.model import Notification
from tsdb.alerting.receivers.common import build_or_fail
from tsdb.alerting.receivers.http import secret
from tsdb.alerting.receivers.integration import DeliveryError
from tsdb.errors import ConfigError

DEFAULT_SUBJECT = '{{ template "email.default.subject" . }}'
DEFAULT_HTML = '{{ template "email.default.html" . }}'


def _part(body: str, subtype: str) -> MIMENonMultipart:
    """A quoted-printable UTF-8 part holding ``body`` exactly (no newline added)."""
    part = MIMENonMultipart("text", subtype, charset="UTF-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(quopri.encodestring(body.encode()).decode("ascii"))
    return part


def _headers(raw: dict[str, Any], where: str) -> dict[str, str]:
    """Header templates by canonical name (``subject`` -> ``Subject``); two spellings of one name are an error."""
    headers: dict[str, str] = {}
    for name, value in raw.items():
        canonical = "-".join(part.capitalize() for part in str(name).split("-"))
        if canonical in headers:
            raise ConfigError(f"{where}: duplicate header {canonical!r} in email config")
        headers[canonical] = str(value)
    return headers


@dataclass
class EmailIntegration:
    """``email_configs`` entry (defaults from Alertmanager's ``global.smtp_*``)."""

    to: str
    from_: str
    host: str
    port: int
    username: str = ""
    password: str = ""
    require_tls: bool = True
    verify_tls: bool = True
    ca_file: str = ""
    text: str | None = None
    html: str | None = None
    headers: dict[str, str] | None = None
    send_resolved: bool = False
    timeout_s: float = 15.0
    templates: NotificationTemplates | None = None
    engine: str = "go"
    kind: str = "email"

    @classmethod
    def from_config(cls, raw: dict[str, Any], global_config: dict[str, Any], where: str,
                    templates: NotificationTemplates | None = None, engine: str = "go") -> EmailIntegration:
        smarthost = str(raw.get("smarthost") or global_config.get("smtp_smarthost") or "")
        host, _, port = smarthost.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"{where}: smarthost must be host:port, got {smarthost!r}")
        to = str(raw.get("to") or "")
        sender = str(raw.get("from") or global_config.get("smtp_from") or "")
        if not to or not sender:
            raise ConfigError(f"{where}: 'to' and 'from' are required")
        merged = {**{k.removeprefix("smtp_auth_"): v for k, v in global_config.items() if k.startswith("smtp_auth_")},
                  **{k.removeprefix("auth_"): v for k, v in raw.items() if k.startswith("auth_")}}
        tls = raw.get("tls_config") or {}
        require = raw.get("require_tls", global_config.get("smtp_require_tls", True))
        return cls(to, sender, host, int(port), str(merged.get("username") or ""),
                   secret(merged, "password", where), bool(require), not bool(tls.get("insecure_skip_verify")),
                   str(tls.get("ca_file") or ""), raw.get("text"), raw.get("html"),
                   _headers(raw.get("headers") or {}, where), bool(raw.get("send_resolved", False)),
                   templates=templates, engine=engine)

    def message(self, notification: Notification) -> Message:
        """The message; :class:`FieldTemplateError` when a template fails."""
        r = FieldRenderer(notification, self.templates, self.engine, self.kind)
        headers = dict(self.headers or {})
        msg = MIMEMultipart("alternative")
        for name, default in (("Subject", DEFAULT_SUBJECT), ("To", None), ("From", None)):
            if name not in headers:  # Alertmanager's defaults: the subject template, the to and from fields
                msg[name] = r.text(f"headers.{name}", None, default) if default else \
                    r.text(name.lower(), self.to if name == "To" else self.from_)
        for name, value in headers.items():
            msg[name] = r.text(f"headers.{name}", value)
        if self.text:  # as Alertmanager: the text part only when configured, the HTML part last
            msg.attach(_part(r.text("text", self.text), "plain"))
        if self.html != "":
            msg.attach(_part(r.html("html", self.html, DEFAULT_HTML), "html"))
        return msg

    def _send_blocking(self, msg: Message) -> None:
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif self.require_tls:
                raise DeliveryError(f"email via {self.host}:{self.port}: server does not offer STARTTLS "
                                    "(require_tls is on)", retry=False)
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(msg)

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int:
        return await self.send_message(build_or_fail(self.message, notification))

    async def send_message(self, msg: Message) -> int:
        """Send a ready message over SMTP as configured (TLS, auth); DeliveryError (retryable unless the
        server refused it with a 5xx) on failure. Also used for SLO compliance reports."""
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._send_blocking, msg)
        except smtplib.SMTPResponseException as err:
            raise DeliveryError(f"email via {self.host}:{self.port}: {err.smtp_code} {err.smtp_error!r}",
                                err.smtp_code, retry=err.smtp_code >= 400 and err.smtp_code < 500) from err
        except (smtplib.SMTPException, OSError) as err:
            raise DeliveryError(f"email via {self.host}:{self.port}: {err}") from err
        return 250
