"""Pluggable parts of the server (rules, notifications, scraping, host collection) and what they get.

The composition root (server/app.py) opens storage and the engine, then builds every component listed in
``COMPONENT_FACTORIES`` in order, passing one shared :class:`ServerContext`. A factory returns a
:class:`Component` (or ``None`` when its config section disables it). Components publish services for
later ones in ``context.services`` (e.g. the notification system publishes ``"notifier"`` before the
rule evaluator is built) and may register HTTP routes. ``reload()`` runs on SIGHUP and ``POST /-/reload``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from tsdb.config import ServerConfig
from tsdb.server.backend import Backend
from tsdb.server.self_metrics import SelfMetrics
from tsdb.storage.db import DB

log = logging.getLogger("tsdb.server")

# "module:function" of every component factory, in build order (services flow forward only).
COMPONENT_FACTORIES: list[str] = [
    "tsdb.server.alerting_component:build",
    "tsdb.server.escalation_component:build",
    "tsdb.server.incidents_component:build",
    "tsdb.server.rules_component:build",
    "tsdb.server.scrape_component:build",
    "tsdb.server.collect_component:build",
]


@dataclass
class ServerContext:
    """What a component may use. ``query`` evaluates a parsed or textual PromQL expression at a time (ms)."""

    config: ServerConfig
    db: DB
    backend: Backend
    query: Callable[[Any, int], Any]
    executor: ThreadPoolExecutor
    metrics: SelfMetrics
    external_url: str
    services: dict[str, Any] = field(default_factory=dict)


class Component(Protocol):
    """One pluggable part of the server; all methods run on the server's event loop."""

    name: str

    def routes(self) -> list[web.AbstractRouteDef]:
        """HTTP routes this component serves (may be empty)."""
        ...

    async def start(self) -> None:
        """Start background work; return promptly."""
        ...

    async def reload(self) -> None:
        """Re-read configuration without losing state of what did not change; raise ConfigError if bad."""
        ...

    async def stop(self) -> None:
        """Stop background work and flush state; called in reverse build order."""
        ...


ComponentFactory = Callable[[ServerContext], "Component | None"]


async def run_every(stop: asyncio.Event, seconds: float, step: Callable[[], Awaitable[Any]], what: str) -> None:
    """Await ``step()`` now and then every ``seconds`` until ``stop`` is set; failures are logged, the loop
    goes on (a component's background work must not die on one bad round)."""
    while not stop.is_set():
        try:
            await step()
        except Exception:
            log.exception("background work failed", extra={"work": what})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


def load_factories(names: list[str] | None = None) -> list[ComponentFactory]:
    """Import the factories named ``module:function`` (default: ``COMPONENT_FACTORIES``)."""
    factories: list[ComponentFactory] = []
    for spec in COMPONENT_FACTORIES if names is None else names:
        module_name, _, attr = spec.partition(":")
        factories.append(getattr(importlib.import_module(module_name), attr))
    return factories
