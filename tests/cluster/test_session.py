"""Membership and the dispatcher election against a real etcd: one leader, takeover on resign, on a killed
leader (lease expiry) and a leader cut off from etcd stepping down before its lease can expire."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest

from tests.etcd_peer import EtcdProcess
from tests.waiting import wait_until_async
from tsdb.cluster.etcd import EtcdClient
from tsdb.cluster.session import ClusterSession

pytestmark = pytest.mark.external

TTL = 2


async def _until(condition: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``condition()`` holds; AssertionError after ``timeout_s``."""
    started = time.monotonic()
    await wait_until_async(condition, timeout_s)
    return time.monotonic() - started


class _Node:
    def __init__(self, url: str, cluster: str, name: str) -> None:
        self.client = EtcdClient([url], timeout_s=1)
        self.session = ClusterSession(self.client, cluster=cluster, node=name, url=f"http://{name}",
                                      lease_ttl_s=TTL)
        self.stop = asyncio.Event()
        self.task = asyncio.ensure_future(self.session.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        await self.task
        await self.client.close()


def _leaders(nodes: list[_Node]) -> list[str]:
    return [n.session.node for n in nodes if n.session.is_leader()]


def test_one_leader_and_takeover_on_resign_and_on_a_killed_leader(etcd: EtcdProcess) -> None:
    async def scenario() -> None:
        cluster = uuid.uuid4().hex[:8]
        nodes = [_Node(etcd.url, cluster, f"node-{i}") for i in range(3)]
        changes: list[bool] = []
        for node in nodes:
            node.session.on_leadership.append(changes.append)
        try:
            await _until(lambda: len(_leaders(nodes)) == 1, 10)
            await _until(lambda: all(len(n.session.status.members) == 3 for n in nodes), 10)
            assert nodes[0].session.status.members == ["node-0", "node-1", "node-2"]
            first = next(n for n in nodes if n.session.is_leader())
            await _until(lambda: all(n.session.status.leader == first.session.node for n in nodes), 10)

            # a clean stop resigns: another node leads within a poll or two
            await first.close()
            rest = [n for n in nodes if n is not first]
            took = await _until(lambda: len(_leaders(rest)) == 1, 5)
            assert took < 3
            assert len(rest[0].session.status.members) in (2, 3)  # read before or after the resignation

            # a killed leader (no resignation): the lease expires after its TTL, then another node leads
            second = next(n for n in rest if n.session.is_leader())
            second.task.cancel()
            killed_at = time.monotonic()
            survivor = next(n for n in rest if n is not second)
            await _until(survivor.session.is_leader, TTL + 5)
            assert time.monotonic() - killed_at >= TTL - 1  # not before the lease could have expired
            await second.client.close()
            assert changes.count(True) == 3
            await survivor.close()
        finally:
            for node in nodes:
                if not node.task.done():
                    await node.close()

    asyncio.run(scenario())


def test_a_leader_cut_off_from_etcd_steps_down_within_its_ttl(etcd: EtcdProcess) -> None:
    async def scenario() -> None:
        node = _Node(etcd.url, uuid.uuid4().hex[:8], "alone")
        try:
            await _until(node.session.is_leader, 10)
            etcd.kill()
            cut = time.monotonic()
            await _until(lambda: not node.session.is_leader(), TTL + 1)
            assert time.monotonic() - cut <= TTL  # before etcd could let the lease expire
            assert not node.session.status.connected and "etcd" in node.session.status.last_error
            etcd.start()
            await _until(node.session.is_leader, 15)  # the lease survives an etcd restart, or a new one is taken
        finally:
            if etcd.proc is None or etcd.proc.poll() is not None:
                etcd.start()
            await node.close()

    asyncio.run(scenario())


class _Proxy:
    """A TCP proxy on 127.0.0.1 to ``port``; :meth:`cut` drops every connection and refuses new ones (a
    network partition of whoever connects through it)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.server: asyncio.AbstractServer | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers = []


def test_a_partitioned_leader_stops_before_another_node_starts(etcd: EtcdProcess) -> None:
    async def scenario() -> None:
        proxy = _Proxy(etcd.client_port)
        cluster = uuid.uuid4().hex[:8]
        cut_off = _Node(await proxy.start(), cluster, "cut-off")
        try:
            await _until(cut_off.session.is_leader, 10)
            others = [_Node(etcd.url, cluster, f"other-{i}") for i in range(2)]
            await _until(lambda: all(len(n.session.status.members) == 3 for n in others), 10)
            stopped_at: list[float] = []
            started_at: list[float] = []

            async def watch() -> None:
                while not started_at:
                    now = time.monotonic()
                    if not stopped_at and not cut_off.session.is_leader():
                        stopped_at.append(now)
                    if any(n.session.is_leader() for n in others):
                        started_at.append(now)
                    await asyncio.sleep(0.01)

            watcher = asyncio.ensure_future(watch())
            await proxy.cut()
            cut = time.monotonic()
            await asyncio.wait_for(watcher, TTL + 10)
            assert stopped_at and stopped_at[0] < started_at[0]  # never two leaders at once
            assert stopped_at[0] - cut <= TTL and started_at[0] - cut <= TTL + 3
            for node in others:
                await node.close()
        finally:
            await cut_off.close()

    asyncio.run(scenario())
