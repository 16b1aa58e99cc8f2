"""A Notifier that posts alerts to Alertmanagers' API v2 (``POST /api/v2/alerts``), as Prometheus does.

``send`` queues and returns at once (thread-safe). Each Alertmanager has its own sender thread and its own
queue of at most ``capacity`` alerts (past it the oldest queued alerts are dropped); a sender posts batches of
at most 256 alerts one after another, so a hung Alertmanager delays and fills only its own queue. A failed post
is not retried: the rule evaluator sends the alert again at its next resend. A URL's user information
(``http://user:pw@host``) is sent as basic auth, as Go's HTTP client (Prometheus's) sends it.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from tsdb.alerting.model import Alert
from tsdb.secrets import redact_url, redact_urls
from tsdb.timefmt import format_rfc3339

log = logging.getLogger("tsdb.rules.am")

BATCH = 256
CAPACITY = 10_000
"""Alerts queued per Alertmanager (Prometheus's ``--alertmanager.notification-queue-capacity`` default)."""


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


def _endpoint(url: str) -> tuple[str, dict[str, str]]:
    """The push URL of the Alertmanager at base ``url`` without its user information, and the headers."""
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json"}
    if parts.username is not None:
        user, password = unquote(parts.username), unquote(parts.password or "")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return f"{urlunsplit(parts)}/api/v2/alerts", headers


@dataclass(frozen=True)
class NotifierStats:
    """Counters of an :class:`AlertmanagerNotifier` since it was built (Prometheus's notifier semantics).

    ``sent[url]``: alerts posted to that Alertmanager, whatever the outcome; ``errors[url]``: those of them in
    failed posts; ``dropped``: alerts discarded from a full queue, counted once per Alertmanager queue;
    ``queue_length``: the longest queue now; ``capacity``: the size of each queue. Only the Alertmanagers
    configured now are listed."""

    sent: dict[str, int]
    errors: dict[str, int]
    dropped: int
    queue_length: int
    capacity: int


class _Sender:
    """One Alertmanager's queue and the thread posting it. ``put`` is thread-safe and never blocks on I/O."""

    def __init__(self, url: str, timeout_s: float, capacity: int) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._push_url, self._headers = _endpoint(url)
        self.sent = 0  # written by the sender thread only
        self.errors = 0
        self._queue: deque[Alert] = deque(maxlen=capacity)  # appending past maxlen drops from the left: oldest
        self._cond = threading.Condition()
        self._drain = False  # stop once the queue is empty
        self._discard = False  # stop after the post in flight
        self._thread = threading.Thread(target=self._run, name=f"tsdb-am-{redact_url(url)}", daemon=True)
        self._thread.start()

    def put(self, alerts: Sequence[Alert]) -> int:
        """Queue ``alerts``; returns how many queued alerts were dropped to make room (oldest first)."""
        with self._cond:
            capacity = self._queue.maxlen or 0
            dropped = max(0, len(self._queue) + len(alerts) - capacity)
            self._queue.extend(alerts)
            self._cond.notify()
        return dropped

    def __len__(self) -> int:
        return len(self._queue)

    def stop(self, *, drain: bool) -> None:
        """Ask the thread to stop: after posting what is queued (``drain``) or after the post in flight."""
        with self._cond:
            if drain:
                self._drain = True
            else:
                self._discard = True
                self._queue.clear()
            self._cond.notify()

    def join(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the thread to end; True when it has."""
        self._thread.join(timeout=max(0.0, timeout_s))
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not (self._drain or self._discard):
                    self._cond.wait()
                if self._discard or not self._queue:
                    return
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            self._post(batch)

    def _post(self, batch: list[Alert]) -> None:
        body = json.dumps(alert_payload(batch)).encode()
        request = urllib.request.Request(self._push_url, data=body, method="POST", headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except (OSError, http.client.HTTPException, ValueError) as err:  # URLError is an OSError
            # whatever one post raises must not end the sender: the next batch may well go through
            self.errors += len(batch)
            # the URL may carry a password (user:pw@) or a token: logs show scheme and host only
            log.warning("alertmanager post failed", extra={"url": redact_url(self.url),
                                                           "error": redact_urls(str(err))})
        finally:
            self.sent += len(batch)


class AlertmanagerNotifier:
    """Posts alerts to each URL in ``urls`` (base URLs of Alertmanagers), concurrently. Thread-safe."""

    def __init__(self, urls: Sequence[str], timeout_s: float = 10.0, capacity: int = CAPACITY) -> None:
        self.timeout_s = timeout_s
        self.capacity = capacity
        self.urls: list[str] = []
        self._senders: dict[str, _Sender] = {}
        self._dropped = 0
        self._closed = False
        self._lock = threading.Lock()
        self.set_urls(urls)

    def set_urls(self, urls: Sequence[str]) -> None:
        """Post to ``urls`` from now on (duplicates once). An Alertmanager kept keeps its queue and counters;
        a removed one's queue is discarded and its thread ends after the post in flight."""
        wanted = list(dict.fromkeys(urls))
        with self._lock:
            for url in [u for u in self._senders if u not in wanted]:
                self._senders.pop(url).stop(drain=False)
            if not self._closed:
                for url in wanted:
                    if url not in self._senders:
                        self._senders[url] = _Sender(url, self.timeout_s, self.capacity)
            self.urls = wanted

    def send(self, alerts: Sequence[Alert]) -> None:
        """Queue ``alerts`` for every Alertmanager; returns at once (nothing is sent after :meth:`close`)."""
        if not alerts:
            return
        with self._lock:
            if self._closed:
                return
            for sender in self._senders.values():
                self._dropped += sender.put(alerts)

    def stats(self) -> NotifierStats:
        """A snapshot of the counters (see :class:`NotifierStats`)."""
        with self._lock:
            senders = list(self._senders.values())
            dropped = self._dropped
        return NotifierStats({s.url: s.sent for s in senders}, {s.url: s.errors for s in senders}, dropped,
                             max((len(s) for s in senders), default=0), self.capacity)

    def close(self, timeout_s: float | None = None) -> None:
        """Post what is queued and stop, waiting at most ``timeout_s`` in all (default: the post timeout plus
        5 s); senders still busy then (a hung Alertmanager) drop their queues and end after their post."""
        deadline = time.monotonic() + (self.timeout_s + 5 if timeout_s is None else timeout_s)
        with self._lock:
            self._closed = True
            senders = list(self._senders.values())
        for sender in senders:
            sender.stop(drain=True)
        for sender in senders:
            if not sender.join(deadline - time.monotonic()):
                sender.stop(drain=False)
