"""``GET /api/v1/alerts/stream``: server-sent events carrying the alerting rules' state for the web UI.

Each ``data:`` event is the JSON of ``/api/v1/rules?type=alert``'s ``data`` (groups with file, rules, state,
alerts), sent at once and then whenever it changes (checked every second). A ``: keepalive`` comment goes out
every 15 s; a stream ends after 30 minutes (browsers' ``EventSource`` reconnects by itself), so no connection
outlives its client for long.

The snapshot is taken at most once per check for all open streams together, in a worker thread: with
thousands of alerts its JSON takes a noticeable fraction of a second, which neither the event loop nor each
extra browser tab should pay again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

CHECK_S = 1.0
KEEPALIVE_S = 15.0
MAX_AGE_S = 1800.0


class _SharedSnapshot:
    """The snapshot's JSON text, recomputed (in the default executor) when older than half a check."""

    def __init__(self, snapshot: Callable[[], dict[str, Any] | None]) -> None:
        self.snapshot = snapshot
        self.taken = -math.inf
        self.value = ""
        self.lock = asyncio.Lock()

    def _compute(self) -> str:
        return json.dumps(self.snapshot() or {"groups": []}, separators=(",", ":"))

    async def text(self) -> str:
        async with self.lock:
            if time.monotonic() - self.taken >= CHECK_S / 2:
                self.value = await asyncio.get_running_loop().run_in_executor(None, self._compute)
                self.taken = time.monotonic()
            return self.value


def stream_handler(snapshot: Callable[[], dict[str, Any] | None], stop: asyncio.Event) -> Callable[[web.Request], Any]:
    """A handler streaming ``snapshot()`` (None: no rules configured, sent as no groups); every stream ends
    once ``stop`` is set (server shutdown)."""

    shared = _SharedSnapshot(snapshot)

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        started = last_sent = time.monotonic()
        previous = ""
        try:
            while time.monotonic() - started < MAX_AGE_S and not stop.is_set():
                text = await shared.text()
                if text != previous:
                    await response.write(f"data: {text}\n\n".encode())
                    previous, last_sent = text, time.monotonic()
                elif time.monotonic() - last_sent >= KEEPALIVE_S:
                    await response.write(b": keepalive\n\n")
                    last_sent = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), CHECK_S)
        except ConnectionResetError:
            pass  # the client went away
        return response

    return handler
