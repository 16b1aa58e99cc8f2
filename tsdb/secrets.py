"""Secrets shown as ``<secret>``: the one masking used by status pages, the Alertmanager API, errors and logs.

Alertmanager and Prometheus print every ``Secret`` field (passwords, tokens, API and routing keys, the
``credentials`` of an ``authorization``) and every ``SecretURL`` (Slack ``api_url``, webhook URLs of
Discord/Teams) as ``<secret>``; tsdb does the same by key name, and masks ``webhook_configs`` URLs too.
Keys ending in ``_file`` name a file and are shown. Any URL carrying a password (``https://user:pass@host``)
is masked whole, wherever it is. In error messages and logs a URL is cut to its scheme and host
(:func:`redact_url`): Slack, Telegram and webhook URLs carry their secret in the path or query.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import yaml

SECRET = "<secret>"
_SECRET_KEY = re.compile(
    r"(password|secret|token|api_key|apikey|auth_key|user_key|access_key|routing_key|service_key|integration_key"
    r"|credentials|bearer|webhook_url|api_url|private_key|key_file_content)", re.IGNORECASE)
_CREDENTIAL_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]*@", re.IGNORECASE)
# Keys secret only under a given parent: webhook URLs carry their token in the path or query.
_SECRET_BELOW = {"webhook_configs": frozenset({"url"})}
# Keys secret only under a given parent: webhook URLs carry their token in the path or query.
_SECRET_BELOW = {"webhook_configs": frozenset({"url"})}
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """Whether a config key holds a secret (``*_file`` keys hold paths, not secrets)."""
    return bool(_SECRET_KEY.search(key)) and not key.endswith("_file")


def mask_secrets(value: Any, secret_keys: frozenset[str] = frozenset()) -> Any:
    """A copy of ``value`` (nested dicts and lists) with every secret replaced by ``<secret>``;
    ``secret_keys`` are further keys secret at this level (a webhook's ``url``)."""
    if isinstance(value, dict):
        return {k: (SECRET if (is_secret_key(str(k)) or k in secret_keys) and v not in (None, "")
                    else mask_secrets(v, _SECRET_BELOW.get(str(k), frozenset())))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, secret_keys) for v in value]
    if isinstance(value, str) and _CREDENTIAL_URL.match(value):
        return SECRET
    return value


def masked_yaml(text: str) -> str:
    """A YAML document with its secrets masked; "" when it does not parse (never the raw text)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return ""
    return str(yaml.safe_dump(mask_secrets(data), sort_keys=False, default_flow_style=False))


def redact_url(url: str) -> str:
    """``https://user:pw@hooks.example.com/T0/B0/XXX?k=v`` -> ``https://hooks.example.com/<redacted>``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<redacted>"
    if not parts.scheme or not host:
        return "<redacted>"
    hidden = "/<redacted>" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


def redact_urls(text: str) -> str:
    """Every URL in ``text`` (an error message) cut as :func:`redact_url` does."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def yaml_error_text(err: yaml.YAMLError) -> str:
    """A YAML error without PyYAML's snippet of the offending line (which may hold a password)."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{err.problem or err.context or 'syntax error'}{where}"
    return type(err).__name__
