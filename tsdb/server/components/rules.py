"""The rule evaluator as a server component: ``rules:`` config, ``/api/v1/rules``, ``/api/v1/alerts``.

Always built; the evaluator runs once the section names rule files or the ``slos:`` section names SLO specs
(at start-up or after a reload); the specs' generated rules run alongside the rule files. A reload re-reads
the rule files and the SLO specs (unchanged rules keep their state) and applies a new evaluation interval,
resend delay, Alertmanager list (an Alertmanager kept keeps its queue and counters) and alert relabelling.
The Alertmanager notifier's counters are on ``/metrics`` as ``tsdb_notifications_*``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tsdb import __version__
from tsdb.alerting.model import Notifier
from tsdb.config import ServerConfig
from tsdb.rules.am_client import AlertmanagerNotifier
from tsdb.rules.api import alerts_data, rules_data
from tsdb.rules.config import RulesConfig
from tsdb.rules.loader import RuleGroup, load_rule_files
from tsdb.rules.manager import RuleManager
from tsdb.secrets import redact_url
from tsdb.server.components.alerts_stream import stream_handler
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext, run_every
from tsdb.server.rule_placement import ClusterPlacement
from tsdb.slo.config import SLOsConfig, load_slo_groups


def _generated(slos: SLOsConfig) -> Callable[[], list[RuleGroup]]:
    def load() -> list[RuleGroup]:
        return load_slo_groups(slos, f"tsdb-{__version__}")

    return load


class NotifierCollector(Collector):
    """Prometheus's ``prometheus_notifications_*`` as ``tsdb_notifications_*``, read from ``notifier`` at scrape
    time. The ``alertmanager`` label is the URL cut to scheme, host and port (:func:`redact_url`, as in the
    logs; the URL may hold a password); Alertmanagers sharing that label are summed."""

    def __init__(self, notifier: AlertmanagerNotifier) -> None:
        self.notifier = notifier

    def collect(self) -> list[Metric]:
        stats = self.notifier.stats()
        sent = CounterMetricFamily("tsdb_notifications_sent", "Alerts posted to the Alertmanager, whether the "
                                   "post succeeded or not.", labels=["alertmanager"])
        errors = CounterMetricFamily("tsdb_notifications_errors", "Alerts in posts to the Alertmanager that "
                                     "failed (not retried: the alert goes out again at its next resend).",
                                     labels=["alertmanager"])
        for family, counts in ((sent, stats.sent), (errors, stats.errors)):
            by_label: dict[str, int] = {}
            for url, count in counts.items():
                label = redact_url(url)
                by_label[label] = by_label.get(label, 0) + count
            for label, count in sorted(by_label.items()):
                family.add_metric([label], count)
        return [sent, errors,
                CounterMetricFamily("tsdb_notifications_dropped", "Alerts dropped from a full queue (each "
                                    "Alertmanager has its own queue; counted once per queue).", value=stats.dropped),
                GaugeMetricFamily("tsdb_notifications_queue_length", "Alerts waiting in the longest Alertmanager "
                                  "queue.", value=stats.queue_length),
                GaugeMetricFamily("tsdb_notifications_queue_capacity", "Alerts each Alertmanager queue holds.",
                                  value=stats.capacity)]


class RulesComponent:
    """Runs a :class:`RuleManager` in a thread (none while no rule files are configured)."""

    name = "rules"

    def __init__(self, context: ServerContext, config: RulesConfig, slos: SLOsConfig | None = None) -> None:
        self.context = context
        self.config = config
        self.slos = slos or SLOsConfig()
        # one notifier for the component's life: reloads change its URLs, so counters survive them
        self.am = AlertmanagerNotifier(config.alertmanagers)
        context.metrics.registry.register(NotifierCollector(self.am))
        cluster = context.services.cluster
        # a cluster spreading rule groups: each group on one member, its alerts sent to every member
        self.placement = ClusterPlacement(cluster) if cluster is not None and cluster.spread_rules else None
        self.peers = AlertmanagerNotifier([]) if self.placement is not None else None
        self.manager: RuleManager | None = None
        self._streams_stop = asyncio.Event()
        context.services.rule_manager = lambda: self.manager
        if config.files or self.slos.files:
            self._publish(self._new_manager(config, self.slos))
        self._started = False
        self._peer_task: asyncio.Task[None] | None = None

    def _notifiers(self) -> list[Notifier]:
        notifiers: list[Notifier] = []
        if self.context.services.notifier is not None:
            notifiers.append(self.context.services.notifier)
        if self.am.urls:
            notifiers.append(self.am)
        if self.peers is not None:
            notifiers.append(self.peers)
        return notifiers

    def _new_manager(self, config: RulesConfig, slos: SLOsConfig) -> RuleManager:
        """A manager with the rule files and SLO rules loaded and alert state restored, not yet running (raises
        ConfigError)."""
        context = self.context
        return RuleManager(config.files, context.query, context.db, self._notifiers(),
                           interval_ms=config.evaluation_interval_ms,
                           external_labels=dict(context.config.external_labels),
                           external_url=context.external_url, state_dir=context.db.path,
                           resend_delay_ms=config.resend_delay_ms, generated=_generated(slos),
                           alert_relabel=config.alert_relabel_configs, placement=self.placement)

    def _publish(self, manager: RuleManager) -> None:
        self.manager = manager
        self.context.backend.rules_status = lambda form: rules_data(manager, form)
        self.context.backend.alerts_status = lambda: alerts_data(manager)

    def routes(self) -> list[web.AbstractRouteDef]:
        def snapshot() -> dict[str, Any] | None:
            return None if self.manager is None else rules_data(self.manager, {"type": "alert"})

        return [web.get("/api/v1/alerts/stream", stream_handler(snapshot, self._streams_stop))]

    async def start(self) -> None:
        self._started = True
        if self.manager is not None:
            self.manager.start()
        if self.peers is not None:
            self._peer_task = asyncio.get_running_loop().create_task(
                run_every(self._streams_stop, 1.0, self._follow_members, "cluster peers"))

    async def _follow_members(self) -> None:
        """Send alerts to the cluster's other live members (their Alertmanager API v2)."""
        cluster = self.context.services.cluster
        if self.peers is not None and cluster is not None:
            self.peers.set_urls(cluster.peer_urls())

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        new = RulesConfig.from_raw(config.rules)
        slos = SLOsConfig.from_raw(config.slos)
        if not new.files and not slos.files and self.manager is None and \
                new.alertmanagers == self.config.alertmanagers:
            return UNCHANGED
        loop = asyncio.get_running_loop()
        fresh: RuleManager | None = None
        groups: list[RuleGroup] = []
        if self.manager is None:  # rule files named for the first time: a manager, started on apply
            if new.files or slos.files:
                fresh = await loop.run_in_executor(self.context.executor, self._new_manager, new, slos)
        else:
            def load() -> list[RuleGroup]:
                return load_rule_files(list(new.files)) + _generated(slos)()

            groups = await loop.run_in_executor(self.context.executor, load)

        async def apply() -> None:
            self.config, self.slos = new, slos
            self.am.set_urls(new.alertmanagers)
            if fresh is not None:
                fresh.notifiers = self._notifiers()
                self._publish(fresh)
                if self._started:
                    fresh.start()
            elif self.manager is not None:
                self.manager.apply(groups, patterns=new.files, interval_ms=new.evaluation_interval_ms,
                                   resend_delay_ms=new.resend_delay_ms, notifiers=self._notifiers(),
                                   generated=_generated(slos), alert_relabel=new.alert_relabel_configs)

        return Reload(apply)

    async def stop(self) -> None:
        self._streams_stop.set()
        loop = asyncio.get_running_loop()
        if self.manager is not None:
            await loop.run_in_executor(None, self.manager.stop)
        # posting what is queued may wait for a slow Alertmanager: not on the event loop
        await loop.run_in_executor(None, self.am.close)
        if self.peers is not None:
            await loop.run_in_executor(None, self.peers.close)
        if self._peer_task is not None:
            await self._peer_task


def build(context: ServerContext) -> Any:
    """The component (idle while no rule files or SLO specs are configured)."""
    return RulesComponent(context, RulesConfig.from_raw(context.config.rules),
                          SLOsConfig.from_raw(context.config.slos))
