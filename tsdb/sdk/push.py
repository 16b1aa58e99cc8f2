"""Pushing metrics to tsdb over gRPC from a background thread.

Every ``interval_s`` the registry is snapshotted into a bounded queue (oldest snapshot dropped, and
counted, when the queue is full); the sender thread writes all queued snapshots on one gzip-compressed
``WriteStream``, retrying with exponential backoff while the server is
unreachable. ``flush()`` pushes now; ``close()`` flushes and stops.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from typing import Any

import numpy as np

from tsdb.labels import Labels
from tsdb.sdk.registry import DEFAULT_REGISTRY, Registry
from tsdb.server.remote_write import encode_write_request

log = logging.getLogger("tsdb.sdk")


class Pusher:
    """Pushes ``registry`` to the tsdb gRPC service at ``address`` with labels ``job`` and ``instance``."""

    def __init__(self, address: str = "127.0.0.1:9202", job: str = "app", instance: str | None = None,
                 registry: Registry = DEFAULT_REGISTRY, interval_s: float = 10.0, queue_size: int = 60,
                 extra_labels: dict[str, str] | None = None, start: bool = True) -> None:
        from tsdb.client import Client

        self.client = Client(address, timeout_s=10.0, compression=True)
        self.registry, self.interval_s = registry, interval_s
        self.labels = {"job": job, "instance": instance or socket.gethostname(), **(extra_labels or {})}
        self._queue: collections.deque[list[Any]] = collections.deque(maxlen=queue_size)
        self.dropped = 0
        self.sent = 0
        self.failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tsdb-sdk-push", daemon=True)
        if start:
            self._thread.start()

    def snapshot(self) -> None:
        """Queue the registry's current samples (timestamped now)."""
        now = np.array([int(time.time() * 1000)], np.int64)
        series = [(Labels({**labels, **self.labels, "__name__": name}), now, np.array([value], np.float64))
                  for name, labels, value in self.registry.collect()]
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(series)

    def _send_all(self) -> bool:
        """Send every queued snapshot on one WriteStream; on failure keep them for the next try."""
        with self._lock:
            batches = list(self._queue)
        if not batches:
            return True
        try:
            self.client.write_stream(iter([encode_write_request(b) for b in batches]))
        except Exception as err:  # grpc.RpcError and connection failures: keep the batches, retry later
            self.failures += 1
            log.warning("push failed, will retry", extra={"error": str(err)[:200]})
            return False
        with self._lock:
            for batch in batches:
                if self._queue and self._queue[0] is batch:
                    self._queue.popleft()
        self.sent += len(batches)
        return True

    def _run(self) -> None:
        backoff = 0.5
        next_snapshot = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= next_snapshot:
                self.snapshot()
                next_snapshot = time.monotonic() + self.interval_s
            if self._send_all():
                backoff = 0.5
                self._wake.wait(max(0.0, next_snapshot - time.monotonic()))
            else:
                self._wake.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            self._wake.clear()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Snapshot and push now; True when everything queued was delivered within ``timeout_s``."""
        self.snapshot()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._send_all():
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        self.flush(timeout_s=5.0)
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.client.close()
