"""A :class:`tsdb.server.app.Server` running in a background thread, for tests that drive it with real
blocking clients (curl, promtool, amtool, the gRPC client) from the test's own thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from tsdb.config import ServerConfig
from tsdb.server.app import Server


class ServerThread:
    """``Server(config)`` started on its own event loop; :meth:`close` stops it (closing twice is harmless)."""

    def __init__(self, config: ServerConfig, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tsdb-test-server", daemon=True)
        self._thread.start()
        self.server = Server(config, **kwargs)
        try:
            self.call(self.server.start())
        except BaseException:
            self._shutdown()
            raise
        self._closed = False

    def call(self, coro: Any, timeout_s: float = 60) -> Any:
        """Run a coroutine on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout_s)

    def _shutdown(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.call(self.server.stop())
        self._shutdown()

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
