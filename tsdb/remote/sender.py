"""One remote: what it takes from commits (:meth:`Remote.enqueue`) and how it sends it (:meth:`Remote.run`).

``enqueue`` adds the external labels, applies ``write_relabel_configs`` (cached per series) and appends the
accepted samples to the remote's :class:`~tsdb.remote.queue.DiskQueue`. ``run`` reads rounds from the queue:
a round waits until ``max_samples_per_send`` samples are pending or ``batch_send_deadline`` passed, takes up
to ``capacity`` samples per shard, hashes each series to one of ``shards`` (pending samples / capacity,
between ``min_shards`` and ``max_shards``), and each shard sends its part in order in requests of at most
``max_samples_per_send`` samples, the shards at once. The round's queue position is acknowledged when every
request of it succeeded or was dropped, so delivery is at least once: a restart resends an unacknowledged round.

Errors: 5xx, 429 (with ``retry_on_http_429``) and connection errors are retried forever with exponential
backoff from ``min_backoff`` to ``max_backoff``, or after ``Retry-After`` when the receiver sends one;
other 4xx answers drop the request (``samples_failed_total`` and ``samples_dropped_total{reason="rejected"}``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import logging
import ssl
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt

import tsdb
from tsdb.labels import Labels
from tsdb.remote.config import RemoteWriteConfig, url_label
from tsdb.remote.queue import DiskQueue, decode_batch, encode_blobs, label_blob
from tsdb.scrape.relabel import relabel
from tsdb.secrets import redact_urls
from tsdb.server.remote_write import compress_snappy, encode_write_request
from tsdb.tls_client import client_ssl_context

log = logging.getLogger("tsdb.remote")

USER_AGENT = f"tsdb/{tsdb.__version__}"
_RELABEL_CACHE_MAX = 200_000
Series = tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64]]


@dataclass
class RemoteStats:
    """Counters the component exposes as ``tsdb_remote_write_*`` (read at scrape time)."""

    samples: int = 0
    failed: int = 0
    retried: int = 0
    dropped_rejected: int = 0
    sent_bytes: int = 0
    highest_sent_ms: int = 0
    shards: int = 0


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: a number of seconds or an HTTP date (None when absent or invalid)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def split_requests(series: list[Series], max_samples: int) -> list[list[Series]]:
    """``series`` in requests of at most ``max_samples`` samples, a long series split in time order."""
    requests: list[list[Series]] = []
    current: list[Series] = []
    room = max_samples
    for labels, ts, values in series:
        start = 0
        while start < len(ts):
            take = min(room, len(ts) - start)
            current.append((labels, ts[start:start + take], values[start:start + take]))
            start += take
            room -= take
            if room == 0:
                requests.append(current)
                current, room = [], max_samples
    if current:
        requests.append(current)
    return requests


def shard_of(labels: Labels, shards: int) -> int:
    return zlib.crc32("\xff".join(labels).encode()) % shards if shards > 1 else 0


def ssl_context(config: RemoteWriteConfig) -> ssl.SSLContext | None:
    """The client TLS context of ``tls_config`` (None for http:// URLs)."""
    if not config.url.startswith("https://"):
        return None
    tls = config.tls
    return client_ssl_context(tls.ca_file, tls.cert_file, tls.key_file, tls.insecure_skip_verify)


class Remote:
    """A configured remote: its queue, its relabelling and its sender task."""

    def __init__(self, config: RemoteWriteConfig, queue: DiskQueue, external_labels: Mapping[str, str]) -> None:
        self.config = config
        self.queue = queue
        self.external = dict(external_labels)
        self.stats = RemoteStats()
        self.dropped_queue_full = 0
        self._relabelled: dict[Labels, bytes | None] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._up: bool | None = None
        self._stop = asyncio.Event()
        self._pending_since: float | None = None
        headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                   "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": USER_AGENT, **dict(config.headers)}
        if config.basic_auth is not None:
            user, password = config.basic_auth
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        elif config.authorization is not None:
            headers["Authorization"] = f"{config.authorization[0]} {config.authorization[1]}"
        self.headers = headers

    # -- the commit side (any thread) -------------------------------------------------------------
    def _series_blob(self, labels: Labels) -> bytes | None:
        """The queued form of a series' forwarded labels (external labels added, relabelled; cached),
        None when relabelling drops the series."""
        try:
            return self._relabelled[labels]
        except KeyError:
            pass
        merged = {**self.external, **labels.to_dict()} if self.external else labels.to_dict()
        rules = self.config.write_relabel_configs
        result = relabel(merged, rules) if rules else merged
        blob = label_blob(Labels(result)) if result else None
        if len(self._relabelled) >= _RELABEL_CACHE_MAX:
            self._relabelled.clear()
        self._relabelled[labels] = blob
        return blob

    def enqueue(self, labels_list: Sequence[Labels], offsets: npt.NDArray[np.int64], ts: npt.NDArray[np.int64],
                values: npt.NDArray[np.float64], accepted: npt.NDArray[np.bool_]) -> None:
        """Queue the ``accepted`` samples of a commit (relabelled; series dropped by relabelling left out)."""
        blob_of = self._series_blob
        blobs = [blob_of(labels) for labels in labels_list]
        keep_series = np.fromiter((b is not None for b in blobs), dtype=bool, count=len(blobs))
        if not keep_series.any():
            return
        counts = np.diff(offsets)
        if keep_series.all() and accepted.all():
            kept_counts, keep = counts, None
        else:
            series_of = np.repeat(np.arange(len(labels_list)), counts)
            keep = accepted & keep_series[series_of]
            if not keep.any():
                return
            kept_counts = np.bincount(series_of[keep], minlength=len(labels_list))
        nonempty = kept_counts > 0  # series dropped by relabelling have no samples kept
        if nonempty.all():
            kept = [b for b in blobs if b is not None]
        else:
            kept = [b for b, ok in zip(blobs, nonempty.tolist(), strict=True) if ok and b is not None]
            kept_counts = kept_counts[nonempty]
        payload = encode_blobs(kept, kept_counts, ts if keep is None else ts[keep],
                               values if keep is None else values[keep])
        before = self.queue.dropped
        self.queue.append(payload)
        self.dropped_queue_full += self.queue.dropped - before
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    # -- the sending side (the event loop) --------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` or until stopped; False when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return not self._stop.is_set()

    async def run(self) -> None:
        """Send the queue until :meth:`stop`; the unacknowledged round is sent again by the next run."""
        self._loop = asyncio.get_running_loop()
        self.queue.rewind()
        q = self.config.queue
        timeout = aiohttp.ClientTimeout(total=self.config.remote_timeout_ms / 1000)
        connector = aiohttp.TCPConnector(ssl=ssl_context(self.config) or False, limit=q.max_shards)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            while not self._stop.is_set():
                pending = self.queue.pending_samples
                if pending == 0:
                    self._pending_since = None
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), 1.0)
                    continue
                now = time.monotonic()
                if self._pending_since is None:
                    self._pending_since = now
                wait = self._pending_since + q.batch_send_deadline_ms / 1000 - now
                if pending < q.max_samples_per_send and wait > 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), min(wait, 1.0))
                    if self.queue.pending_samples < q.max_samples_per_send:
                        continue
                await self._round(session)

    def _read_round(self, shards: int) -> tuple[list[list[Series]], tuple[int, int], bool]:
        """Read a round from the queue and split its series over ``shards`` (a worker thread's part)."""
        records, position = self.queue.read(shards * self.config.queue.capacity)
        per_shard: list[list[Series]] = [[] for _ in range(shards)]
        for payload in records:
            batch = decode_batch(payload)
            bounds = batch.offsets.tolist()
            for k, labels in enumerate(batch.labels):
                lo, hi = bounds[k], bounds[k + 1]
                per_shard[shard_of(labels, shards)].append((labels, batch.ts[lo:hi], batch.values[lo:hi]))
        return per_shard, position, bool(records)

    async def _round(self, session: aiohttp.ClientSession) -> None:
        """One sending round; reading, decoding and encoding run on worker threads, not the event loop."""
        q = self.config.queue
        shards = min(q.max_shards, max(q.min_shards, -(-self.queue.pending_samples // q.capacity)))
        self.stats.shards = shards
        per_shard, position, any_records = await asyncio.to_thread(self._read_round, shards)
        if not any_records:  # nothing there after all: do not spin
            self.queue.ack(position)
            self._pending_since = None
            await self._sleep(0.5)
            return
        results = await asyncio.gather(*(self._send_shard(session, part) for part in per_shard if part))
        if all(results):
            await asyncio.to_thread(self.queue.ack, position)  # fsyncs the position file
            self._pending_since = None
        else:
            self.queue.rewind()

    async def _send_shard(self, session: aiohttp.ClientSession, series: list[Series]) -> bool:
        for request in split_requests(series, self.config.queue.max_samples_per_send):
            if not await self._send(session, request):
                return False
        return True

    async def _send(self, session: aiohttp.ClientSession, request: list[Series]) -> bool:
        """Send one request until it is delivered or dropped (True), or the remote stops (False)."""
        q = self.config.queue
        body = await asyncio.to_thread(lambda: compress_snappy(encode_write_request(request)))
        count = sum(len(ts) for _, ts, _ in request)
        backoff = q.min_backoff_ms / 1000
        while not self._stop.is_set():
            status, text, retry_after = 0, "", None
            try:
                async with session.post(self.config.url, data=body, headers=self.headers) as response:
                    status = response.status
                    text = (await response.text(errors="replace"))[:512]
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                text = redact_urls(str(err) or type(err).__name__)
            if 200 <= status < 300:
                self.stats.samples += count
                self.stats.sent_bytes += len(body)
                self.stats.highest_sent_ms = max(self.stats.highest_sent_ms, max(int(ts.max()) for _, ts, _ in request))
                self._state(True, status, "")
                return True
            if 400 <= status < 500 and not (status == 429 and q.retry_on_http_429):
                self.stats.failed += count
                self.stats.dropped_rejected += count
                log.error("remote write rejected by the receiver, samples dropped", extra={
                    "remote_name": self.config.remote_name, "url": url_label(self.config.url), "status": status,
                    "samples": count, "error": text})
                return True
            self._state(False, status, text)
            self.stats.retried += count
            delay = retry_after if retry_after is not None else backoff
            backoff = min(backoff * 2, q.max_backoff_ms / 1000)
            if not await self._sleep(delay):
                return False
        return False

    def _state(self, up: bool, status: int, error: str) -> None:
        if up == self._up:
            return
        previous, self._up = self._up, up
        fields: dict[str, Any] = {"remote_name": self.config.remote_name, "url": url_label(self.config.url)}
        if up and previous is False:
            log.info("remote write receiver up", extra=fields)
        elif not up:
            log.warning("remote write receiver down, retrying", extra={**fields, "status": status, "error": error})
