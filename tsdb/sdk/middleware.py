"""HTTP request metrics for aiohttp and ASGI apps: requests, latency histogram, in-flight.

Labels are the method, the route *template* (not the raw path, so cardinality stays bounded) and the
status code: ``http_requests_total``, ``http_request_duration_seconds``, ``http_requests_in_flight``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tsdb.sdk.metrics import Counter, Gauge, Histogram
from tsdb.sdk.registry import DEFAULT_REGISTRY, Registry


class HttpMetrics:
    def __init__(self, registry: Registry = DEFAULT_REGISTRY) -> None:
        self.requests = Counter("http_requests_total", "HTTP requests.", ["method", "route", "status"], registry)
        self.duration = Histogram("http_request_duration_seconds", "HTTP request latency.", ["method", "route"],
                                  registry=registry)
        self.in_flight = Gauge("http_requests_in_flight", "HTTP requests being served.", [], registry)


def aiohttp_middleware(registry: Registry = DEFAULT_REGISTRY) -> Any:
    """An aiohttp middleware recording the request metrics (route = the resource's canonical path)."""
    metrics = HttpMetrics(registry)

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        started = time.perf_counter()
        metrics.in_flight.inc()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as err:
            status = err.status
            raise
        finally:
            metrics.in_flight.dec()
            metrics.requests.labels(request.method, route, str(status)).inc()
            metrics.duration.labels(request.method, route).observe(time.perf_counter() - started)

    return middleware


def instrument_asgi(app: Any, registry: Registry = DEFAULT_REGISTRY,
                    route_of: Callable[[dict[str, Any]], str] | None = None) -> Any:
    """Wrap an ASGI app; ``route_of(scope)`` names the route (default: the first path segment + ``/*``)."""
    metrics = HttpMetrics(registry)

    def default_route(scope: dict[str, Any]) -> str:
        parts = str(scope.get("path", "/")).strip("/").split("/")
        return "/" + parts[0] + ("/*" if len(parts) > 1 else "") if parts[0] else "/"

    name_of = route_of or default_route

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        status = [500]

        async def capture(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status[0] = int(message.get("status", 500))
            await send(message)

        started = time.perf_counter()
        metrics.in_flight.inc()
        try:
            await app(scope, receive, capture)
        finally:
            metrics.in_flight.dec()
            route = name_of(scope)
            metrics.requests.labels(scope.get("method", ""), route, str(status[0])).inc()
            metrics.duration.labels(scope.get("method", ""), route).observe(time.perf_counter() - started)

    return wrapped
