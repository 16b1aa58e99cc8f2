"""The notification cluster as a server component (``cluster:`` section; docs/scaling.md).

Two or three nodes with the same rules and notification config name the same cluster and etcd::

    cluster:
      name: alerting
      etcd: {endpoints: [http://127.0.0.1:2379], tls: {ca_file, cert_file, key_file, insecure_skip_verify},
             timeout: 5s}
      key_prefix: /tsdb
      lease_ttl: 10s
      node: ""            # default: this node's external URL
      rule_groups: replicated   # or spread: each rule group evaluated by one member

Every node evaluates its rules and holds every alert; exactly one, elected through an etcd lease, sends
notifications and runs escalations (:meth:`ClusterComponent.is_active`). The notification log, silences,
acknowledgements, escalations, page retries and on-call overrides are shared through etcd (the notification
and escalation components register them with :attr:`ClusterComponent.state`). With ``rule_groups: spread``
each rule group is evaluated by one live member (:meth:`ClusterComponent.owner_of`, rendezvous hashing) and
alerts go to every member (:meth:`ClusterComponent.peer_urls`). Serves
``GET /api/v1/status/cluster`` and exposes ``tsdb_cluster_*`` metrics. Changing the section needs a restart.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from prometheus_client import Counter, Gauge

from tsdb.cluster.etcd import EtcdClient
from tsdb.cluster.ownership import owner
from tsdb.cluster.session import ClusterSession
from tsdb.cluster.state import ReplicatedState
from tsdb.config import ServerConfig, parse_duration_ms
from tsdb.errors import ConfigError
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext
from tsdb.tls_client import client_ssl_context

_KEYS = {"name", "etcd", "key_prefix", "lease_ttl", "node", "rule_groups"}
RULE_GROUP_MODES = ("replicated", "spread")
_ETCD_KEYS = {"endpoints", "tls", "timeout"}
_TLS_KEYS = {"ca_file", "cert_file", "key_file", "insecure_skip_verify"}


class ClusterComponent:
    name = "cluster"

    def __init__(self, context: ServerContext, section: dict[str, Any]) -> None:
        self.section = section
        settings = parse_section(section)
        self.node = settings["node"] or context.external_url
        self.client = EtcdClient(settings["endpoints"], timeout_s=settings["timeout_s"],
                                 ssl_context=settings["ssl"])
        self.session = ClusterSession(self.client, cluster=settings["name"], node=self.node,
                                      url=context.external_url, key_prefix=settings["key_prefix"],
                                      lease_ttl_s=settings["lease_ttl_s"])
        self.state = ReplicatedState(self.client, f"{self.session.root}/state", self.node)
        self.spread_rules = settings["rule_groups"] == "spread"
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._bind_metrics(context)
        context.services.cluster = self

    def is_active(self) -> bool:
        """Whether this node sends notifications now: it is the elected node and has the cluster's state."""
        return self.state.ready and self.session.is_leader()

    def members(self) -> list[str]:
        """The live members as last read from etcd, this node always among them."""
        return sorted({*self.session.status.members, self.node})

    def members_known(self) -> bool:
        """Whether the members have been read from etcd at least once."""
        return bool(self.session.status.members)

    def owner_of(self, item: str) -> str:
        """The member that owns ``item`` (a rule group's key) among :meth:`members`."""
        return owner(item, self.members())

    def peer_urls(self) -> list[str]:
        """The base URLs of the other live members."""
        urls = self.session.status.urls
        return sorted(url for name, url in urls.items() if name != self.node and url)

    def _bind_metrics(self, context: ServerContext) -> None:
        registry = context.metrics.registry
        Gauge("tsdb_cluster_leader", "1 while this node is the notification cluster's dispatcher.",
              registry=registry).set_function(lambda: float(self.is_active()))
        Gauge("tsdb_cluster_members", "Live members of the notification cluster (as last read from etcd).",
              registry=registry).set_function(lambda: float(len(self.session.status.members)))
        Gauge("tsdb_cluster_etcd_up", "1 when the last call to etcd succeeded.",
              registry=registry).set_function(lambda: float(self.session.status.connected))
        Gauge("tsdb_cluster_state_pending", "Alerting state changes not yet written to etcd.",
              registry=registry).set_function(lambda: float(self.state.pending))
        changes = Counter("tsdb_cluster_leader_changes", "Times this node became or stopped being the dispatcher.",
                          registry=registry)
        self.session.on_leadership.append(lambda _: changes.inc())

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/api/v1/status/cluster", self.status)]

    async def status(self, request: web.Request) -> web.Response:
        """This node, the dispatcher, the live members and the health of the link to etcd."""
        s = self.session.status
        return web.json_response({"status": "success", "data": {
            "cluster": self.session.cluster, "node": self.node, "leader": s.leader, "dispatching": self.is_active(),
            "members": s.members, "memberUrls": s.urls,
            "ruleGroups": "spread" if self.spread_rules else "replicated",
            "etcd": {"endpoints": self.client.endpoints, "connected": s.connected, "lastError": s.last_error},
            "state": {"ready": self.state.ready, "pending": self.state.pending, "applied": self.state.applied},
            "leaseTtlSeconds": self.session.lease_ttl_s, "time": time.time()}})

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.state.run(self._stop)), loop.create_task(self.session.run(self._stop))]

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        if dict(config.cluster or {}) != self.section:
            raise ConfigError("cluster: changing the cluster section needs a restart")
        return UNCHANGED

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.close()


def parse_section(section: dict[str, Any]) -> dict[str, Any]:
    """The ``cluster`` section's settings; ConfigError naming the offending key."""
    unknown = sorted(set(map(str, section)) - _KEYS)
    if unknown:
        raise ConfigError(f"cluster: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    name = section.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError(f"cluster.name: expected a name without '/', got {name!r}")
    etcd = section.get("etcd")
    if not isinstance(etcd, dict):
        raise ConfigError("cluster.etcd: expected a mapping with endpoints")
    unknown = sorted(set(map(str, etcd)) - _ETCD_KEYS)
    if unknown:
        raise ConfigError(f"cluster.etcd: unknown key {unknown[0]!r} (known: {', '.join(sorted(_ETCD_KEYS))})")
    endpoints = etcd.get("endpoints")
    if isinstance(endpoints, str):
        endpoints = [endpoints]
    if not isinstance(endpoints, list) or not endpoints or not all(
            isinstance(e, str) and e.startswith(("http://", "https://")) for e in endpoints):
        raise ConfigError(f"cluster.etcd.endpoints: expected http:// or https:// URLs, got {endpoints!r}")
    tls = etcd.get("tls") or {}
    if not isinstance(tls, dict) or set(map(str, tls)) - _TLS_KEYS:
        raise ConfigError(f"cluster.etcd.tls: expected a mapping of {', '.join(sorted(_TLS_KEYS))}")
    ssl = None
    if tls or any(e.startswith("https://") for e in endpoints):
        try:
            ssl = client_ssl_context(str(tls.get("ca_file") or ""), str(tls.get("cert_file") or ""),
                                     str(tls.get("key_file") or ""), bool(tls.get("insecure_skip_verify")))
        except OSError as err:
            raise ConfigError(f"cluster.etcd.tls: {err}") from err
    ttl_ms = parse_duration_ms(section.get("lease_ttl", "10s"), "cluster.lease_ttl")
    if ttl_ms < 2000 or ttl_ms % 1000:
        raise ConfigError(f"cluster.lease_ttl: whole seconds, at least 2s, got {section.get('lease_ttl')!r}")
    prefix = section.get("key_prefix", "/tsdb")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ConfigError(f"cluster.key_prefix: expected a key prefix starting with '/', got {prefix!r}")
    node = section.get("node") or ""
    if not isinstance(node, str):
        raise ConfigError(f"cluster.node: expected a name, got {node!r}")
    mode = section.get("rule_groups", "replicated")
    if mode not in RULE_GROUP_MODES:
        raise ConfigError(f"cluster.rule_groups: {mode!r} is not one of {', '.join(RULE_GROUP_MODES)}")
    return {"name": name, "endpoints": endpoints, "rule_groups": mode, "ssl": ssl, "key_prefix": prefix,
            "lease_ttl_s": ttl_ms // 1000, "node": str(node),
            "timeout_s": parse_duration_ms(etcd.get("timeout", "5s"), "cluster.etcd.timeout") / 1000}


def build(context: ServerContext) -> ClusterComponent | None:
    section = dict(context.config.cluster or {})
    return ClusterComponent(context, section) if section else None


def wanted(config: ServerConfig) -> bool:
    return bool(config.cluster)
