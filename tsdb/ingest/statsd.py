"""StatsD and DogStatsD over UDP (or a Unix datagram socket) -> Prometheus series, as statsd_exporter maps them.

:class:`StatsdAggregator` parses batches of datagrams with the kernels of statsd_kernels.py (tokeniser, series
key hashing and lookup; values are parsed and applied as arrays, only a line naming a new series takes a Python
path) and keeps the per-series state between flushes; :meth:`StatsdAggregator.flush` turns it into samples.
:class:`StatsdListener` receives datagrams (a thread per socket), aggregates them on an asyncio loop and appends
every flush through a storage Appender.

Mapping (docs/integrations.md): ``c`` -> counter named as given (sanitised), cumulative, each value divided by
its sample rate; ``g`` -> gauge (``+N``/``-N`` change it); ``ms`` (converted to seconds), ``h``, ``d`` ->
summary (``quantile`` series over the flush interval, cumulative ``_sum`` and ``_count`` weighted by 1/rate);
``s`` -> gauge of the distinct members seen in the interval. Names and tag keys: characters outside
``[a-zA-Z0-9_]`` become ``_`` and a leading digit gets a ``_`` prefix. Tags ``k:v`` split at the first colon;
bare or empty tags are dropped and counted, as statsd_exporter does; ``|c:<id>`` becomes ``container_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tsdb.errors import TsdbError
from tsdb.ingest.names import label_name
from tsdb.ingest.statsd_kernels import (
    E_BAD_RATE,
    E_IGNORED,
    E_MALFORMED_LINE,
    E_OK,
    ERROR_REASONS,
    F_COLON,
    F_CONT0,
    F_CONT1,
    F_END,
    F_ERR,
    F_PIPE,
    F_RATE0,
    F_RATE1,
    F_START,
    F_TAGS0,
    F_TAGS1,
    F_TOK0,
    F_TOK1,
    F_TS,
    F_TYPE,
    MAX_NUMBER_BYTES,
    T_COUNTER,
    T_GAUGE,
    T_SET,
    T_TIMER,
    apply_gauges,
    line_keys,
    match_keys,
    pack_tokens,
    tokenize,
)
from tsdb.labels import METRIC_NAME, Labels
from tsdb.storage.interfaces import Appendable, CommitResult

log = logging.getLogger("tsdb.ingest.statsd")

K_COUNTER, K_GAUGE, K_SUMMARY, K_SET = 0, 1, 2, 3
_KIND_OF_TYPE = {1: K_COUNTER, 2: K_GAUGE, 3: K_SUMMARY, 4: K_SUMMARY, 5: K_SUMMARY, 6: K_SET}
DEFAULT_QUANTILES = (0.5, 0.9, 0.99)
BATCH_DELAY_S = 0.005
"""Datagrams are parsed together at most this long after the first of a batch arrived ..."""
BATCH_BYTES = 256 << 10
"""... or as soon as this many bytes are waiting."""
MAX_DATAGRAM = 65535
RECEIVE_POLL_S = 0.2
"""How often a receiver thread looks whether it should stop."""


def parse_tags(text: str) -> tuple[dict[str, str], int]:
    """``(labels, errors)`` of a DogStatsD tag list ``k:v,k2:v2``: split at the first colon, keys sanitised;
    a tag without a colon, with an empty key or value, or with a reserved ``__`` key is dropped and counted."""
    labels: dict[str, str] = {}
    errors = 0
    for tag in text.split(","):
        key, sep, value = tag.partition(":")
        name = label_name(key) if key else ""
        if not sep or not name or not value or name.startswith("__"):
            errors += 1
            continue
        labels[name] = value
    return labels, errors


@dataclass
class IngestResult:
    """What datagrams held: lines accepted, ignored (events, service checks; blank lines are not counted),
    rejected by reason, dropped tags, the first rejected line (for the log), the byte offsets of the rejected
    lines and (from :meth:`StatsdAggregator.ingest_many`) the datagrams that had a rejected line."""

    accepted: int = 0
    ignored: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    tag_errors: int = 0
    example: bytes = b""
    rejected_at: list[int] = field(default_factory=list)
    invalid_datagrams: int = 0

    def reject(self, reason: str, start: int, example: bytes) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        self.rejected_at.append(start)
        if not self.example:
            self.example = example[:200]


@dataclass
class _Series:
    kind: int
    labels: Labels
    """The series itself (counter, gauge, set) or the summary's ``_sum`` / ``_count`` / quantile label sets."""
    extra: tuple[Labels, ...] = ()


class StatsdAggregator:
    """StatsD lines aggregated per series between flushes. Not thread-safe: one thread feeds and flushes.

    Series live until the aggregator is dropped (a restart resets the counters, which ``rate()`` handles);
    counters, gauges and the summaries' ``_sum``/``_count`` are written at every flush once seen, quantiles
    and set sizes only for intervals that had values."""

    def __init__(self, quantiles: Sequence[float] = DEFAULT_QUANTILES) -> None:
        self.quantiles = tuple(float(q) for q in quantiles)
        # series keys (name, type, tags, container as sent) -> series: hashes sorted, with their series id,
        # tags dropped, and the key bytes in _arena[_t_start:_t_end]
        self._t_hash = np.zeros(0, np.uint64)
        self._t_sid = np.zeros(0, np.int64)
        self._t_tag_errors = np.zeros(0, np.int64)
        self._t_start = np.zeros(0, np.int64)
        self._t_end = np.zeros(0, np.int64)
        self._arena = np.zeros(4096, np.uint8)
        self._by_labels: dict[Labels, int] = {}
        self.series: list[_Series] = []
        cap = 64
        self._value = np.zeros(cap)  # counter total, gauge value
        self._sum = np.zeros(cap)
        self._count = np.zeros(cap)
        self._stamp = np.full(cap, -1, np.int64)  # latest ``T`` of the interval (ms); -1 = the flush time
        self._observed: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = []
        self._members: dict[int, set[bytes]] = {}

    def _grow(self, need: int) -> None:
        cap = len(self._value)
        if need <= cap:
            return
        new = max(need, cap * 2)
        self._value = np.concatenate([self._value, np.zeros(new - cap)])
        self._sum = np.concatenate([self._sum, np.zeros(new - cap)])
        self._count = np.concatenate([self._count, np.zeros(new - cap)])
        self._stamp = np.concatenate([self._stamp, np.full(new - cap, -1, np.int64)])

    def _resolve(self, data: bytes, row: npt.NDArray[np.int64], result: IngestResult) -> tuple[int, int]:
        """``(series id, tags dropped)`` of a line not seen in this form before; id -1 (rejected, counted) on a
        type conflict or a name that is not UTF-8."""
        try:
            name = label_name(data[row[F_START]:row[F_COLON]].decode())
            tags, errors = parse_tags(data[row[F_TAGS0]:row[F_TAGS1]].decode()) if row[F_TAGS1] > row[F_TAGS0] \
                else ({}, 0)
            container = data[row[F_CONT0]:row[F_CONT1]].decode()
        except UnicodeDecodeError:
            result.reject("malformed_line", int(row[F_START]), data[row[F_START]:row[F_PIPE]])
            return -1, 0
        if container:
            tags["container_id"] = container
        kind = _KIND_OF_TYPE[int(row[F_TYPE])]
        labels = Labels({**tags, METRIC_NAME: name})
        sid = self._by_labels.get(labels)
        if sid is not None:
            if self.series[sid].kind != kind:
                result.reject("type_conflict", int(row[F_START]), data[row[F_START]:row[F_PIPE]])
                return -1, 0
            return sid, errors
        extra: tuple[Labels, ...] = ()
        if kind == K_SUMMARY:
            extra = (Labels({**tags, METRIC_NAME: name + "_sum"}), Labels({**tags, METRIC_NAME: name + "_count"}),
                     *(Labels({**tags, METRIC_NAME: name, "quantile": _go_float(q)}) for q in self.quantiles))
        sid = len(self.series)
        self.series.append(_Series(kind, labels, extra))
        self._by_labels[labels] = sid
        self._grow(sid + 1)
        return sid, errors

    def _series_of(self, buf: npt.NDArray[np.uint8], data: bytes, rows: npt.NDArray[np.int64],
                   good: npt.NDArray[np.bool_], result: IngestResult) -> npt.NDArray[np.int64]:
        """The series id of each line (-1 where not ``good`` or rejected): a hash of the line's name, type, tags
        and container looked up in a sorted table with the key bytes compared, all in a kernel; only forms of
        a line not seen before take the Python path that builds labels."""
        hashes = line_keys(buf, rows)
        entry = match_keys(buf, rows, hashes, self._t_hash, self._arena, self._t_start, self._t_end)
        hit = (entry >= 0) & good
        sids = np.full(len(rows), -1, np.int64)
        sids[hit] = self._t_sid[entry[hit]]
        result.tag_errors += int(self._t_tag_errors[entry[hit]].sum())
        new: dict[bytes, tuple[int, int, int]] = {}  # key -> (sid, tag errors, hash)
        for j in np.flatnonzero(~hit & good):
            row = rows[j]
            key = b"%b\xff%b\xff%b\xff%b" % (data[row[F_START]:row[F_COLON]], bytes((int(row[F_TYPE]),)),
                                             data[row[F_TAGS0]:row[F_TAGS1]], data[row[F_CONT0]:row[F_CONT1]])
            known = new.get(key)
            if known is None:
                sid, errors = self._resolve(data, row, result)
                if sid < 0:
                    continue
                known = new[key] = (sid, errors, int(hashes[j]))
            sids[j] = known[0]
            result.tag_errors += known[1]
        if new:
            self._add_keys(new)
        return sids

    def _add_keys(self, new: dict[bytes, tuple[int, int, int]]) -> None:
        """Add series keys to the lookup table (kept sorted by hash; the key bytes appended to the arena)."""
        used = int(self._t_end.max()) if len(self._t_end) else 0
        need = used + sum(len(k) for k in new)
        if need > len(self._arena):
            arena = np.zeros(max(need, 2 * len(self._arena)), np.uint8)
            arena[:used] = self._arena[:used]
            self._arena = arena
        starts = np.empty(len(new), np.int64)
        at = used
        for i, key in enumerate(new):
            self._arena[at:at + len(key)] = np.frombuffer(key, np.uint8)
            starts[i] = at
            at += len(key)
        values = list(new.values())
        hashes = np.concatenate([self._t_hash, np.array([v[2] for v in values], np.uint64)])
        order = np.argsort(hashes, kind="stable")
        self._t_hash = hashes[order]
        self._t_sid = np.concatenate([self._t_sid, np.array([v[0] for v in values], np.int64)])[order]
        self._t_tag_errors = np.concatenate([self._t_tag_errors, np.array([v[1] for v in values], np.int64)])[order]
        self._t_start = np.concatenate([self._t_start, starts])[order]
        self._t_end = np.concatenate([self._t_end, starts + np.array([len(k) for k in new], np.int64)])[order]

    def ingest(self, data: bytes) -> IngestResult:
        """Parse and apply one datagram; bad lines are counted, the valid ones of the datagram still apply."""
        result = IngestResult()
        buf = np.frombuffer(data, np.uint8)
        fields, tokens = tokenize(buf)
        errs = fields[:, F_ERR]
        result.ignored = int(np.count_nonzero(errs == E_IGNORED))
        bad = np.flatnonzero(errs >= E_MALFORMED_LINE)
        for li in bad:
            row = fields[li]
            result.reject(ERROR_REASONS[int(row[F_ERR])], int(row[F_START]), data[row[F_START]:row[F_END]])
        ok = np.flatnonzero(errs == E_OK)
        if not len(ok):
            return result
        rows = fields[ok]
        types = rows[:, F_TYPE]
        # sample rates: parsed together, (0, 1] or the line is rejected
        rates = np.ones(len(ok))
        has_rate = np.flatnonzero(rows[:, F_RATE1] > rows[:, F_RATE0])
        if len(has_rate):
            rates[has_rate] = _parse_numbers(buf, rows[has_rate][:, [F_RATE0, F_RATE1]])
        good = (rates > 0) & (rates <= 1)
        for j in np.flatnonzero(~good):
            row = rows[j]
            result.reject(ERROR_REASONS[E_BAD_RATE], int(row[F_START]), data[row[F_START]:row[F_END]])
        sids = self._series_of(buf, data, rows, good, result)
        live = sids >= 0
        result.accepted = int(np.count_nonzero(live))
        stamped = live & (rows[:, F_TS] >= 0)
        if stamped.any():
            np.maximum.at(self._stamp, sids[stamped], rows[stamped, F_TS] * 1000)
        # values: token k belongs to line line_of[k]
        ntok = rows[:, F_TOK1] - rows[:, F_TOK0]
        line_of = np.repeat(np.arange(len(ok)), ntok)
        tok_live = live[line_of]
        tok_type = types[line_of]
        numeric = tok_live & (tok_type != T_SET)
        if numeric.any():
            spans = tokens[numeric]
            values = _parse_numbers(buf, spans)
            tsid = sids[line_of[numeric]]
            ttype = tok_type[numeric]
            trate = rates[line_of[numeric]]
            m = ttype == T_COUNTER
            if m.any():
                np.add.at(self._value, tsid[m], values[m] / trate[m])
            m = ttype == T_GAUGE
            if m.any():
                first = buf[spans[m, 0]]
                apply_gauges(self._value, tsid[m], values[m], (first == 43) | (first == 45))
            m = ttype > T_GAUGE
            if m.any():
                obs = np.where(ttype[m] == T_TIMER, values[m] / 1000.0, values[m])
                weight = 1.0 / trate[m]
                np.add.at(self._sum, tsid[m], obs * weight)
                np.add.at(self._count, tsid[m], weight)
                self._observed.append((tsid[m], obs))
        for k in np.flatnonzero(tok_live & (tok_type == T_SET)):
            start, end = tokens[k]
            self._members.setdefault(int(sids[line_of[k]]), set()).add(data[start:end])
        return result

    def ingest_many(self, datagrams: Sequence[bytes]) -> IngestResult:
        """Parse and apply several datagrams in one pass (lines never span datagrams, so they are joined with
        newlines); ``invalid_datagrams`` counts those with a rejected line."""
        result = self.ingest(b"\n".join(datagrams))
        if result.rejected_at:
            ends = np.cumsum([len(d) + 1 for d in datagrams])
            result.invalid_datagrams = len(np.unique(np.searchsorted(ends, result.rejected_at, side="right")))
        return result

    def flush(self, now_ms: int) -> list[tuple[Labels, int, float]]:
        """The samples of this interval as ``(labels, ts ms, value)`` (at ``now_ms`` unless a line of the series
        carried a ``T`` timestamp), and a fresh interval begins."""
        quantiles: dict[int, npt.NDArray[np.float64]] = {}
        if self._observed:
            ids = np.concatenate([i for i, _ in self._observed])
            vals = np.concatenate([v for _, v in self._observed])
            order = np.lexsort((vals, ids))
            ids, vals = ids[order], vals[order]
            bounds = np.flatnonzero(np.diff(ids)) + 1
            for group in np.split(np.arange(len(ids)), bounds):
                quantiles[int(ids[group[0]])] = np.quantile(vals[group], self.quantiles)
        out: list[tuple[Labels, int, float]] = []
        stamps = np.where(self._stamp >= 0, self._stamp, now_ms)
        for sid, series in enumerate(self.series):
            ts = int(stamps[sid])
            if series.kind in (K_COUNTER, K_GAUGE):
                out.append((series.labels, ts, float(self._value[sid])))
            elif series.kind == K_SUMMARY:
                out.append((series.extra[0], ts, float(self._sum[sid])))
                out.append((series.extra[1], ts, float(self._count[sid])))
                qs = quantiles.get(sid)
                if qs is not None:
                    out.extend((lb, ts, float(v)) for lb, v in zip(series.extra[2:], qs, strict=True))
            elif sid in self._members:
                out.append((series.labels, ts, float(len(self._members[sid]))))
        self._stamp[:] = -1
        self._observed = []
        self._members = {}
        return out


def _parse_numbers(buf: npt.NDArray[np.uint8], spans: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """float64 of each (start, end) span of ``buf`` (validated by the tokeniser), parsed in one numpy call."""
    packed = pack_tokens(buf, np.ascontiguousarray(spans, np.int64))
    return packed.view(f"S{MAX_NUMBER_BYTES}").ravel().astype(np.float64)


def _go_float(value: float) -> str:
    """A quantile label value as Prometheus clients write it (``0.5``, ``0.99``, ``1``)."""
    return repr(value).removesuffix(".0") if value == int(value) else repr(value)


@dataclass
class ListenerStats:
    """Callbacks the listener reports to (the server's self-metrics); each defaults to doing nothing.
    ``on_datagram(transport)`` runs for every datagram received, ``on_batch(result, datagrams)`` after each
    batch of datagrams was parsed and applied."""

    on_datagram: Callable[[str], None] = lambda transport: None
    on_batch: Callable[[IngestResult, int], None] = lambda result, datagrams: None


class StatsdListener:
    """Receives StatsD datagrams on ``udp`` (``host:port``, "" = none) and/or the Unix datagram socket
    ``unix_socket`` ("" = none), and appends the aggregated samples to ``appendable`` every ``flush_interval_s``
    and at :meth:`stop`.

    One thread per socket only receives (a blocking ``recv`` loop keeps up with senders where an asyncio
    protocol, called once per datagram, drops datagrams); parsing, aggregation and flushing run on the event
    loop that called :meth:`start`, the appends on ``executor`` (None: the loop's default)."""

    def __init__(self, appendable: Appendable, udp: str = "", unix_socket: str = "", flush_interval_s: float = 10.0,
                 quantiles: Sequence[float] = DEFAULT_QUANTILES, stats: ListenerStats | None = None,
                 executor: Executor | None = None) -> None:
        self.appendable, self.udp, self.unix_socket = appendable, udp, unix_socket
        self.flush_interval_s = flush_interval_s
        self.aggregator = StatsdAggregator(quantiles)
        self.stats = stats or ListenerStats()
        self.executor = executor
        self.udp_port = 0
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._receiving = threading.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._last_log = 0.0
        self._lock = threading.Lock()  # guards _pending and _pending_bytes (receiver threads and the loop)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._drain_handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _receive(self, sock: socket.socket, transport: str) -> None:
        """A receiver thread: until :meth:`stop`, hand each datagram to the loop in batches."""
        assert self._loop is not None
        loop, recv, on_datagram = self._loop, sock.recv, self.stats.on_datagram
        while self._receiving.is_set():
            try:
                data = recv(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                if self._receiving.is_set():
                    log.exception("statsd receive failed", extra={"transport": transport})
                    time.sleep(0.1)  # never spin on a broken socket
                continue
            on_datagram(transport)
            with self._lock:
                self._pending.append(data)
                self._pending_bytes += len(data)
                first, full = len(self._pending) == 1, self._pending_bytes >= BATCH_BYTES
            if first or full:
                with contextlib.suppress(RuntimeError):  # the loop closed under us at shutdown
                    loop.call_soon_threadsafe(self._schedule_drain, full)

    def _schedule_drain(self, now: bool) -> None:
        if now:
            self.drain()
        elif self._drain_handle is None:
            self._drain_handle = asyncio.get_running_loop().call_later(BATCH_DELAY_S, self.drain)

    def drain(self) -> None:
        """Parse and apply the datagrams received so far, in one tokeniser pass (most clients send one line
        per datagram, and per-datagram overhead would dominate). Runs on the loop."""
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
        with self._lock:
            batch, self._pending, self._pending_bytes = self._pending, [], 0
        if not batch:
            return
        result = self.aggregator.ingest_many(batch)
        self.stats.on_batch(result, len(batch))
        if result.rejected and time.monotonic() - self._last_log >= 10:
            self._last_log = time.monotonic()  # at most one line per 10 s: a broken sender must not flood
            log.warning("statsd lines rejected", extra={"rejected": dict(result.rejected),
                                                        "example": result.example.decode(errors="replace")})

    def _bind(self) -> list[tuple[socket.socket, str]]:
        bound: list[tuple[socket.socket, str]] = []
        try:
            if self.udp:
                host, _, port = self.udp.rpartition(":")
                family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]") or "0.0.0.0", int(port),
                                                                     type=socket.SOCK_DGRAM)[0]
                sock = socket.socket(family, kind, proto)
                bound.append((sock, "udp"))
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
                sock.bind(address)
                self.udp_port = sock.getsockname()[1]
            if self.unix_socket:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.unix_socket)
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                bound.append((sock, "unix"))
                sock.bind(self.unix_socket)
        except OSError as err:
            for sock, _ in bound:
                sock.close()
            raise TsdbError(f"statsd: cannot listen on {self.udp or self.unix_socket}: {err}") from err
        return bound

    async def start(self) -> None:
        """Bind the sockets (raising TsdbError naming the address when one cannot be bound) and start receiving
        and flushing."""
        self._loop = asyncio.get_running_loop()
        bound = self._bind()
        self._receiving.set()
        for sock, transport in bound:
            sock.settimeout(RECEIVE_POLL_S)
            thread = threading.Thread(target=self._receive, args=(sock, transport), name=f"tsdb-statsd-{transport}",
                                      daemon=True)
            thread.start()
            self._sockets.append(sock)
            self._threads.append(thread)
        self._stop = asyncio.Event()
        self._task = self._loop.create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.flush_interval_s)
            if self._stop.is_set():
                return
            try:
                await self.flush()
            except Exception:
                log.exception("statsd flush failed")

    async def flush(self, now_ms: int | None = None) -> CommitResult:
        """Apply what was received, append the interval's samples (at ``now_ms``, default now) and start a new
        interval."""
        async with self._flush_lock:
            self.drain()
            samples = self.aggregator.flush(int(time.time() * 1000) if now_ms is None else now_ms)
            if not samples:
                return CommitResult()
            loop = asyncio.get_running_loop()
            result: CommitResult = await loop.run_in_executor(self.executor, self._append, samples)
            return result

    def _append(self, samples: list[tuple[Labels, int, float]]) -> CommitResult:
        app = self.appendable.appender()
        try:
            for labels, ts, value in samples:
                app.append(labels, np.array([ts], np.int64), np.array([value]))
        except BaseException:
            app.rollback()
            raise
        return app.commit()

    async def stop(self) -> None:
        """Stop receiving, then flush what was accepted (nothing accepted is lost)."""
        self._receiving.clear()
        threads, self._threads = self._threads, []
        await asyncio.get_running_loop().run_in_executor(None, _join, threads)
        for sock in self._sockets:
            sock.close()
        self._sockets = []
        if self.unix_socket:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.unix_socket)
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=RECEIVE_POLL_S * 10)
