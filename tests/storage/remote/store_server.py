"""A store for remote tests: tsdb's HTTP API over an in-memory store, served on 127.0.0.1 by a thread.

Besides the API at ``/``, failing stores live under path prefixes: ``/broken`` answers 500, ``/garbage``
answers streamed bytes that are no frames, ``/slow`` waits 2 s, ``/samples`` answers remote-read with
``SAMPLES`` only, ``/auth`` wants ``Authorization: Bearer t0ken`` and ``/basic`` user ``u`` password ``p``.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse, parse_matchers
from tsdb.server import remote_read as rr
from tsdb.server.backend import Backend
from tsdb.server.http_api import HttpApi
from tsdb.storage.memory import MemoryStore

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class StoreServer:
    """Serves ``store`` until :meth:`close`; ``url`` is its base URL."""

    def __init__(self, store: MemoryStore, external_labels: dict[str, str] | None = None) -> None:
        self.store = store
        backend = Backend(queryable=store, appendable=store, engine=Engine(store), parse_matchers=parse_matchers,
                          format_query=lambda q: str(parse(q)), external_labels=external_labels or {})
        self.loop = asyncio.new_event_loop()
        self.app = web.Application(middlewares=[self._prefixes])
        self.app.add_routes(HttpApi(backend).routes())
        self.app.router.add_post("/samples/api/v1/read", self._samples_only)
        self._runner = web.AppRunner(self.app)
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise TimeoutError("store server did not start")
        self.url = f"http://127.0.0.1:{self.port}"

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._runner.cleanup())
        self.loop.close()

    @web.middleware
    async def _prefixes(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/broken/"):
            return web.Response(status=500, text="disk on fire")
        if path.startswith("/garbage/"):
            return web.Response(body=b"\x05abc", content_type="application/x-streamed-protobuf")
        if path.startswith("/badjson/"):
            return web.Response(text='{"status":"error"}', content_type="application/json")
        if path.startswith("/slow/"):
            await asyncio.sleep(2)
            return web.Response(status=500)
        if path.startswith("/auth/"):
            if request.headers.get("Authorization") != "Bearer t0ken":
                return web.Response(status=401, text="unauthorized")
            return await self._forward(request, "/auth")
        if path.startswith("/basic/"):
            if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"u:p").decode():
                return web.Response(status=401, text="unauthorized")
            return await self._forward(request, "/basic")
        return await handler(request)

    async def _forward(self, request: web.Request, prefix: str) -> web.StreamResponse:
        """The answer the unprefixed path gives."""
        clone = request.clone(rel_url=request.rel_url.path[len(prefix):] + "?" + request.rel_url.query_string)
        match = await self.app.router.resolve(clone)
        return await match.handler(clone)

    async def _samples_only(self, request: web.Request) -> web.Response:
        read = rr.decode_read_request(await request.read(), 1 << 20)
        body = rr.samples_response(self.store, read, {}, rr.ReadLimits())
        return web.Response(body=body, content_type="application/x-protobuf", headers={"Content-Encoding": "snappy"})

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)


def memory_store(*series: tuple[dict[str, str], list[int], list[float]]) -> MemoryStore:
    """A store holding ``series`` (labels, timestamps, values)."""
    store = MemoryStore()
    for labels, ts, values in series:
        store.add(Labels(labels), ts, values)
    return store
