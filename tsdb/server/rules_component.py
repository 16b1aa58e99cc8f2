"""The rule evaluator as a server component: ``rules:`` config, ``/api/v1/rules``, ``/api/v1/alerts``."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tsdb.alerting.model import Notifier
from tsdb.rules.am_client import AlertmanagerNotifier
from tsdb.rules.api import alerts_data, rules_data
from tsdb.rules.config import RulesConfig
from tsdb.rules.manager import RuleManager
from tsdb.server.components import ServerContext


class RulesComponent:
    """Runs a :class:`RuleManager` in a thread; reload re-reads the rule files."""

    name = "rules"

    def __init__(self, context: ServerContext, config: RulesConfig) -> None:
        notifiers: list[Notifier] = []
        builtin = context.services.get("notifier")
        if builtin is not None:
            notifiers.append(builtin)
        self.am = AlertmanagerNotifier(config.alertmanagers) if config.alertmanagers else None
        if self.am is not None:
            notifiers.append(self.am)
        self.manager = RuleManager(config.files, context.query, context.db, notifiers,
                                   interval_ms=config.evaluation_interval_ms,
                                   external_labels=dict(context.config.external_labels),
                                   external_url=context.external_url, state_dir=context.db.path,
                                   resend_delay_ms=config.resend_delay_ms)
        context.backend.rules_status = lambda form: rules_data(self.manager, form)
        context.backend.alerts_status = lambda: alerts_data(self.manager)
        context.services["rules"] = self.manager

    def routes(self) -> list[web.AbstractRouteDef]:
        return []

    async def start(self) -> None:
        self.manager.start()

    async def reload(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.manager.reload)

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.manager.stop)
        if self.am is not None:
            self.am.close()


def build(context: ServerContext) -> Any:
    """The component, or None when no rule files are configured."""
    config = RulesConfig.from_raw(context.config.rules)
    if not config.files:
        return None
    return RulesComponent(context, config)
