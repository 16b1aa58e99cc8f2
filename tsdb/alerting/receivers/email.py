"""The email integration: SMTP with STARTTLS and AUTH, a text and an HTML part (Jinja2 templates)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiohttp

from tsdb.alerting.model import Notification
from tsdb.alerting.receivers import templates
from tsdb.alerting.receivers.http import secret
from tsdb.alerting.receivers.integration import DeliveryError
from tsdb.errors import ConfigError


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
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    headers: dict[str, str] | None = None
    send_resolved: bool = False
    timeout_s: float = 15.0
    kind: str = "email"

    @classmethod
    def from_config(cls, raw: dict[str, Any], global_config: dict[str, Any], where: str) -> EmailIntegration:
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
                   str(tls.get("ca_file") or ""), (raw.get("headers") or {}).get("Subject"), raw.get("text"),
                   raw.get("html"), {str(k): str(v) for k, v in (raw.get("headers") or {}).items()
                                     if k != "Subject"}, bool(raw.get("send_resolved", False)))

    def message(self, notification: Notification) -> EmailMessage:
        data = templates.context(notification)
        title = templates.render(self.subject, "title", data)
        msg = EmailMessage()
        msg["Subject"] = title
        msg["From"] = self.from_
        msg["To"] = self.to
        for k, v in (self.headers or {}).items():
            msg[k] = v
        msg.set_content(templates.render(self.text, "text", data))
        msg.add_alternative(templates.render(self.html, "html", {**data, "title": title}, html=True), subtype="html")
        return msg

    def _send_blocking(self, msg: EmailMessage) -> None:
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
        msg = self.message(notification)
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._send_blocking, msg)
        except smtplib.SMTPResponseException as err:
            raise DeliveryError(f"email via {self.host}:{self.port}: {err.smtp_code} {err.smtp_error!r}",
                                err.smtp_code, retry=err.smtp_code >= 400 and err.smtp_code < 500) from err
        except (smtplib.SMTPException, OSError) as err:
            raise DeliveryError(f"email via {self.host}:{self.port}: {err}") from err
        return 250
