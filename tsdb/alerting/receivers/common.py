"""What the HTTP channels share: URL options, configured text fields, Alertmanager's truncation and
``omitempty``, and turning a failed template into a failed (not retried) attempt."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tsdb.alerting.gotmpl.fields import FieldTemplateError
from tsdb.alerting.model import Notification
from tsdb.alerting.receivers.http import secret
from tsdb.alerting.receivers.integration import DeliveryError
from tsdb.errors import ConfigError


def http_url(raw: dict[str, Any], key: str, where: str, default: str = "") -> str:
    url = secret(raw, key, where) or default
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: {key} must be an http(s) URL")
    return url


def configured(raw: dict[str, Any], keys: Iterable[str]) -> dict[str, str]:
    """The text fields the configuration sets (templates), by key."""
    return {k: str(raw[k]) for k in keys if raw.get(k) is not None}


def truncate_runes(text: str, limit: int) -> str:
    """Alertmanager's ``TruncateInRunes``: at most ``limit`` characters, the last one an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[:limit] if limit <= 3 else text[: limit - 1] + "…"


def omit_empty(values: dict[str, Any], keep: Iterable[str]) -> dict[str, Any]:
    """Go's ``omitempty``: empty strings, lists and false dropped, except the ``keep`` keys."""
    return {k: v for k, v in values.items() if k in keep or v not in ("", [], False, None)}


def build_or_fail(build: Callable[[Notification], Any], notification: Notification) -> Any:
    """``build(notification)``; a failed template fails the attempt for good, as in Alertmanager."""
    try:
        return build(notification)
    except FieldTemplateError as err:
        raise DeliveryError(str(err), retry=False) from err
