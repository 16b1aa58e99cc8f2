"""A small aiohttp shop instrumented with tsdb.sdk, pushing its metrics to a tsdb server.

Run a server (`tsdb serve`), then `python examples/sdk_app.py --tsdb 127.0.0.1:9202 --port 8080` and open
http://127.0.0.1:8080/buy a few times; query `rate(shop_orders_total[1m])` or
`http_request_duration_seconds_count` in tsdb. `--seconds N` stops after N seconds (used by the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import random

from aiohttp import web

from tsdb import sdk

ORDERS = sdk.Counter("shop_orders_total", "Orders placed.", ["product"])
REVENUE = sdk.Gauge("shop_revenue_eur", "Revenue since start, in euros.")


async def buy(request: web.Request) -> web.Response:
    product = random.choice(["book", "pen", "lamp"])
    ORDERS.labels(product).inc()
    REVENUE.inc({"book": 12.5, "pen": 1.2, "lamp": 30.0}[product])
    return web.Response(text=f"bought a {product}\n")


async def main(tsdb: str, port: int, seconds: float) -> None:
    app = web.Application(middlewares=[sdk.aiohttp_middleware()])
    app.router.add_get("/buy", buy)
    app.router.add_get("/metrics", sdk.scrape_handler())  # also scrapeable
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    pusher = sdk.Pusher(tsdb, job="shop", interval_s=1.0)
    try:
        await asyncio.sleep(seconds)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, pusher.close)
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tsdb", default="127.0.0.1:9202", help="tsdb gRPC address")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seconds", type=float, default=3600.0)
    args = parser.parse_args()
    asyncio.run(main(args.tsdb, args.port, args.seconds))
