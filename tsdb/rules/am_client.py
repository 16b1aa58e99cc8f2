"""A Notifier that posts alerts to Alertmanagers' API v2 (``POST /api/v2/alerts``), as Prometheus does.

``send`` queues and returns at once (thread-safe); a background thread posts batches of at most 256
alerts to every configured Alertmanager, dropping the oldest queued alerts past ``capacity``.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence

from tsdb.alerting.model import Alert
from tsdb.secrets import redact_url, redact_urls
from tsdb.timefmt import format_rfc3339

log = logging.getLogger("tsdb.rules.am")

BATCH = 256


def _rfc3339(seconds: float) -> str:
    return format_rfc3339(seconds, "us")


def alert_payload(alerts: Sequence[Alert]) -> list[dict[str, object]]:
    """The API v2 JSON body for ``alerts``."""
    out = []
    for a in alerts:
        item: dict[str, object] = {"labels": a.labels, "annotations": a.annotations,
                                   "startsAt": _rfc3339(a.starts_at), "generatorURL": a.generator_url}
        if a.ends_at is not None:
            item["endsAt"] = _rfc3339(a.ends_at)
        out.append(item)
    return out


class AlertmanagerNotifier:
    """Posts alerts to each URL in ``urls`` (base URLs of Alertmanagers)."""

    def __init__(self, urls: Sequence[str], timeout_s: float = 10.0, capacity: int = 10_000) -> None:
        self.urls = list(urls)
        self.timeout_s = timeout_s
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=capacity)
        self.sent = 0
        self.errors = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="tsdb-am-notifier", daemon=True)
        self._thread.start()

    def send(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            try:
                self._queue.put_nowait(alert)
            except queue.Full:
                self.dropped += 1

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._post(batch)
                    return
                batch.append(nxt)
            self._post(batch)

    def _post(self, batch: list[Alert]) -> None:
        body = json.dumps(alert_payload(batch)).encode()
        for url in self.urls:
            request = urllib.request.Request(f"{url}/api/v2/alerts", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
                self.sent += len(batch)
            except (urllib.error.URLError, OSError) as err:
                self.errors += 1
                log.warning("alertmanager post failed", extra={"url": redact_url(url), "error": redact_urls(str(err))})

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=15)
