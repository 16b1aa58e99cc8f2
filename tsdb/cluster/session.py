"""A node's membership in a notification cluster: an etcd lease, a member key and the dispatcher election.

Keys (under ``{key_prefix}/{cluster}``): ``members/{node, URL-quoted}`` (JSON ``{node, url, since}``) and
``leader`` (the dispatching node's name), both attached to the node's lease, so they vanish when the node
stops renewing it.

Leadership is a lease-held key created in one compare-and-create transaction: at most one node holds it. A node
considers itself the leader only while it is sure its lease is still alive: until ``sent + TTL - margin``,
where ``sent`` is when it sent the last keepalive that etcd answered. etcd keeps the lease at least TTL after
it *received* that keepalive, so a leader cut off from etcd (a partition, etcd down) stops acting as leader
before etcd can expire its key and another node can win the election. A standby polls the key every
``poll_s`` and campaigns as soon as it is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from tsdb.cluster.etcd import EtcdClient, EtcdError

log = logging.getLogger("tsdb.cluster")


@dataclass
class SessionStatus:
    """What the session knows, for the status API and the self metrics."""

    leader: str = ""
    """The dispatching node's name as last read from etcd ("" when none or unknown)."""
    members: list[str] = field(default_factory=list)
    """Live member names, sorted (as last read)."""
    urls: dict[str, str] = field(default_factory=dict)
    """Each live member's base URL (its external URL), by name."""
    connected: bool = False
    """Whether the last call to etcd succeeded."""
    last_error: str = ""
    leader_changes: int = 0
    """How often this node became or stopped being the leader."""


class ClusterSession:
    """Membership and election of one node; :meth:`run` keeps them until ``stop`` is set, then resigns."""

    def __init__(self, client: EtcdClient, *, cluster: str, node: str, url: str, key_prefix: str = "/tsdb",
                 lease_ttl_s: int = 10, clock: Callable[[], float] = time.monotonic) -> None:
        if lease_ttl_s < 2:
            raise ValueError(f"cluster.lease_ttl: at least 2s, got {lease_ttl_s}s")
        self.client, self.cluster, self.node, self.url = client, cluster, node, url
        self.root = f"{key_prefix.rstrip('/')}/{cluster}"
        self.lease_ttl_s = lease_ttl_s
        self.clock = clock
        self.poll_s = min(1.0, lease_ttl_s / 4)
        self.margin_s = max(0.5, lease_ttl_s / 10)
        self.status = SessionStatus()
        self._lease = 0
        self._valid_until = 0.0  # the lease surely lives until then (this node's clock)
        self._renewed_at = -1e18
        self._leader_rev = 0  # create revision of the leader key while this node holds it
        self.on_leadership: list[Callable[[bool], None]] = []
        """Called (on the event loop) when this node starts or stops being the leader."""

    @property
    def member_key(self) -> str:
        return f"{self.root}/members/{quote(self.node, safe='')}"

    @property
    def leader_key(self) -> str:
        return f"{self.root}/leader"

    def is_leader(self) -> bool:
        """Whether this node holds the election and its lease surely still lives."""
        return self._leader_rev != 0 and self.clock() < self._valid_until - self.margin_s

    async def run(self, stop: asyncio.Event) -> None:
        """Renew, campaign and read the members every ``poll_s`` until ``stop``; then resign (best effort)."""
        while not stop.is_set():
            was = self.is_leader()
            try:
                await self.step()
                self.status.connected, self.status.last_error = True, ""
            except EtcdError as err:
                if self.status.connected or not self.status.last_error:
                    log.warning("etcd unreachable", extra={"error": str(err), "node": self.node})
                self.status.connected, self.status.last_error = False, str(err)
            self._changed(was)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_s)
        await self.resign()

    def _changed(self, was: bool) -> None:
        now = self.is_leader()
        if now == was:
            return
        self.status.leader_changes += 1
        log.info("cluster leadership " + ("taken" if now else "lost"), extra={"node": self.node,
                                                                               "cluster": self.cluster})
        for callback in self.on_leadership:
            callback(now)

    async def step(self) -> None:
        """One round: keep the lease (a new one when it is gone), register, campaign, read the members."""
        if self._leader_rev and self.clock() >= self._valid_until - self.margin_s:
            self._leader_rev = 0  # too long without a renewal: no longer sure to be the only leader
        if not self._lease:
            await self._new_lease()
        elif self.clock() - self._renewed_at >= self.lease_ttl_s / 3:
            sent = self.clock()
            ttl = await self.client.keepalive(self._lease)
            if ttl <= 0:
                log.warning("cluster lease expired", extra={"node": self.node})
                self._lease, self._leader_rev = 0, 0
                await self._new_lease()
            else:
                self._valid_until, self._renewed_at = sent + ttl, sent
        await self._campaign()
        _, kvs = await self.client.get_prefix(f"{self.root}/members/")
        urls = {}
        for kv in kvs:
            name = unquote(kv.key.rsplit("/", 1)[-1])
            try:
                urls[name] = str(json.loads(kv.value).get("url", ""))
            except (ValueError, AttributeError):
                urls[name] = ""
        self.status.members, self.status.urls = sorted(urls), urls

    async def _new_lease(self) -> None:
        sent = self.clock()
        self._lease, ttl = await self.client.grant(self.lease_ttl_s)
        self._valid_until, self._renewed_at = sent + ttl, sent
        member = {"node": self.node, "url": self.url, "since": time.time()}
        await self.client.put(self.member_key, json.dumps(member).encode(), lease=self._lease)

    async def _campaign(self) -> None:
        created, holder = await self.client.create(self.leader_key, self.node.encode(), lease=self._lease)
        if holder is None:  # deleted between the two reads of the transaction: next round
            self._leader_rev, self.status.leader = 0, ""
            return
        self.status.leader = holder.value.decode()
        mine = holder.lease == self._lease and holder.value.decode() == self.node
        self._leader_rev = holder.create_revision if (created or mine) else 0

    async def resign(self) -> None:
        """Give up leadership and membership now (revoking the lease), so another node takes over at once."""
        was = self.is_leader()
        lease, self._lease, self._leader_rev = self._lease, 0, 0
        self._changed(was)
        if lease:
            try:
                await self.client.revoke(lease)
            except EtcdError as err:
                log.warning("could not resign from the cluster", extra={"error": str(err), "node": self.node})
