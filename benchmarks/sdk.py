"""SDK overhead: the cost of recording metrics and pushing them, next to an instrumented request handler.

1. 1,000,000 counter increments (labelled child cached, as in a handler) and one snapshot + push of
   the registry to a tsdb server (in-process, 127.0.0.1).
2. An aiohttp handler doing a small amount of work, timed with and without the SDK middleware.
Prints the per-operation costs and the overhead as a percentage of the handler's time. Never asserts.
``python -m benchmarks sdk [--increments 1000000] [--requests 2000]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tsdb.config import ServerConfig
from tsdb.sdk import Counter, Pusher, Registry, aiohttp_middleware
from tsdb.server.app import Server


async def _handler(request: web.Request) -> web.Response:
    total = sum(i * i for i in range(2000))  # a small, realistic amount of work
    return web.Response(text=str(total))


async def _requests(n: int, instrumented: bool) -> float:
    app = web.Application(middlewares=[aiohttp_middleware(Registry(process_metrics=False))] if instrumented else [])
    app.router.add_get("/items/{id}", _handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        started = time.perf_counter()
        for i in range(n):
            async with client.get(f"/items/{i % 10}") as r:
                await r.read()
        return (time.perf_counter() - started) / n
    finally:
        await client.close()


async def _push_cost(registry: Registry, tmp: Path) -> float:
    server = Server(ServerConfig(data_dir=str(tmp / "d"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0"))
    await server.start()
    try:
        pusher = Pusher(f"127.0.0.1:{server.grpc_port}", registry=registry, start=False)
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        await loop.run_in_executor(None, pusher.flush, 30.0)
        cost = time.perf_counter() - started
        pusher.client.close()
        return cost
    finally:
        await server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks sdk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--increments", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    registry = Registry(process_metrics=False)
    counter = Counter("bench_total", "Bench.", ["route"], registry=registry).labels("/work")
    started = time.perf_counter()
    for _ in range(args.increments):
        counter.inc()
    inc_s = (time.perf_counter() - started) / args.increments
    with tempfile.TemporaryDirectory() as tmp:
        push_s = asyncio.run(_push_cost(registry, Path(tmp)))
    plain = asyncio.run(_requests(args.requests, False))
    instrumented = asyncio.run(_requests(args.requests, True))
    print(f"counter increment: {inc_s * 1e9:.0f} ns; snapshot + push of the registry: {push_s * 1000:.1f} ms")
    print(f"request: {plain * 1e6:.0f} us plain, {instrumented * 1e6:.0f} us with the SDK middleware "
          f"({(instrumented - plain) / plain * 100:+.1f} %)")
    per_request = 3 * inc_s  # a handler records about three updates (count, histogram, gauge)
    print(f"recording 3 updates per request: {per_request / plain * 100:.2f} % of the handler's time; "
          f"1M increments + one push: {(args.increments * inc_s + push_s) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
