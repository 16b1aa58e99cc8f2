"""The built-in notification system as a server component (``notifications:`` config section).

Builds the dispatcher from an Alertmanager config (``config_file`` or inline ``config``; a default with
one receiver when absent), runs its timer loop on the server's event loop, serves the Alertmanager API v2
and publishes ``services.notifier`` (what the rule evaluator sends to), ``services.dispatcher`` and
``services.receivers``. A reload re-reads the Alertmanager config (routes, receivers, inhibit rules,
templates and their ``templates:`` files), ``resolve_timeout`` and ``rate_limits``; alerts, silences and
the notification log are kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from tsdb.alerting.config import DEFAULT_CONFIG, parse_config
from tsdb.alerting.dispatcher import RESOLVE_TIMEOUT_S, Dispatcher
from tsdb.alerting.model import Alert
from tsdb.alerting.receivers import DeliveryMetrics, ReceiverSet, build_receivers
from tsdb.alerting.silences import SilenceStore
from tsdb.alerting.store import AlertingStore
from tsdb.config import ServerConfig, parse_duration_ms
from tsdb.errors import ConfigError
from tsdb.server.alertmanager_api import AlertmanagerApi
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext
from tsdb.server.shared_alerting import share_notifications

_KEYS = {"config_file", "config", "resolve_timeout", "rate_limits", "escalation", "oncall", "correlation"}


class DispatcherNotifier:
    """A :class:`tsdb.alerting.model.Notifier` feeding the dispatcher (thread-safe, never blocks on delivery)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def send(self, alerts: Sequence[Alert]) -> None:
        self.dispatcher.put(alerts)


class AlertingComponent:
    name = "notifications"

    def __init__(self, context: ServerContext, section: dict[str, Any]) -> None:
        self.context = context
        self.section = _check_keys(section)
        self.text = _config_text(section)
        config = parse_config(self.text, _source(section))
        self.metrics = DeliveryMetrics(context.metrics.registry)  # one set of counters across reloads
        self.receivers = self._receivers(section, config)
        timeout = _resolve_timeout(section)
        self.store = AlertingStore(context.db.path / "alerting" / "alerting.sqlite")
        silences = SilenceStore(time.time, {s.id: s for s in self.store.load_silences()},
                                on_change=self.store.save_silence)
        self.dispatcher = Dispatcher(config, self.receivers, clock=time.time, silences=silences,
                                     external_url=context.external_url, resolve_timeout_s=timeout)
        self.dispatcher.nflog.update(self.store.load_nflog())
        self.dispatcher.on_log = self.store.save_nflog
        self.dispatcher.on_forget = self.store.forget_nflog
        cluster = context.services.cluster
        if cluster is not None:  # only the elected node sends; the log and silences are shared
            share_notifications(cluster.state, self.dispatcher, self.store, cluster.is_active)
        self.api = AlertmanagerApi(self.dispatcher, self.text, lambda: self.receivers.delivery_log())
        context.services.notifier = DispatcherNotifier(self.dispatcher)
        context.services.dispatcher = self.dispatcher
        context.services.receivers = self.receivers
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _receivers(self, section: dict[str, Any], config: Any) -> ReceiverSet:
        receivers = build_receivers(list(config.receivers), global_config=config.global_config,
                                    templates=list(config.templates),
                                    base_dir=_base_dir(section, self.context.config_file),
                                    external_url=self.context.external_url, metrics=self.metrics,
                                    source=_source(section))
        for name, limit in (section.get("rate_limits") or {}).items():  # extension: per receiver
            try:
                receivers.set_rate_limit(str(name), float(limit["per_minute"]), int(limit.get("burst", 1)))
            except (KeyError, TypeError, ValueError) as err:
                raise ConfigError(f"notifications.rate_limits.{name}: expected {{per_minute, burst}}: {err}") from err
        return receivers

    def routes(self) -> list[web.AbstractRouteDef]:
        return self.api.routes()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.dispatcher.run(self._stop))

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        section = _check_keys(dict(config.notifications or {}))
        text = _config_text(section)
        parsed = parse_config(text, _source(section))
        timeout = _resolve_timeout(section)
        if text == self.text and _own(section) == _own(self.section):
            return UNCHANGED  # group timers keep running
        receivers = self._receivers(section, parsed)

        async def apply() -> None:
            old = self.receivers
            self.section, self.text, self.receivers = section, text, receivers
            self.dispatcher.resolve_timeout_s = timeout
            self.dispatcher.apply_config(parsed, receivers)
            self.api.config_text = text
            self.context.services.receivers = receivers
            await old.close()

        return Reload(apply, receivers.close)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.receivers.close()
        self.store.close()


def _own(section: dict[str, Any]) -> dict[str, Any]:
    """The keys this component reads itself (escalation, oncall and correlation belong to others)."""
    return {k: section.get(k) for k in ("resolve_timeout", "rate_limits")}


def _base_dir(section: dict[str, Any], server_config_file: str) -> Path | None:
    """Where relative ``templates:`` paths start: the Alertmanager config file's directory, for an inline
    config the server config file's directory (None: the working directory)."""
    if section.get("config_file"):
        return Path(section["config_file"]).parent
    return Path(server_config_file).parent if server_config_file else None


def _source(section: dict[str, Any]) -> str:
    return str(section.get("config_file") or "notifications.config")


def _config_text(section: dict[str, Any]) -> str:
    if section.get("config_file"):
        try:
            return Path(section["config_file"]).read_text()
        except OSError as err:
            raise ConfigError(f"notifications.config_file: cannot read {section['config_file']}: {err}") from err
    if section.get("config"):
        return yaml.safe_dump(section["config"])
    return DEFAULT_CONFIG


def _resolve_timeout(section: dict[str, Any]) -> float:
    if not section.get("resolve_timeout"):
        return RESOLVE_TIMEOUT_S
    return parse_duration_ms(section["resolve_timeout"], "notifications.resolve_timeout") / 1000


def _check_keys(section: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(map(str, section)) - _KEYS)
    if unknown:
        raise ConfigError(f"notifications: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    return section


def build(context: ServerContext) -> Any:
    return AlertingComponent(context, dict(context.config.notifications or {}))
