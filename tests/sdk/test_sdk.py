"""The instrumentation SDK: metric semantics, exposition that prometheus_client parses, the aiohttp
middleware, and pushing over gRPC into a real server (including the server being down at first)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from tsdb.config import ServerConfig
from tsdb.sdk import Counter, Gauge, Histogram, Pusher, Registry, Summary, aiohttp_middleware, instrument_asgi, render
from tsdb.server.app import Server


def test_metric_semantics_and_exposition() -> None:
    reg = Registry(process_metrics=False)
    c = Counter("jobs_total", "Jobs.", ["kind"], registry=reg)
    c.labels("a").inc()
    c.labels(kind="a").inc(2)
    with pytest.raises(ValueError, match="only go up"):
        c.labels("a").inc(-1)
    g = Gauge("queue_depth", "Depth.", registry=reg)
    g.set(5)
    g.dec(2)
    h = Histogram("latency_seconds", "Latency.", buckets=(0.1, 1.0), registry=reg)
    for v in (0.05, 0.5, 5):
        h.observe(v)
    s = Summary("size_bytes", "Sizes.", registry=reg)
    s.observe(10)
    s.observe(30)
    with pytest.raises(ValueError, match="already registered"):
        Gauge("queue_depth", registry=reg)
    with pytest.raises(ValueError, match="label values"):
        c.labels()
    parsed = {(smp.name, tuple(sorted(smp.labels.items()))): smp.value
              for fam in text_string_to_metric_families(render(reg)) for smp in fam.samples}
    assert parsed[("jobs_total", (("kind", "a"),))] == 3
    assert parsed[("queue_depth", ())] == 3
    assert parsed[("latency_seconds_bucket", (("le", "0.1"),))] == 1
    assert parsed[("latency_seconds_bucket", (("le", "1.0"),))] == 2  # cumulative
    assert parsed[("latency_seconds_bucket", (("le", "+Inf"),))] == 3 and parsed[("latency_seconds_count", ())] == 3
    assert parsed[("size_bytes_sum", ())] == 40 and parsed[("size_bytes_count", ())] == 2


def test_middlewares_record_route_templates() -> None:
    reg = Registry(process_metrics=False)

    async def item(request: web.Request) -> web.Response:
        return web.Response(text=request.match_info["id"])

    async def scenario() -> None:
        app = web.Application(middlewares=[aiohttp_middleware(reg)])
        app.router.add_get("/items/{id}", item)
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            for i in range(3):
                assert (await client.get(f"/items/{i}")).status == 200
            assert (await client.get("/nope")).status == 404
        finally:
            await client.close()

    asyncio.run(scenario())
    text = render(reg)
    assert 'http_requests_total{method="GET",route="/items/{id}",status="200"} 3.0' in text
    assert 'status="404"' in text and "http_request_duration_seconds_bucket" in text

    reg2 = Registry(process_metrics=False)

    async def asgi_app(scope: dict[str, object], receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    wrapped = instrument_asgi(asgi_app, reg2)
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    asyncio.run(wrapped({"type": "http", "method": "POST", "path": "/orders/17"}, None, send))
    assert 'http_requests_total{method="POST",route="/orders/*",status="201"} 1.0' in render(reg2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_push_survives_a_server_that_starts_late(tmp_path: Path) -> None:
    reg = Registry(process_metrics=True)
    orders = Counter("shop_orders_total", "Orders.", registry=reg)
    revenue = Gauge("shop_revenue_eur", "Revenue today.", registry=reg)
    orders.inc(3)
    revenue.set(129.5)
    port = _free_port()
    pusher = Pusher(f"127.0.0.1:{port}", job="shop", instance="web-1", registry=reg, interval_s=0.2,
                    queue_size=3, start=False)
    for _ in range(5):  # the queue holds 3 snapshots: 2 dropped, counted
        pusher.snapshot()
    assert pusher.dropped == 2
    assert not pusher._send_all() and pusher.failures == 1  # nobody listening yet

    async def scenario() -> list[dict[str, object]]:
        server = Server(ServerConfig(data_dir=str(tmp_path / "d"), http_listen="127.0.0.1:0",
                                     grpc_listen=f"127.0.0.1:{port}"))
        await server.start()
        try:
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(None, pusher.flush, 20.0)
            await loop.run_in_executor(None, pusher.close)
            import aiohttp

            async with aiohttp.ClientSession() as session, session.get(
                    f"http://127.0.0.1:{server.http_port}/api/v1/query",
                    params={"query": '{job="shop", __name__=~"shop_.*|process_cpu_seconds_total"}',
                            "time": str(time.time())}) as r:
                return list((await r.json())["data"]["result"])
        finally:
            await server.stop()

    result = asyncio.run(scenario())
    by_name = {r["metric"]["__name__"]: r for r in result}  # type: ignore[index]
    assert by_name["shop_orders_total"]["value"][1] == "3"  # type: ignore[index]
    assert by_name["shop_revenue_eur"]["metric"]["instance"] == "web-1"  # type: ignore[index]
    assert "process_cpu_seconds_total" in by_name and pusher.sent >= 4


def test_example_app_pushes_to_a_server(tmp_path: Path) -> None:
    """examples/sdk_app.py, run as a user would, against a real `tsdb serve`."""
    import subprocess
    import sys
    import urllib.request

    from tests.integration.serve import ROOT, ServeProcess

    server = ServeProcess(tmp_path / "data")
    app_port = _free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples" / "sdk_app.py"), "--tsdb",
                             f"127.0.0.1:{server.grpc_port}", "--port", str(app_port), "--seconds", "4"], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        bought = 0
        while time.monotonic() < deadline and bought < 3:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{app_port}/buy", timeout=2).read()
                bought += 1
            except OSError:
                time.sleep(0.2)
        assert proc.wait(timeout=60) == 0
        status, body = server.get("/api/v1/query", query='sum(shop_orders_total{job="shop"})')
        assert status == 200 and float(body["data"]["result"][0]["value"][1]) == 3
        status, body = server.get("/api/v1/query", query='http_requests_total{route="/buy"}')
        assert float(body["data"]["result"][0]["value"][1]) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        server.stop()
