"""Alerting state shared through a real etcd: changes reach the other nodes (never echoed back), the first
read applies what is there and offers what only this node has, and changes made while etcd is down are
written once it is back (nothing lost), with deletions missed meanwhile applied on the re-read."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.etcd_peer import EtcdProcess
from tests.waiting import wait_until_async
from tsdb.cluster.etcd import EtcdClient
from tsdb.cluster.state import ReplicatedState

pytestmark = pytest.mark.external


class _Node:
    def __init__(self, url: str, root: str, name: str, local: dict[str, Any] | None = None) -> None:
        self.client = EtcdClient([url], timeout_s=1)
        self.state = ReplicatedState(self.client, root, name, retry_s=0.2)
        self.seen: dict[str, Any] = {}
        self.calls: list[tuple[str, Any]] = []
        self.state.register("things", self._apply, offer_local=(lambda: dict(local)) if local else None)
        self.stop = asyncio.Event()
        self.task = asyncio.ensure_future(self.state.run(self.stop))

    def _apply(self, key: str, value: Any) -> None:
        self.calls.append((key, value))
        if value is None:
            self.seen.pop(key, None)
        else:
            self.seen[key] = value

    async def close(self) -> None:
        self.stop.set()
        await self.task
        await self.client.close()


def test_changes_reach_the_others_and_are_not_echoed(etcd: EtcdProcess) -> None:
    async def scenario() -> None:
        root = f"/t/{uuid.uuid4().hex[:8]}/state"
        a, b = _Node(etcd.url, root, "a", local={"old/1": {"n": 0}}), _Node(etcd.url, root, "b")
        try:
            await wait_until_async(lambda: a.state.ready and b.state.ready, 10)
            await wait_until_async(lambda: b.seen.get("old/1") == {"n": 0}, 10)  # a's local entry, offered to etcd
            a.state.publish("things", "x/y z", {"n": 1})
            a.state.publish("things", "x/y z", {"n": 2})  # the latest value wins
            await wait_until_async(lambda: b.seen.get("x/y z") == {"n": 2}, 10)
            assert await a.state.flush(5) and a.state.pending == 0
            assert a.calls == []  # its own changes are never applied back to it
            b.state.publish("things", "x/y z", None)
            await wait_until_async(lambda: a.calls == [("x/y z", None)], 10)  # another node's deletion reaches it

            late = _Node(etcd.url, root, "c")  # a node starting later reads what is there
            await wait_until_async(lambda: late.state.ready, 10)
            assert late.seen == {"old/1": {"n": 0}}
            await late.close()
        finally:
            await a.close()
            await b.close()

    asyncio.run(scenario())


def test_changes_made_while_etcd_is_down_are_written_when_it_returns(etcd: EtcdProcess) -> None:
    async def scenario() -> None:
        root = f"/t/{uuid.uuid4().hex[:8]}/state"
        a, b = _Node(etcd.url, root, "a"), _Node(etcd.url, root, "b")
        try:
            await wait_until_async(lambda: a.state.ready and b.state.ready, 10)
            a.state.publish("things", "gone-later", {"v": 1})
            await wait_until_async(lambda: "gone-later" in b.seen, 10)
            etcd.kill()
            for i in range(20):
                a.state.publish("things", f"k{i}", {"v": i})
            a.state.publish("things", "gone-later", None)
            await asyncio.sleep(0.5)
            assert a.state.pending > 0
            etcd.start()
            await wait_until_async(lambda: a.state.pending == 0, 20)
            await wait_until_async(lambda: len(b.seen) == 20 and "gone-later" not in b.seen, 20)
            assert b.seen == {f"k{i}": {"v": i} for i in range(20)}
        finally:
            if etcd.proc is None or etcd.proc.poll() is not None:
                etcd.start()
            await a.close()
            await b.close()

    asyncio.run(scenario())


def test_a_bad_entry_or_handler_failure_does_not_stop_the_others(etcd: EtcdProcess) -> None:
    async def scenario() -> None:
        root = f"/t/{uuid.uuid4().hex[:8]}/state"
        writer = EtcdClient([etcd.url])
        await writer.put(f"{root}/things/bad", b"not json")
        await writer.put(f"{root}/things/good", b'{"origin": "w", "value": 1}')
        await writer.put(f"{root}/other/ignored", b'{"origin": "w", "value": 1}')  # no such namespace
        node = _Node(etcd.url, root, "n")
        try:
            await wait_until_async(lambda: node.state.ready, 10)
            assert node.seen == {"good": 1}
            await writer.put(f"{root}/things/bad2", b"{")
            await writer.put(f"{root}/things/good2", b'{"origin": "w", "value": 2}')
            await wait_until_async(lambda: node.seen.get("good2") == 2, 10)
            with pytest.raises(ValueError, match="namespace"):
                node.state.register("a/b", node._apply)
        finally:
            await node.close()
            await writer.close()

    asyncio.run(scenario())
