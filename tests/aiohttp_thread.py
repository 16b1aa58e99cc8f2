"""Serve an aiohttp application on 127.0.0.1 from a background thread, for tests that need a real peer
(a scrape target, a webhook receiver) while the test itself runs synchronous code."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class AiohttpThread:
    """``app`` served on ``127.0.0.1:<port>`` (a free port) until :meth:`close`; closing twice is harmless.
    :meth:`stop_listening` closes the port (connections are refused) until :meth:`listen_again`."""

    def __init__(self, app: web.Application) -> None:
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app)
        self._site: web.TCPSite | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="aiohttp-test-peer", daemon=True)
        self._thread.start()
        self.port: int = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False

    async def _start(self) -> int:
        await self._runner.setup()
        return await self._listen(0)

    async def _listen(self, port: int) -> int:
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self._site = site
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        return int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def _unlisten(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None

    def stop_listening(self) -> None:
        """Close the listening port (new connections are refused; the app keeps its state)."""
        asyncio.run_coroutine_threadsafe(self._unlisten(), self._loop).result(timeout=30)

    def listen_again(self) -> None:
        """Listen on the same port again."""
        asyncio.run_coroutine_threadsafe(self._listen(self.port), self._loop).result(timeout=30)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
