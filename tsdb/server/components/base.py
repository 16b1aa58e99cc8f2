"""What every component is and gets: the :class:`Component` protocol, the :class:`ServerContext` and its
typed :class:`Services`, the two-phase :class:`Reload`, and the build order.

The composition root (server/app.py) opens storage and the engine, then builds every component listed in
``COMPONENT_FACTORIES`` in order, passing one shared :class:`ServerContext`. A factory returns a
:class:`Component` (or ``None`` when its config section disables it and turning it on needs a restart; such a
module defines ``wanted(config) -> bool`` and the server refuses a reload that would turn it on).
Components publish what later ones use in ``context.services`` (the notification system sets ``notifier``,
``dispatcher`` and ``receivers`` before the rule evaluator and the escalation and correlation hooks are
built) and may register HTTP routes.

Reload (SIGHUP, ``POST /-/reload``) is two-phase: :meth:`Component.prepare_reload` parses and validates the
component's part of the new :class:`ServerConfig` and builds what it needs without touching running state;
only when every component has prepared does the server :meth:`Reload.apply` each of them (or
:meth:`Reload.discard` them all when one failed), so a bad file changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from tsdb.config import ServerConfig
from tsdb.server.backend import Backend
from tsdb.server.self_metrics import SelfMetrics
from tsdb.storage.db import DB

if TYPE_CHECKING:
    from tsdb.alerting.dispatcher import Dispatcher
    from tsdb.alerting.model import Notifier
    from tsdb.alerting.receivers import ReceiverSet
    from tsdb.rules.manager import RuleManager
    from tsdb.server.components.cluster import ClusterComponent

log = logging.getLogger("tsdb.server")

# "module:function" of every component factory, in build order (services flow forward only).
COMPONENT_FACTORIES: list[str] = [
    "tsdb.server.components.remote_write:build",  # first: stopped last, so final flushes are forwarded too
    "tsdb.server.components.cluster:build",  # before notifications: they replicate their state through it
    "tsdb.server.components.notifications:build",
    "tsdb.server.components.escalation:build",
    "tsdb.server.components.incidents:build",
    "tsdb.server.components.rules:build",
    "tsdb.server.components.slo_reports:build",
    "tsdb.server.components.scrape:build",
    "tsdb.server.components.collect:build",
    "tsdb.server.components.ingest:build",
    "tsdb.server.components.statsd:build",
    "tsdb.server.components.dashboards:build",
    "tsdb.server.components.slos:build",
    "tsdb.server.components.admin:build",
    "tsdb.server.components.bucket:build",
]


@dataclass
class Services:
    """What components hand to the ones built after them; ``None`` until (unless) its publisher runs."""

    notifier: Notifier | None = None
    """The built-in notification system's entry point (rules send alerts to it)."""
    dispatcher: Dispatcher | None = None
    """The notification dispatcher (escalation and correlation hook into it)."""
    receivers: ReceiverSet | None = None
    """The current receivers (replaced on reload; escalation delivers through them)."""
    cluster: ClusterComponent | None = None
    """The notification cluster this node belongs to (None: a node on its own, which always dispatches)."""
    rule_manager: Callable[[], RuleManager | None] | None = None
    """The rule evaluator's current manager (None while no rules run; the SLO status reads alert states)."""


@dataclass
class ServerContext:
    """What a component may use. ``query`` evaluates a parsed or textual PromQL expression at a time (ms).
    ``config`` is the configuration in effect (replaced by the server after a successful reload)."""

    config: ServerConfig
    db: DB
    backend: Backend
    query: Callable[[Any, int], Any]
    executor: ThreadPoolExecutor
    metrics: SelfMetrics
    external_url: str
    services: Services = field(default_factory=Services)
    config_file: str = ""
    """The server's config file ("" when built without one); inline configs resolve relative paths against
    its directory."""


async def _nothing() -> None:
    return None


@dataclass
class Reload:
    """A component's validated new configuration, not yet in effect: ``apply`` puts it in effect (it must
    not fail on config grounds), ``discard`` releases what preparing built (when another component failed)."""

    apply: Callable[[], Awaitable[None]] = _nothing
    discard: Callable[[], Awaitable[None]] = _nothing
    changed: bool = True
    """Whether applying changes anything (for the reload log line)."""


UNCHANGED = Reload(changed=False)


class Component(Protocol):
    """One pluggable part of the server; all methods run on the server's event loop."""

    name: str

    def routes(self) -> list[web.AbstractRouteDef]:
        """HTTP routes this component serves (may be empty)."""
        ...

    async def start(self) -> None:
        """Start background work; return promptly."""
        ...

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        """Phase 1 of a reload: parse and validate this component's part of ``config`` (re-reading files it
        names) and build what the change needs, leaving running state alone; raise ConfigError if bad."""
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
