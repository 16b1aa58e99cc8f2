"""Soak: a server under steady production-like load for a long time; does memory stay flat and latency stable?

1. ``tsdb serve`` starts on a fresh temporary data directory with a configuration holding recording rules
   and alerting rules over the written series, and a webhook receiver (a local HTTP server answering 200,
   counting deliveries) behind a notification route. One alert (per instance, up to 10) fires for the first
   half of every ``--alert-period`` and resolves for the second half, a second one (over a recorded series)
   the other way round; a ``cycle`` label makes each period's alerts new ones, so the server's flap detection
   does not hold them back and firing and resolved notifications flow all the time.
2. Remote-write at a fixed rate: ``--series`` node-exporter-like series (``tsdb.bench.workload``), each
   written once every ``series / rate`` seconds (default 10,000 series at 20,000 samples/s: every 0.5 s), by
   ``--senders`` paced threads, each owning a shard of the series and spreading its requests evenly over
   the interval. Timestamps are the wall-clock time each request is due, so the head and background
   maintenance behave as in production. Requests are encoded as they are sent (``tsdb.bench.encode``).
   Before the server starts, ``--history-minutes`` (default 60, the dashboards' window) of the same series at
   the same density are written into its data directory (blocks cut and the WAL checkpointed as a running
   server does), so that it starts as one that has been up longer than its dashboards look back: the queried
   window holds a full hour of blocks from the start, and what the queries map of them stays the same size
   (without history it grows for the first hour as the window fills, and resident memory with it).
3. Meanwhile ``--query-threads`` client threads send dashboard-like range queries over the last hour
   (step 15 s, aligned to the step as dashboards do), one every ``--query-interval`` seconds each.
4. Every ``--rss-interval`` seconds the server's resident memory (``VmRSS`` of ``/proc/<pid>/status``) and
   the receiver's delivery count are sampled; every write and query records its latency and whether it
   failed (a non-2xx answer or an exception). At each phase end the head's series and chunks and the range
   result cache's bytes are read from the server.
5. The run is split into a warm-up (``--warmup-minutes``, default the first 20 %) and ``--phases`` equal
   phases after it. Per phase: RSS min / max / end, write and query p50 / p99, errors, samples written,
   notifications received. At the end: RSS growth after warm-up (the last phase's end RSS against the first
   post-warm-up phase's end RSS; goal < 5 %), total errors (goal 0), the p99 of every phase (goal: stable, the
   largest at most twice the smallest), and whether each goal is met.

Figures are printed, never asserted. Everything binds 127.0.0.1; the server and the receiver are stopped by
their handles. ``python -m benchmarks soak [--minutes 30 | --seconds S] [--rate 20000] [--series 10000]
[--senders 2] [--history-minutes 60] [--block-range 2h] [--query-threads 2] [--query-interval 5] [--alert-period 120]
[--warmup-minutes M] [--phases 5] [--rss-interval 5] [--progress-seconds 30] [--max-seconds 7200]``
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.pages import Receiver
from tsdb.bench import procstat
from tsdb.bench.encode import Request, encode_entries, label_fields
from tsdb.bench.ingest import http_sender
from tsdb.bench.report import machine_description
from tsdb.bench.servers import LocalServer
from tsdb.bench.workload import generate
from tsdb.config import StorageOptions, parse_duration_ms
from tsdb.server.remote_write import compress_snappy
from tsdb.storage.db import DB

QUERY_STEP_S = 15
TEMPLATE_SLOTS = 240
"""Slots of workload values generated up front; later slots reuse them (counters keep increasing)."""
DASHBOARD_QUERIES = (
    "sum by (instance) (rate(node_cpu_seconds_total[1m]))",
    "topk(10, rate(node_network_receive_packets_total[1m]))",
    "avg by (instance) (node_load1)",
    "sum by (instance) (node_memory_MemAvailable_bytes)",
    "instance:node_cpu_seconds:rate1m",
    "sum(rate(node_context_switches_total[1m]))",
)
"""Range queries like a host overview dashboard's panels (one reads a recording rule's output)."""


@dataclass
class Events:
    """What the load threads observed, each entry stamped with seconds since the run started (thread-safe)."""

    started: float = field(default_factory=time.monotonic)
    writes: list[tuple[float, float, bool, int]] = field(default_factory=list)
    """(t, latency s, ok, samples)"""
    queries: list[tuple[float, float, bool]] = field(default_factory=list)
    """(t, latency s, ok)"""
    rss: list[tuple[float, int]] = field(default_factory=list)
    anon: list[tuple[float, int]] = field(default_factory=list)
    notifications: list[tuple[float, int]] = field(default_factory=list)
    """(t, deliveries received so far)"""
    errors: list[str] = field(default_factory=list)
    """The first few error messages."""
    max_lag_s: float = 0.0
    """How far the senders fell behind their schedule at most."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started

    def error(self, message: str) -> None:
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(f"{self.now():.0f}s {message[:200]}")


class PacedWriter:
    """``senders`` threads remote-writing every series once per ``interval_s``, requests spread evenly.

    Sender k owns series k, k + senders, ...; its requests hold up to ``per_request`` series each, stamped
    with the wall-clock time they are due. Runs until ``stop`` is set or ``until`` (monotonic) passes.
    """

    def __init__(self, url: str, series: int, interval_s: float, senders: int, per_request: int,
                 events: Events, stop: threading.Event, until: float) -> None:
        interval_ms = max(1, round(interval_s * 1000))
        work = generate(series, TEMPLATE_SLOTS * interval_ms, interval_ms=interval_ms)
        self.labels = work.labels
        self.fields = [label_fields(lb) for lb in work.labels]
        self.values = work.values.reshape(series, -1)
        slots = self.values.shape[1]
        counters = np.isin(work.kinds, (0, 1))
        # added once per pass over the template, so counters never go down when it starts again
        self.wrap = np.where(counters, self.values[:, -1] - self.values[:, 0], 0.0)
        self.slots = slots
        self.interval_s = interval_s
        self.events = events
        self.stop = stop
        self.until = until
        self.url = url
        self.t0 = self.wall0 = 0.0
        self.slot_base = 0  # template slot of the first live write: after the history, so counters keep rising
        self.chunks: list[list[npt.NDArray[np.int64]]] = []
        for k in range(senders):
            shard = np.arange(k, series, senders, dtype=np.int64)
            self.chunks.append([shard[i:i + per_request] for i in range(0, len(shard), per_request)])
        self.threads = [threading.Thread(target=self._run, args=(k,), name=f"soak-write-{k}", daemon=True)
                        for k in range(senders)]

    def _payload(self, rows: npt.NDArray[np.int64], slot: int, ts_ms: int) -> bytes:
        """The compressed request of series ``rows`` for template slot ``slot`` (counters wrap upwards)."""
        values = self.values[rows, slot % self.slots] + (slot // self.slots) * self.wrap[rows]
        entries = [(int(s), j, 1) for j, s in enumerate(rows)]
        return compress_snappy(encode_entries(self.fields, entries, np.full(len(rows), ts_ms, dtype=np.int64), values))

    def prefill(self, data_dir: Path, storage: StorageOptions, history_s: float) -> tuple[int, float]:
        """Write the ``history_s`` seconds before now straight into ``data_dir`` before the server starts, one
        block range at a time with maintenance after each (blocks cut, WAL checkpointed, as a running server
        would have done); returns ``(samples written, seconds taken)``. Live writes continue the values."""
        slots = int(history_s / self.interval_s)
        interval_ms = max(1, round(self.interval_s * 1000))
        end_ms = int(time.time() * 1000)
        began = time.monotonic()
        count = len(self.labels)
        per = max(1, storage.block_range_ms // interval_ms)
        written = 0
        db = DB.open(data_dir, storage)
        try:
            for lo in range(0, slots, per):
                idx = np.arange(lo, min(slots, lo + per), dtype=np.int64)
                ts = end_ms - (slots - idx) * interval_ms
                values = self.values[:, idx % self.slots] + (idx // self.slots)[None, :] * self.wrap[:, None]
                app = db.appender()
                app.append_batch(self.labels, np.arange(count + 1, dtype=np.int64) * len(idx), np.tile(ts, count),
                                 np.ascontiguousarray(values, dtype=np.float64).reshape(-1))
                app.commit()
                db.maintain(now_ms=int(ts[-1]))
                written += count * len(idx)
        finally:
            db.close()
        self.slot_base = slots
        return written, time.monotonic() - began

    def start(self) -> None:
        self.t0 = time.monotonic() + 0.2
        self.wall0 = time.time() + 0.2
        for thread in self.threads:
            thread.start()

    def join(self, timeout_s: float) -> None:
        for thread in self.threads:
            thread.join(timeout=timeout_s)

    def _run(self, k: int) -> None:
        send = http_sender(self.url, timeout_s=60.0)()
        chunks = self.chunks[k]
        per_slot = len(chunks) * len(self.threads)
        max_slots = int((self.until - self.t0) / self.interval_s) + 2
        for slot in range(max_slots):
            for r, rows in enumerate(chunks):
                offset = (slot + (r * len(self.threads) + k) / per_slot) * self.interval_s
                due = self.t0 + offset
                if due >= self.until or self.stop.is_set():
                    return
                wait = due - time.monotonic()
                if wait > 0 and self.stop.wait(wait):
                    return
                lag = -wait
                if lag > self.events.max_lag_s:
                    self.events.max_lag_s = lag
                ts_ms = int((self.wall0 + offset) * 1000)
                payload = self._payload(rows, self.slot_base + slot, ts_ms)
                outcome = send([Request(b"", payload, len(rows))])[0]
                ok = outcome.rejected == 0 and not outcome.error
                with self.events.lock:
                    self.events.writes.append((self.events.now(), outcome.latency_s, ok, outcome.accepted))
                if not ok:
                    self.events.error(f"write: {outcome.error}")


class QueryLoad:
    """``threads`` client threads each sending one of :data:`DASHBOARD_QUERIES` over the last hour every
    ``interval_s`` seconds, until ``stop`` is set or ``until`` (monotonic) passes."""

    def __init__(self, url: str, threads: int, interval_s: float, events: Events, stop: threading.Event,
                 until: float) -> None:
        self.url = url
        self.interval_s = interval_s
        self.events = events
        self.stop = stop
        self.until = until
        self.threads = [threading.Thread(target=self._run, args=(i,), name=f"soak-query-{i}", daemon=True)
                        for i in range(threads)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self, timeout_s: float) -> None:
        for thread in self.threads:
            thread.join(timeout=timeout_s)

    def _run(self, index: int) -> None:
        # threads start spread over one interval
        if self.stop.wait(self.interval_s * index / max(1, len(self.threads))):
            return
        for n in range(1_000_000):
            if self.stop.is_set() or time.monotonic() >= self.until:
                return
            began = time.monotonic()
            query = DASHBOARD_QUERIES[(index + n * len(self.threads)) % len(DASHBOARD_QUERIES)]
            end = int(time.time()) // QUERY_STEP_S * QUERY_STEP_S
            params = urllib.parse.urlencode({"query": query, "start": end - 3600, "end": end,
                                             "step": QUERY_STEP_S, "timeout": "60s"})
            ok, message = True, ""
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/query_range?{params}", timeout=90) as response:
                    body = json.loads(response.read())
                    ok = response.status == 200 and body.get("status") == "success"
                    message = "" if ok else f"HTTP {response.status}: {str(body)[:150]}"
            except (urllib.error.URLError, OSError, ValueError) as err:
                ok, message = False, str(err)
            latency = time.monotonic() - began
            with self.events.lock:
                self.events.queries.append((self.events.now(), latency, ok))
            if not ok:
                self.events.error(f"query {query!r}: {message}")
            self.stop.wait(max(0.0, self.interval_s - latency))


def write_config(root: Path, receiver_url: str, alert_period_s: int, block_range: str | None = None) -> Path:
    """The server's tsdb.yml and rules file: recording rules, two alerts taking turns, a webhook route.

    Each alert carries a ``cycle`` label (the number of the current ``alert_period_s`` period), so every
    alert fires once and resolves once: the server's flap detection (more than 4 changes of one alert in an
    hour hold its notifications back) never applies, and firing and resolved notifications keep flowing.
    ``block_range`` (e.g. ``10m``) sets the server's ``storage.block_range`` (default: the server's, 2 h).
    """
    period = max(2, alert_period_s)
    every = max(1, period // 12)
    cycle = f'count_values("cycle", floor(vector(time()) / {period}))'
    first_half = f"(vector(time()) % {period} < {period / 2})"
    rules = root / "rules.yml"
    rules.write_text(json.dumps({"groups": [
        {"name": "soak-recording", "interval": f"{every}s", "rules": [
            {"record": "instance:node_cpu_seconds:rate1m",
             "expr": "sum by (instance) (rate(node_cpu_seconds_total[1m]))"},
            {"record": "job:node_memory_MemAvailable_bytes:sum",
             "expr": "sum by (job) (node_memory_MemAvailable_bytes)"}]},
        {"name": "soak-alerts", "interval": f"{every}s", "rules": [
            {"alert": "SoakLoadCycle",  # up to 10 instances, first half of each period
             "expr": f'max by (instance) (node_load1{{instance=~"host-[0-9]:9100"}}) '
                     f"* on() group_left(cycle) ({cycle} and on() {first_half})",
             "labels": {"severity": "ticket"}, "annotations": {"summary": "{{ $labels.instance }} load cycle"}},
            {"alert": "SoakRecordedCycle",  # over a recorded series, second half of each period
             "expr": f"max by (job) (instance:node_cpu_seconds:rate1m) "
                     f"* on() group_left(cycle) ({cycle} unless on() {first_half})",
             "labels": {"severity": "page"}}]}]}))
    config = root / "tsdb.yml"
    config.write_text(json.dumps({
        "collect": {"host": False, "self": False},
        **({"storage": {"block_range": block_range}} if block_range else {}),
        "rules": {"files": [str(rules)], "evaluation_interval": f"{every}s"},
        "notifications": {"config": {
            "route": {"receiver": "webhook", "group_by": ["alertname", "instance"], "group_wait": "0s",
                      "group_interval": f"{every}s", "repeat_interval": "1h"},
            "receivers": [{"name": "webhook", "webhook_configs": [{"url": receiver_url + "/soak"}]}]}}}))
    return config


def server_state(url: str) -> dict[str, float]:
    """Head series, completed chunks and time span (``/api/v1/status/tsdb``) and the range result cache's bytes
    (``/metrics``); entries left out when the server does not answer."""
    out: dict[str, float] = {}
    try:
        with urllib.request.urlopen(url + "/api/v1/status/tsdb", timeout=60) as response:
            head = json.loads(response.read())["data"]["headStats"]
        out["head_series"], out["head_chunks"] = float(head["numSeries"]), float(head["chunkCount"])
        out["head_span_min"] = (float(head["maxTime"]) - float(head["minTime"])) / 60_000
        with urllib.request.urlopen(url + "/metrics", timeout=60) as response:
            for line in response.read().decode(errors="replace").splitlines():
                if line.startswith("tsdb_query_result_cache_bytes"):
                    out["cache_bytes"] = float(line.split()[-1])
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        pass
    return out


@dataclass
class Phase:
    """One phase's figures (latencies in ms, RSS in bytes)."""

    name: str
    start_s: float
    end_s: float
    rss_min: int = 0
    rss_max: int = 0
    rss_end: int = 0
    rss_mean: int = 0
    anon_end: int = 0
    anon_mean: int = 0
    rss_samples: int = 0
    write_p50: float = 0.0
    write_p99: float = 0.0
    query_p50: float = 0.0
    query_p99: float = 0.0
    writes: int = 0
    write_errors: int = 0
    queries: int = 0
    query_errors: int = 0
    samples: int = 0
    notifications: int = 0
    state: dict[str, float] = field(default_factory=dict)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return float(np.percentile(np.asarray(values), q)) * 1000


def summarize(events: Events, bounds: list[tuple[str, float, float]],
              states: dict[str, dict[str, float]]) -> list[Phase]:
    """The figures of each phase (name, start s, end s) from the recorded events."""
    phases = []
    with events.lock:
        writes, queries = list(events.writes), list(events.queries)
        rss, anon, notes = list(events.rss), list(events.anon), list(events.notifications)
    for name, a, b in bounds:
        p = Phase(name, a, b, state=states.get(name, {}))
        mine = [r for t, r in rss if a <= t < b]
        if mine:
            p.rss_min, p.rss_max, p.rss_end, p.rss_samples = min(mine), max(mine), mine[-1], len(mine)
            p.rss_mean = int(np.mean(mine))
        heap = [r for t, r in anon if a <= t < b]
        if heap:
            p.anon_end, p.anon_mean = heap[-1], int(np.mean(heap))
        w = [x for x in writes if a <= x[0] < b]
        p.writes, p.write_errors = len(w), sum(1 for x in w if not x[2])
        p.samples = sum(x[3] for x in w)
        p.write_p50, p.write_p99 = _pct([x[1] for x in w], 50), _pct([x[1] for x in w], 99)
        q = [x for x in queries if a <= x[0] < b]
        p.queries, p.query_errors = len(q), sum(1 for x in q if not x[2])
        p.query_p50, p.query_p99 = _pct([x[1] for x in q], 50), _pct([x[1] for x in q], 99)
        before = [c for t, c in notes if t < a]
        upto = [c for t, c in notes if t < b]
        p.notifications = (upto[-1] if upto else 0) - (before[-1] if before else 0)
        phases.append(p)
    return phases


def print_report(phases: list[Phase], events: Events, target_rate: float) -> dict[str, Any]:
    """The per-phase table and the goals; returns the figures (also for tests)."""
    mib = 1024 * 1024
    print("\nper phase (RSS MiB, anon = anonymous memory, the rest being mapped files; latencies ms; head = series "
          "/ completed chunks / span in minutes at the phase end; cache = range result cache MiB)")
    header = (f"{'phase':<10}{'minutes':>14}{'RSS min':>9}{'max':>7}{'end':>7}{'mean':>7}{'anon end':>9}{'mean':>7}"
              f"{'write p50':>11}{'p99':>9}"
              f"{'query p50':>11}{'p99':>8}{'errors w/q':>12}{'samples/s':>11}{'notif.':>8}{'head':>22}{'cache':>7}")
    print(header)
    for p in phases:
        span = max(p.end_s - p.start_s, 1e-9)
        head = (f"{p.state['head_series']:,.0f}/{p.state['head_chunks']:,.0f}/{p.state['head_span_min']:.0f}"
                if "head_span_min" in p.state else "-")
        cache = f"{p.state['cache_bytes'] / mib:.1f}" if "cache_bytes" in p.state else "-"
        print(f"{p.name:<10}{p.start_s / 60:>6.1f}-{p.end_s / 60:<7.1f}{p.rss_min / mib:>9.0f}{p.rss_max / mib:>7.0f}"
              f"{p.rss_end / mib:>7.0f}{p.rss_mean / mib:>7.0f}{p.anon_end / mib:>9.0f}{p.anon_mean / mib:>7.0f}"
              f"{p.write_p50:>11.1f}{p.write_p99:>9.1f}{p.query_p50:>11.0f}{p.query_p99:>8.0f}"
              f"{f'{p.write_errors}/{p.query_errors}':>12}{p.samples / span:>11,.0f}{p.notifications:>8}"
              f"{head:>22}{cache:>7}")
    measured = [p for p in phases if p.name != "warm-up"]
    first_end = measured[0].rss_end if measured else 0
    last_end = measured[-1].rss_end if measured else 0
    growth = (last_end - first_end) / first_end * 100 if first_end else float("nan")

    def change(first: int, last: int) -> str:
        return f"{(last - first) / first * 100:+.1f} % ({first / mib:.0f} -> {last / mib:.0f} MiB)" if first else "-"
    mean_growth = change(measured[0].rss_mean, measured[-1].rss_mean) if measured else "-"
    anon_growth = change(measured[0].anon_end, measured[-1].anon_end) if measured else "-"
    write_errors = sum(p.write_errors for p in phases)
    query_errors = sum(p.query_errors for p in phases)
    write_p99s = [p.write_p99 for p in measured if p.writes]
    query_p99s = [p.query_p99 for p in measured if p.queries]

    def stable(values: list[float]) -> bool:
        return bool(values) and max(values) <= 2 * max(min(values), 1e-9)

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    samples = sum(p.samples for p in phases)
    notifications = sum(p.notifications for p in phases)
    print(f"\nsamples written: {samples:,} (target rate {target_rate:,.0f}/s; senders at most "
          f"{events.max_lag_s:.2f} s behind schedule); queries: {sum(p.queries for p in phases):,}; "
          f"notifications received: {notifications:,}")
    print(f"RSS growth after warm-up: {growth:+.1f} % ({first_end / mib:.0f} -> {last_end / mib:.0f} MiB; goal < 5 %: "
          f"{verdict(growth < 5)})")
    print(f"  mean RSS of the first and last phases: {mean_growth}; anonymous memory at their ends: {anon_growth}")
    print(f"errors: {write_errors} write, {query_errors} query (goal 0: {verdict(write_errors + query_errors == 0)})")
    print("write p99 per phase ms: " + ", ".join(f"{v:.1f}" for v in write_p99s)
          + f" (goal stable, max <= 2 x min: {verdict(stable(write_p99s))})")
    print("query p99 per phase ms: " + ", ".join(f"{v:.0f}" for v in query_p99s)
          + f" (goal stable, max <= 2 x min: {verdict(stable(query_p99s))})")
    for message in events.errors[:5]:
        print(f"  e.g. {message}")
    return {"phases": phases, "rss_growth_pct": growth, "write_errors": write_errors, "query_errors": query_errors,
            "notifications": notifications, "samples": samples,
            "rss_samples": sum(p.rss_samples for p in phases)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server and the load, sample until the run ends, stop everything; returns the report."""
    duration_s = args.seconds if args.seconds is not None else args.minutes * 60
    duration_s = min(duration_s, args.max_seconds)
    warmup_s = args.warmup_minutes * 60 if args.warmup_minutes is not None else duration_s * 0.2
    warmup_s = min(warmup_s, duration_s * 0.5)
    phase_s = (duration_s - warmup_s) / args.phases
    bounds = [("warm-up", 0.0, warmup_s)] + [
        (f"phase {i + 1}", warmup_s + i * phase_s, warmup_s + (i + 1) * phase_s) for i in range(args.phases)]
    interval_s = args.series / args.rate
    print(f"soak on {machine_description()}", flush=True)
    print(f"  {duration_s / 60:.1f} min: {args.series:,} series every {interval_s:.2f} s = {args.rate:,.0f} samples/s "
          f"({args.senders} senders); {args.query_threads} query threads every {args.query_interval:g} s; "
          f"alerts turn every {args.alert_period / 2:g} s; warm-up {warmup_s / 60:.1f} min, then {args.phases} "
          f"phases of {phase_s / 60:.1f} min", flush=True)
    receiver = Receiver()
    events = Events()
    stop = threading.Event()
    states: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="tsdb-bench-soak-") as tmp:
            root = Path(tmp)
            config = write_config(root, receiver.url, args.alert_period, args.block_range)
            writer = PacedWriter("", args.series, interval_s, args.senders, args.per_request, events, stop, 0.0)
            if args.history_minutes > 0:
                storage = StorageOptions(block_range_ms=parse_duration_ms(args.block_range, "--block-range")
                                         ) if args.block_range else StorageOptions()
                samples, took = writer.prefill(root / "data", storage, args.history_minutes * 60)
                print(f"  history: {samples:,} samples of the {args.history_minutes:g} min before the run "
                      f"written in {took:.0f} s", flush=True)
            server = LocalServer("tsdb", root / "data", extra_args=("--config", str(config))).start()
            writer.url = server.url
            try:
                queries = QueryLoad(server.url, args.query_threads, args.query_interval, events, stop, 0.0)
                events.started = time.monotonic()  # the workload's values and the history are not part of the run
                until = events.started + duration_s
                writer.until = queries.until = until
                writer.start()
                queries.start()
                _sample(server, receiver, events, bounds, states, args, until)
                stop.set()
                writer.join(60)
                queries.join(120)
            finally:
                stop.set()
                server.stop()
    finally:
        receiver.close()
    return print_report(summarize(events, bounds, states), events, args.rate)


def _sample(server: LocalServer, receiver: Receiver, events: Events, bounds: list[tuple[str, float, float]],
            states: dict[str, dict[str, float]], args: argparse.Namespace, until: float) -> None:
    """Sample RSS and deliveries every ``--rss-interval`` s, the server's state at phase ends, and print
    progress every ``--progress-seconds`` s, until ``until`` (monotonic)."""
    next_progress = args.progress_seconds
    pending = list(bounds)
    for _ in range(10_000_000):
        now = time.monotonic()
        if now >= until:
            break
        t = events.now()
        rss, anon = procstat.rss_bytes(server.pid), procstat.rss_bytes(server.pid, "RssAnon")
        with events.lock:
            if rss is not None:
                events.rss.append((t, rss))
            if anon is not None:
                events.anon.append((t, anon))
            events.notifications.append((t, receiver.count[0]))
        while pending and pending[0][2] - args.rss_interval <= t:
            name = pending.pop(0)[0]
            states[name] = server_state(server.url)
        if t >= next_progress:
            next_progress += args.progress_seconds
            with events.lock:
                samples = sum(x[3] for x in events.writes)
                write_errors = sum(1 for x in events.writes if not x[2])
                done = len(events.queries)
                query_errors = sum(1 for x in events.queries if not x[2])
            phase = next((name for name, a, b in bounds if a <= t < b), bounds[-1][0])
            print(f"  {t / 60:5.1f} min [{phase}] RSS {(rss or 0) / 2**20:,.0f} MiB, {samples:,} samples "
                  f"({samples / max(t, 1e-9):,.0f}/s), {write_errors} write errors, {done} queries "
                  f"({query_errors} failed), {receiver.count[0]} notifications", flush=True)
        time.sleep(max(0.0, min(args.rss_interval, until - time.monotonic())))
    t = events.now()
    rss, anon = procstat.rss_bytes(server.pid), procstat.rss_bytes(server.pid, "RssAnon")
    with events.lock:
        if rss is not None:
            events.rss.append((min(t, bounds[-1][2] - 1e-6), rss))
        if anon is not None:
            events.anon.append((min(t, bounds[-1][2] - 1e-6), anon))
        events.notifications.append((min(t, bounds[-1][2] - 1e-6), receiver.count[0]))
    for name, _, _ in pending:
        states[name] = server_state(server.url)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line's options (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run (default 30)")
    parser.add_argument("--seconds", type=float, default=None, help="length of the run in seconds (short runs)")
    parser.add_argument("--rate", type=float, default=20_000, help="samples written per second (default 20000)")
    parser.add_argument("--series", type=int, default=10_000, help="series written (default 10000)")
    parser.add_argument("--senders", type=int, default=2, help="remote-write sender threads (default 2)")
    parser.add_argument("--per-request", type=int, default=2_000, help="samples per request at most (default 2000)")
    parser.add_argument("--query-threads", type=int, default=2, help="dashboard query threads (default 2)")
    parser.add_argument("--query-interval", type=float, default=5.0,
                        help="seconds between one thread's queries (default 5)")
    parser.add_argument("--alert-period", type=int, default=120,
                        help="seconds of one fire-and-resolve cycle of the alerts (default 120)")
    parser.add_argument("--history-minutes", type=float, default=60.0,
                        help="minutes of data backfilled before the run (default 60, the dashboards' window; 0: "
                             "start empty)")
    parser.add_argument("--block-range", default=None,
                        help="the server's storage.block_range, e.g. 10m (default: the server's, 2h); the head "
                             "keeps up to 1.5 block ranges in memory")
    parser.add_argument("--warmup-minutes", type=float, default=None, help="warm-up (default 20 %% of the run)")
    parser.add_argument("--phases", type=int, default=5, help="equal phases after the warm-up (default 5)")
    parser.add_argument("--rss-interval", type=float, default=5.0, help="seconds between RSS samples (default 5)")
    parser.add_argument("--progress-seconds", type=float, default=30.0, help="seconds between progress lines")
    parser.add_argument("--max-seconds", type=float, default=7200, help="bound on the run's length (default 7200)")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.series < 1 or args.senders < 1 or args.phases < 1 or args.per_request < 1:
        parser.error("--rate, --series, --senders, --per-request and --phases must be positive")
    return args


def main(argv: list[str]) -> int:
    """Run the soak and print the report; 0 on success. SIGTERM ends it early, stopping the server."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
