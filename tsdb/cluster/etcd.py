"""A small asyncio client of etcd's v3 API over its JSON gateway (``/v3/kv/*``, ``/v3/lease/*``, ``/v3/watch``).

Only what the notification cluster needs: reads and writes of single keys and prefixes, one compare-and-create
transaction (elections), leases and a prefix watch. Keys are text, values bytes (the gateway carries both in
base64). Several endpoints may be given: a request that cannot reach one tries the next, so a three-member etcd
cluster survives the loss of a member. Every request has a timeout; failures raise :class:`EtcdError` naming
the endpoint and the call. Works with etcd 3.4 and later.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from tsdb.errors import TsdbError


class EtcdError(TsdbError, ConnectionError):
    """etcd could not be reached or refused a request."""


@dataclass(frozen=True)
class KeyValue:
    """One key as etcd holds it (``lease`` 0: none)."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int = 0


@dataclass(frozen=True)
class Event:
    """A change seen by a watch: ``value`` None for a deletion."""

    key: str
    value: bytes | None
    revision: int


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: str) -> bytes:
    """The ``range_end`` selecting every key starting with ``prefix`` (its last byte plus one)."""
    raw = bytearray(prefix.encode())
    while raw and raw[-1] == 0xFF:
        raw.pop()
    if not raw:
        return b"\0"  # every key
    raw[-1] += 1
    return bytes(raw)


def _kv(raw: dict[str, Any]) -> KeyValue:
    return KeyValue(_unb64(raw["key"]).decode(), _unb64(raw.get("value", "")), int(raw.get("create_revision", 0)),
                    int(raw.get("mod_revision", 0)), int(raw.get("lease", 0)))


class EtcdClient:
    """The v3 JSON gateway of one etcd cluster. Use from one event loop; :meth:`close` when done."""

    def __init__(self, endpoints: Sequence[str], *, timeout_s: float = 5.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        if not endpoints:
            raise ValueError("etcd: no endpoints")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout_s = timeout_s
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._current = 0  # the endpoint that answered last: tried first

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._ssl or False))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        errors = []
        for i in range(len(self.endpoints)):
            index = (self._current + i) % len(self.endpoints)
            url = f"{self.endpoints[index]}{path}"
            try:
                async with self._http().post(url, json=body,
                                             timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as response:
                    text = await response.text()
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                errors.append(f"{self.endpoints[index]}: {type(err).__name__}: {err}")
                continue
            self._current = index
            try:
                answer = json.loads(text)
            except ValueError:
                raise EtcdError(f"etcd {url}: not JSON (HTTP {response.status}): {text[:200]}") from None
            if response.status != 200 or "error" in answer:
                raise EtcdError(f"etcd {url}: {answer.get('message') or answer.get('error') or response.status}")
            return dict(answer)
        raise EtcdError(f"etcd {path}: no endpoint answered ({'; '.join(errors)})")

    # -- keys -------------------------------------------------------------------------------------------
    async def put(self, key: str, value: bytes, lease: int = 0) -> int:
        """Set ``key``; returns the new revision."""
        body: dict[str, Any] = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        answer = await self._call("/v3/kv/put", body)
        return int(answer["header"]["revision"])

    async def get(self, key: str) -> KeyValue | None:
        answer = await self._call("/v3/kv/range", {"key": _b64(key)})
        kvs = answer.get("kvs") or []
        return _kv(kvs[0]) if kvs else None

    async def get_prefix(self, prefix: str) -> tuple[int, list[KeyValue]]:
        """(the store's revision, every key under ``prefix`` sorted by key)."""
        answer = await self._call("/v3/kv/range", {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix))})
        return int(answer["header"]["revision"]), [_kv(raw) for raw in answer.get("kvs") or []]

    async def delete(self, key: str) -> int:
        """Remove ``key``; returns how many keys went (0 or 1)."""
        answer = await self._call("/v3/kv/deleterange", {"key": _b64(key)})
        return int(answer.get("deleted", 0))

    async def create(self, key: str, value: bytes, lease: int = 0) -> tuple[bool, KeyValue | None]:
        """Create ``key`` only if it does not exist (one transaction): (created, the key as it now is)."""
        put: dict[str, Any] = {"key": _b64(key), "value": _b64(value)}
        if lease:
            put["lease"] = str(lease)
        answer = await self._call("/v3/kv/txn", {
            "compare": [{"key": _b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
            "success": [{"request_put": put}, {"request_range": {"key": _b64(key)}}],
            "failure": [{"request_range": {"key": _b64(key)}}]})
        ranges = [r["response_range"] for r in answer.get("responses", []) if "response_range" in r]
        kvs = (ranges[-1].get("kvs") or []) if ranges else []
        return bool(answer.get("succeeded", False)), _kv(kvs[0]) if kvs else None

    async def delete_if(self, key: str, create_revision: int) -> bool:
        """Remove ``key`` only while it is the same key (created at ``create_revision``)."""
        answer = await self._call("/v3/kv/txn", {
            "compare": [{"key": _b64(key), "target": "CREATE", "result": "EQUAL",
                         "create_revision": str(create_revision)}],
            "success": [{"request_delete_range": {"key": _b64(key)}}], "failure": []})
        return bool(answer.get("succeeded", False))

    # -- leases -----------------------------------------------------------------------------------------
    async def grant(self, ttl_s: int) -> tuple[int, int]:
        """A new lease: (its id, the TTL granted in seconds)."""
        answer = await self._call("/v3/lease/grant", {"TTL": str(ttl_s)})
        return int(answer["ID"]), int(answer["TTL"])

    async def keepalive(self, lease: int) -> int:
        """Renew ``lease``; returns the TTL it now has (0: the lease is gone)."""
        answer = await self._call("/v3/lease/keepalive", {"ID": str(lease)})
        return int(answer.get("result", {}).get("TTL", 0))

    async def revoke(self, lease: int) -> None:
        """End ``lease`` now (its keys go with it); a lease already gone is no error."""
        try:
            await self._call("/v3/lease/revoke", {"ID": str(lease)})
        except EtcdError as err:
            if "lease not found" not in str(err):
                raise

    # -- watch ------------------------------------------------------------------------------------------
    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[list[Event]]:
        """Changes under ``prefix`` from ``start_revision`` on, a batch at a time, until the stream breaks
        (then EtcdError; a compacted start revision too: re-read the prefix and watch again)."""
        body = {"create_request": {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix)),
                                   "start_revision": str(start_revision)}}
        url = f"{self.endpoints[self._current]}/v3/watch"
        try:
            async with self._http().post(url, json=body, timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.timeout_s)) as response:
                if response.status != 200:
                    raise EtcdError(f"etcd {url}: HTTP {response.status}")
                async for line in response.content:
                    if not line.strip():
                        continue
                    result = json.loads(line).get("result") or {}
                    if result.get("compact_revision") or result.get("canceled"):
                        raise EtcdError(f"etcd {url}: watch cancelled "
                                        f"({result.get('cancel_reason') or 'revision compacted'})")
                    events = [Event(_unb64(e["kv"]["key"]).decode(),
                                    None if e.get("type") == "DELETE" else _unb64(e["kv"].get("value", "")),
                                    int(e["kv"].get("mod_revision", 0)))
                              for e in result.get("events") or []]
                    if events:
                        yield events
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as err:
            self._current = (self._current + 1) % len(self.endpoints)  # try another member next time
            raise EtcdError(f"etcd {url}: watch broke: {type(err).__name__}: {err}") from err
        self._current = (self._current + 1) % len(self.endpoints)
        raise EtcdError(f"etcd {url}: watch stream ended")
