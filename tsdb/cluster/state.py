"""Alerting state shared by the nodes of a notification cluster through etcd.

Each kind of state is a *namespace* (``nflog``, ``silences``, ``acks``, ...) of JSON values under
``{root}/{namespace}/{quoted key}``, wrapped as ``{"origin": node, "value": ...}``. Owners register a handler
per namespace and :meth:`ReplicatedState.publish` their changes; every node applies every other node's changes
through its handlers (its own are skipped: they are already applied). A deletion is published as ``None``.

:meth:`ReplicatedState.run` first reads everything (``ready`` then turns true: a node dispatches only once it
has the cluster's state), then watches for changes. Publishing never blocks: changes wait in a queue that one
writer task empties, retrying while etcd is unreachable (the latest value of a key wins), so nothing is lost
during an etcd outage as long as the node lives; each owner also keeps its state locally (SQLite). When the
watch breaks, everything is read again and differences (deletions included) are applied, so a node that was
cut off catches up. Namespaces registered with ``offer_local`` also publish the node's own entries that etcd
lacks after the first read (state written while etcd was down, then the node restarted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from tsdb.cluster.etcd import EtcdClient, EtcdError, Event

log = logging.getLogger("tsdb.cluster")

Handler = Callable[[str, Any], None]
"""Applies another node's change: (key, value; None when deleted). Runs on the event loop."""


@dataclass
class _Namespace:
    handler: Handler
    local: Callable[[], dict[str, Any]] | None
    known: set[str]


class ReplicatedState:
    """Namespaced JSON state in etcd under ``root`` (see module docstring). ``publish`` is thread-safe."""

    def __init__(self, client: EtcdClient, root: str, node: str, *, retry_s: float = 1.0) -> None:
        self.client, self.root, self.node = client, root.rstrip("/") + "/", node
        self.retry_s = retry_s
        self.ready = False
        self.applied = 0
        """Changes from other nodes applied so far."""
        self._spaces: dict[str, _Namespace] = {}
        self._pending: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None

    def register(self, namespace: str, handler: Handler,
                 offer_local: Callable[[], dict[str, Any]] | None = None) -> None:
        """Apply other nodes' changes of ``namespace`` with ``handler``; ``offer_local`` returns this node's
        entries (key -> value) to publish after the first read where etcd has none."""
        if "/" in namespace:
            raise ValueError(f"namespace {namespace!r}: no '/' allowed")
        self._spaces[namespace] = _Namespace(handler, offer_local, set())

    @property
    def pending(self) -> int:
        """Changes not yet written to etcd."""
        with self._lock:
            return len(self._pending)

    def publish(self, namespace: str, key: str, value: Any) -> None:
        """Queue a change for etcd (``value`` None deletes); returns at once, from any thread."""
        with self._lock:
            self._pending.pop((namespace, key), None)  # re-queued last: order of latest changes kept
            self._pending[(namespace, key)] = value
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(wake.set)

    async def flush(self, timeout_s: float) -> bool:
        """Wait until every queued change is in etcd (False: not within ``timeout_s``)."""
        if self._idle is None:
            return self.pending == 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        return self.pending == 0

    def _etcd_key(self, namespace: str, key: str) -> str:
        return f"{self.root}{namespace}/{quote(key, safe='')}"

    def _split(self, etcd_key: str) -> tuple[str, str] | None:
        namespace, _, quoted = etcd_key[len(self.root):].partition("/")
        return (namespace, unquote(quoted)) if namespace in self._spaces and quoted else None

    # -- background work ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Read, then watch and write, until ``stop``; re-read after any etcd failure."""
        self._loop = asyncio.get_running_loop()
        self._wake, self._idle = asyncio.Event(), asyncio.Event()
        writer = asyncio.ensure_future(self._write_loop(stop))
        try:
            while not stop.is_set():
                try:
                    revision = await self._read_all()
                    watch = asyncio.ensure_future(self._watch(revision + 1))
                    stopped = asyncio.ensure_future(stop.wait())
                    await asyncio.wait([watch, stopped], return_when=asyncio.FIRST_COMPLETED)
                    stopped.cancel()
                    if not watch.done():
                        watch.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await watch
                        break
                    watch.result()  # raises what broke it
                except EtcdError as err:
                    log.warning("cluster state sync interrupted", extra={"error": str(err), "node": self.node})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.retry_s)
        finally:
            if not writer.done():  # what is queued at a stop goes out if etcd answers at once
                await self.flush(1.0)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _read_all(self) -> int:
        revision, kvs = await self.client.get_prefix(self.root)
        seen: dict[str, dict[str, Any]] = {name: {} for name in self._spaces}
        for kv in kvs:
            split = self._split(kv.key)
            if split is None:
                continue
            try:
                seen[split[0]][split[1]] = json.loads(kv.value)["value"]
            except (ValueError, KeyError, TypeError):
                log.error("unreadable cluster state entry", extra={"key": kv.key})
        for name, space in self._spaces.items():
            values = seen[name]
            with self._lock:
                queued = {k for (n, k) in self._pending if n == name}
            for key in sorted(space.known - set(values) - queued):
                self._apply(space, key, None)
            for key, value in values.items():
                if key not in queued:  # this node's newer change wins: it is on its way to etcd
                    self._apply(space, key, value)
            if not self.ready and space.local is not None:
                for key, value in space.local().items():
                    if key not in values:
                        self.publish(name, key, value)
        self.ready = True
        return revision

    def _apply(self, space: _Namespace, key: str, value: Any) -> None:
        if value is None:
            space.known.discard(key)
        else:
            space.known.add(key)
        try:
            space.handler(key, value)
        except Exception:  # one bad entry must not stop the others
            log.exception("applying cluster state failed", extra={"key": key})
        self.applied += 1

    async def _watch(self, revision: int) -> None:
        async for events in self.client.watch(self.root, revision):
            for event in events:
                self._on_event(event)

    def _on_event(self, event: Event) -> None:
        split = self._split(event.key)
        if split is None:
            return
        space = self._spaces[split[0]]
        if event.value is None:
            self._apply(space, split[1], None)
            return
        try:
            envelope = json.loads(event.value)
        except ValueError:
            log.error("unreadable cluster state entry", extra={"key": event.key})
            return
        if envelope.get("origin") == self.node:
            space.known.add(split[1])  # this node's own change, already applied
            return
        self._apply(space, split[1], envelope.get("value"))

    async def _write_loop(self, stop: asyncio.Event) -> None:
        assert self._wake is not None and self._idle is not None
        while True:
            with self._lock:
                item = next(iter(self._pending.items()), None)
            if item is None:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            self._idle.clear()
            (namespace, key), value = item
            try:
                if value is None:
                    await self.client.delete(self._etcd_key(namespace, key))
                else:
                    body = json.dumps({"origin": self.node, "value": value}, sort_keys=True).encode()
                    await self.client.put(self._etcd_key(namespace, key), body)
            except EtcdError as err:
                log.warning("cluster state write failed; retrying", extra={"error": str(err), "key": key})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.retry_s)
                if stop.is_set():
                    return
                continue
            with self._lock:
                if self._pending.get((namespace, key), _GONE) is value:
                    del self._pending[(namespace, key)]  # unless a newer change came meanwhile


_GONE = object()
