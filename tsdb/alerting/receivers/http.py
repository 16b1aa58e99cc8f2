"""HTTP delivery shared by the HTTP-based channels: options, status handling, retryability."""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tsdb.alerting.receivers.integration import DeliveryError
from tsdb.errors import ConfigError
from tsdb.secrets import redact_url, redact_urls


def secret(raw: dict[str, Any], key: str, where: str) -> str:
    """``key`` or the contents of ``key_file``."""
    if raw.get(f"{key}_file"):
        try:
            return Path(str(raw[f"{key}_file"])).read_text().strip()
        except OSError as err:
            raise ConfigError(f"{where}.{key}_file: {err}") from err
    return str(raw.get(key) or "")


@dataclass(frozen=True)
class HttpOptions:
    """Alertmanager's ``http_config`` subset: timeout, headers, basic/bearer auth, TLS verification."""

    timeout_s: float = 10.0
    headers: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    bearer: str = ""
    verify_tls: bool = True
    ca_file: str = ""

    @classmethod
    def from_config(cls, raw: dict[str, Any] | None, where: str) -> HttpOptions:
        raw = raw or {}
        basic = raw.get("basic_auth")
        auth = None
        if basic:
            auth = (str(basic.get("username") or ""), secret(basic, "password", f"{where}.basic_auth"))
        bearer = ""
        if raw.get("authorization"):
            bearer = secret(raw["authorization"], "credentials", f"{where}.authorization")
        elif raw.get("bearer_token") or raw.get("bearer_token_file"):
            bearer = secret(raw, "bearer_token", where)
        tls = raw.get("tls_config") or {}
        return cls(float(raw.get("timeout_s", 10.0)), {str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
                   auth, bearer, not bool(tls.get("insecure_skip_verify")), str(tls.get("ca_file") or ""))

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.verify_tls:
            return False
        if self.ca_file:
            return ssl.create_default_context(cafile=self.ca_file)
        return True


async def post(session: aiohttp.ClientSession, url: str, options: HttpOptions, what: str, *,
               json_body: Any = None, form: dict[str, str] | None = None, body: bytes | None = None,
               extra_headers: dict[str, str] | None = None) -> int:
    """POST ``json_body``, ``form`` or raw ``body`` bytes (with ``extra_headers``, e.g. its Content-Type) and
    classify the answer: 2xx ok; 5xx/429/network errors retryable; other 4xx not. Errors name the URL
    without its secrets (path, query, credentials)."""
    shown = redact_url(url)
    headers = {**options.headers, **(extra_headers or {})}
    if options.bearer:
        headers["Authorization"] = f"Bearer {options.bearer}"
    elif options.basic_auth:
        user, password = options.basic_auth
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    try:
        async with session.post(url, json=json_body, data=form if body is None else body, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=options.timeout_s),
                                ssl=options.ssl_context()) as response:
            text = await response.text()
            if response.status >= 500 or response.status == 429:
                raise DeliveryError(f"{what} {shown}: HTTP {response.status}: {text[:200]}", response.status)
            if response.status >= 300:
                raise DeliveryError(f"{what} {shown}: HTTP {response.status}: {text[:200]}", response.status,
                                    retry=False)
            return response.status
    except (aiohttp.ClientError, TimeoutError) as err:
        raise DeliveryError(f"{what} {shown}: {redact_urls(str(err))}") from err
