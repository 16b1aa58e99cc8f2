"""The built-in notification system as a server component (``notifications:`` config section).

Builds the dispatcher from an Alertmanager config (``config_file`` or inline ``config``; a default with
one receiver when absent), runs its timer loop on the server's event loop, serves the Alertmanager API v2
and publishes ``services["notifier"]`` (what the rule evaluator sends to), ``services["dispatcher"]``
and ``services["receivers"]``.
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
from tsdb.alerting.receivers import ReceiverSet, build_receivers
from tsdb.alerting.silences import SilenceStore
from tsdb.alerting.store import AlertingStore
from tsdb.config import parse_duration_ms
from tsdb.errors import ConfigError
from tsdb.server.alertmanager_api import AlertmanagerApi
from tsdb.server.components import ServerContext

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
        unknown = sorted(set(map(str, section)) - _KEYS)
        if unknown:
            raise ConfigError(f"notifications: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
        self.section = section
        self.context = context
        text = self._config_text()
        config = parse_config(text, self._source())
        self.receivers = self._receivers(config)
        timeout = parse_duration_ms(section["resolve_timeout"], "notifications.resolve_timeout") / 1000 \
            if section.get("resolve_timeout") else RESOLVE_TIMEOUT_S
        self.store = AlertingStore(context.db.path / "alerting" / "alerting.sqlite")
        silences = SilenceStore(time.time, {s.id: s for s in self.store.load_silences()},
                                on_change=self.store.save_silence)
        self.dispatcher = Dispatcher(config, self.receivers, clock=time.time, silences=silences,
                                     external_url=context.external_url, resolve_timeout_s=timeout)
        self.dispatcher.nflog.update(self.store.load_nflog())
        self.dispatcher.on_log = self.store.save_nflog
        self.api = AlertmanagerApi(self.dispatcher, text, lambda: self.receivers.delivery_log())
        context.services["notifier"] = DispatcherNotifier(self.dispatcher)
        context.services["dispatcher"] = self.dispatcher
        context.services["receivers"] = self.receivers
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _source(self) -> str:
        return str(self.section.get("config_file") or "notifications.config")

    def _config_text(self) -> str:
        if self.section.get("config_file"):
            try:
                return Path(self.section["config_file"]).read_text()
            except OSError as err:
                raise ConfigError(f"notifications.config_file: cannot read {self.section['config_file']}: {err}") \
                    from err
        if self.section.get("config"):
            return yaml.safe_dump(self.section["config"])
        return DEFAULT_CONFIG

    def _receivers(self, config: Any, registry: Any = "server") -> ReceiverSet:
        receivers = build_receivers(list(config.receivers), global_config=config.global_config,
                                    templates=list(config.templates), base_dir=None,
                                    external_url=self.context.external_url,
                                    registry=self.context.metrics.registry if registry == "server" else None)
        for name, limit in (self.section.get("rate_limits") or {}).items():  # extension: per receiver
            try:
                receivers.set_rate_limit(str(name), float(limit["per_minute"]), int(limit.get("burst", 1)))
            except (KeyError, TypeError, ValueError) as err:
                raise ConfigError(f"notifications.rate_limits.{name}: expected {{per_minute, burst}}: {err}") from err
        return receivers

    def routes(self) -> list[web.AbstractRouteDef]:
        return self.api.routes()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.dispatcher.run(self._stop))

    async def reload(self) -> None:
        text = self._config_text()
        config = parse_config(text, self._source())
        old = self.receivers
        self.receivers = self._receivers(config, registry=None)
        self.dispatcher.apply_config(config, self.receivers)
        self.api.config_text = text
        self.context.services["receivers"] = self.receivers
        await old.close()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.receivers.close()
        self.store.close()


def build(context: ServerContext) -> Any:
    return AlertingComponent(context, dict(context.config.notifications or {}))
