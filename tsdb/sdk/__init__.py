"""tsdb's Python instrumentation SDK: metrics in your application, pushed to tsdb or scraped.

    from tsdb import sdk
    requests = sdk.Counter("app_requests_total", "Requests.", ["route", "status"])
    requests.labels("/", "200").inc()
    pusher = sdk.Pusher("127.0.0.1:9202", job="shop")   # background gRPC push every 10 s
    ...
    pusher.close()

See docs/sdk.md.
"""

from tsdb.sdk.exposition import render, scrape_handler
from tsdb.sdk.metrics import Counter, Gauge, Histogram, Summary
from tsdb.sdk.middleware import aiohttp_middleware, instrument_asgi
from tsdb.sdk.push import Pusher
from tsdb.sdk.registry import DEFAULT_REGISTRY, Registry

__all__ = ["DEFAULT_REGISTRY", "Counter", "Gauge", "Histogram", "Pusher", "Registry", "Summary",
           "aiohttp_middleware", "instrument_asgi", "render", "scrape_handler"]
