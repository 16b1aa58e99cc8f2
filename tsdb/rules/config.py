"""The ``rules:`` section of the server configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tsdb.config import config_list, parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.scrape.relabel import RelabelRule, parse_rules

_KEYS = {"files", "evaluation_interval", "resend_delay", "alertmanagers", "alert_relabel_configs"}


@dataclass(frozen=True)
class RulesConfig:
    """Rule files (globs), the default evaluation interval, where alerts go and how they are relabelled."""

    files: tuple[str, ...] = ()
    evaluation_interval_ms: int = 60_000
    resend_delay_ms: int = 60_000
    alertmanagers: tuple[str, ...] = field(default=())
    alert_relabel_configs: tuple[RelabelRule, ...] = ()
    """Prometheus's ``alerting.alert_relabel_configs``: applied to every alert sent (external labels added)."""

    @classmethod
    def from_raw(cls, raw: dict[str, Any] | None) -> RulesConfig:
        raw = raw or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"rules: expected a mapping, got {type(raw).__name__}")
        unknown = sorted(set(map(str, raw)) - _KEYS)
        if unknown:
            raise ConfigError(f"rules: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
        files = raw.get("files") or []
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ConfigError("rules.files: expected a list of file names or globs")
        urls = []
        for i, am in enumerate(config_list(raw.get("alertmanagers"), "rules.alertmanagers")):
            url = am.get("url") if isinstance(am, dict) else am
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ConfigError(f"rules.alertmanagers[{i}]: expected an http(s) URL or {{url: ...}}")
            urls.append(url.rstrip("/"))
        try:
            interval = parse_duration_ms(raw.get("evaluation_interval") or "1m", "rules.evaluation_interval")
            resend = parse_duration_ms(raw.get("resend_delay") or "1m", "rules.resend_delay")
        except TsdbError as err:
            raise ConfigError(str(err)) from err
        if interval <= 0:
            raise ConfigError("rules.evaluation_interval must be positive")
        relabel = parse_rules(raw.get("alert_relabel_configs"), "rules.alert_relabel_configs")
        return cls(tuple(files), interval, resend, tuple(urls), relabel)
