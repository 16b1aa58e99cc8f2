"""The etcd v3 JSON-gateway client against a real etcd."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.etcd_peer import EtcdProcess, running_etcd
from tests.integration.serve import free_port
from tests.tls_certs import make_certs
from tsdb.cluster.etcd import EtcdClient, EtcdError, prefix_end
from tsdb.tls_client import client_ssl_context

pytestmark = pytest.mark.external


def _prefix() -> str:
    return f"/t/{uuid.uuid4().hex[:8]}/"


def test_prefix_end() -> None:
    assert prefix_end("/a/") == b"/a0"
    assert prefix_end("a") == b"b"
    assert prefix_end("é") == b"\xc3\xaa"  # the last byte of the UTF-8 form plus one
    assert prefix_end("") == b"\0"


def test_keys_prefixes_and_create(etcd: EtcdProcess) -> None:
    async def scenario() -> None:
        client = EtcdClient([etcd.url])
        p = _prefix()
        try:
            assert await client.get(p + "missing") is None
            rev = await client.put(p + "a", b"1")
            await client.put(p + "b/c", "ü".encode())
            await client.put(p[:-1] + "0", b"outside")  # the next key after the prefix: not selected
            kv = await client.get(p + "a")
            assert kv is not None and kv.value == b"1" and kv.mod_revision == rev
            revision, kvs = await client.get_prefix(p)
            assert revision >= rev and [(k.key, k.value) for k in kvs] == [(p + "a", b"1"), (p + "b/c", "ü".encode())]
            created, holder = await client.create(p + "lock", b"me")
            assert created and holder is not None and holder.value == b"me"
            created, holder = await client.create(p + "lock", b"you")
            assert not created and holder is not None and holder.value == b"me"
            assert not await client.delete_if(p + "lock", holder.create_revision + 1000)
            assert await client.delete_if(p + "lock", holder.create_revision)
            assert await client.delete(p + "a") == 1 and await client.delete(p + "a") == 0
        finally:
            await client.close()

    asyncio.run(scenario())


def test_leases(etcd: EtcdProcess) -> None:
    async def scenario() -> None:
        client = EtcdClient([etcd.url])
        p = _prefix()
        try:
            lease, ttl = await client.grant(5)
            assert ttl == 5
            await client.put(p + "held", b"x", lease=lease)
            kv = await client.get(p + "held")
            assert kv is not None and kv.lease == lease
            assert 0 < await client.keepalive(lease) <= 5
            await client.revoke(lease)
            assert await client.get(p + "held") is None  # the key went with its lease
            assert await client.keepalive(lease) == 0
            await client.revoke(lease)  # already gone: no error
        finally:
            await client.close()

    asyncio.run(scenario())


def test_watch_sees_puts_and_deletes(etcd: EtcdProcess) -> None:
    async def scenario() -> None:
        client = EtcdClient([etcd.url])
        p = _prefix()
        try:
            revision, _ = await client.get_prefix(p)
            await client.put(p + "before", b"0")  # after the read: the watch from revision+1 sees it
            seen = []

            async def watch() -> None:
                async for events in client.watch(p, revision + 1):
                    seen.extend(events)
                    if len(seen) >= 3:
                        return

            task = asyncio.ensure_future(watch())
            await client.put(p + "k", b"1")
            await client.delete(p + "k")
            await asyncio.wait_for(task, 10)
            assert [(e.key, e.value) for e in seen] == [(p + "before", b"0"), (p + "k", b"1"), (p + "k", None)]
        finally:
            await client.close()

    asyncio.run(scenario())


def test_unreachable_endpoint_is_named_and_the_next_one_is_used(etcd: EtcdProcess) -> None:
    dead = f"http://127.0.0.1:{free_port()}"

    async def scenario() -> None:
        only_dead = EtcdClient([dead], timeout_s=2)
        with pytest.raises(EtcdError, match=f"no endpoint answered.*{dead}"):
            await only_dead.get("/x")
        await only_dead.close()
        both = EtcdClient([dead, etcd.url], timeout_s=2)
        await both.put("/t/failover", b"ok")
        kv = await both.get("/t/failover")
        assert kv is not None and kv.value == b"ok"
        await both.close()

    asyncio.run(scenario())


def test_refused_request_names_the_call(etcd: EtcdProcess) -> None:
    async def scenario() -> None:
        client = EtcdClient([etcd.url])
        with pytest.raises(EtcdError, match="kv/put: etcdserver: requested lease not found"):
            await client.put("/t/x", b"1", lease=12345)
        await client.close()

    asyncio.run(scenario())


def test_tls_with_client_certificates(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "certs", server_also_client=True)
    tls = (certs.ca, certs.server_cert, certs.server_key, certs.client_cert, certs.client_key)
    with running_etcd(tmp_path, tls) as etcd:
        assert etcd.url.startswith("https://")

        async def scenario() -> None:
            trusted = EtcdClient([etcd.url], ssl_context=client_ssl_context(
                str(certs.ca), str(certs.client_cert), str(certs.client_key)))
            await trusted.put("/t/tls", b"secure")
            kv = await trusted.get("/t/tls")
            assert kv is not None and kv.value == b"secure"
            await trusted.close()
            no_cert = EtcdClient([etcd.url], timeout_s=2, ssl_context=client_ssl_context(str(certs.ca)))
            with pytest.raises(EtcdError, match="no endpoint answered"):
                await no_cert.get("/t/tls")
            await no_cert.close()
            untrusted = EtcdClient([etcd.url], timeout_s=2, ssl_context=client_ssl_context(str(certs.other_ca)))
            with pytest.raises(EtcdError, match=r"(?i)certificate"):
                await untrusted.get("/t/tls")
            await untrusted.close()

        asyncio.run(scenario())
