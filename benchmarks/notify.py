"""Notification throughput and latency.

1. Dispatcher throughput: ``--alerts`` active alerts in ``--groups`` groups are put and re-put (as
   Prometheus re-sends them) and flushed; alerts/s through ``put`` and groups/s through ``tick`` with a
   sender that returns at once (the dispatcher's own cost).
2. Latency from alert arrival (``POST /api/v2/alerts`` on a real server) to webhook receipt (an aiohttp
   server on 127.0.0.1) with ``group_wait: 0s``; median of ``--latency-runs``.

``python -m benchmarks notify [--alerts 10000] [--groups 1000] [--latency-runs 5]``. Times printed, never
asserted; every loop bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession, web

from tsdb.alerting.config import parse_config
from tsdb.alerting.dispatcher import Dispatcher
from tsdb.alerting.model import Alert, DeliveryResult, Notification
from tsdb.config import ServerConfig
from tsdb.server.app import Server


class _Null:
    async def notify(self, notification: Notification) -> list[DeliveryResult]:
        return [DeliveryResult(notification.receiver, "null", True, 1)]


def dispatcher_throughput(alerts: int, groups: int) -> tuple[float, float]:
    clock = [1_000_000.0]
    config = parse_config("route: {receiver: r, group_by: [group], group_wait: 0s, group_interval: 1m}\n"
                          "receivers: [{name: r}]\n")
    d = Dispatcher(config, _Null(), clock=lambda: clock[0])
    batch = [Alert({"alertname": "A", "group": str(i % groups), "instance": str(i)}, {}, clock[0],
                   clock[0] + 3600, "", clock[0]) for i in range(alerts)]
    started = time.perf_counter()
    for _ in range(3):
        d.put(batch)
    put_rate = 3 * alerts / (time.perf_counter() - started)
    clock[0] += 1
    started = time.perf_counter()
    flushed = asyncio.run(d.tick())
    tick_s = time.perf_counter() - started
    return put_rate, flushed / tick_s


async def _latency(runs: int, tmp: Path) -> list[float]:
    got: asyncio.Queue[float] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        got.put_nowait(time.perf_counter())
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server = Server(ServerConfig(data_dir=str(tmp / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                                 notifications={"config": {
                                     "route": {"receiver": "w", "group_by": ["alertname"], "group_wait": "0s"},
                                     "receivers": [{"name": "w", "webhook_configs": [
                                         {"url": f"http://127.0.0.1:{port}/hook"}]}]}}))
    await server.start()
    out = []
    try:
        async with ClientSession() as session:
            for i in range(runs):
                sent = time.perf_counter()
                async with session.post(f"http://127.0.0.1:{server.http_port}/api/v2/alerts",
                                        json=[{"labels": {"alertname": f"L{i}"}}]) as response:
                    await response.read()
                with contextlib.suppress(TimeoutError):
                    out.append(await asyncio.wait_for(got.get(), 10) - sent)
    finally:
        await server.stop()
        await runner.cleanup()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks notify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--latency-runs", type=int, default=5)
    args = parser.parse_args(argv)
    put_rate, flush_rate = dispatcher_throughput(args.alerts, args.groups)
    print(f"dispatcher: {put_rate:,.0f} alerts/s through put ({args.alerts} active alerts, {args.groups} groups), "
          f"{flush_rate:,.0f} group flushes/s")
    with tempfile.TemporaryDirectory() as tmp:
        latencies = asyncio.run(_latency(args.latency_runs, Path(tmp)))
    if latencies:
        print(f"alert arrival -> webhook receipt (group_wait 0s): median {statistics.median(latencies) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
