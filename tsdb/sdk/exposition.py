"""The registry in the Prometheus text format (for scraping), and an aiohttp handler serving it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from tsdb.sdk.registry import DEFAULT_REGISTRY, Registry


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def render(registry: Registry = DEFAULT_REGISTRY) -> str:
    """Text format 0.0.4 of every metric (with HELP and TYPE) and the process metrics."""
    lines = []
    for metric in registry.collectors():
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for name, labels, value in metric.samples():
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{inner}}} {_value(value)}" if inner else f"{name} {_value(value)}")
    if registry.process_metrics:
        for name, _, value in registry._process():
            lines.append(f"{name} {_value(value)}")
    return "\n".join(lines) + "\n"


def scrape_handler(registry: Registry = DEFAULT_REGISTRY) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler for ``GET /metrics``."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=render(registry), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type": "version=0.0.4"})

    return handler
