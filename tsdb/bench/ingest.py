"""Ingestion benchmark: K concurrent senders push a pre-encoded :class:`~tsdb.bench.encode.Plan`.

Over HTTP remote-write (any Prometheus-compatible receiver, ``POST <target>/api/v1/write``) or over
tsdb's gRPC ``Write`` / ``WriteStream``. Each sender owns a shard of the series and sends its requests in
time order; a barrier after every epoch keeps the senders within one epoch of each other. Only sending is
timed: the plan was encoded before. A request answered with a non-2xx status counts all its samples as
rejected (remote-write cannot say which ones failed); gRPC answers carry exact accepted/rejected counts.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tsdb.bench import procstat
from tsdb.bench.encode import Plan, Request
from tsdb.bench.progress import Progress
from tsdb.errors import InvalidArgumentError

PROTOCOLS = ("http", "grpc-write", "grpc-stream")
_HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
            "User-Agent": "tsdb-bench", "X-Prometheus-Remote-Write-Version": "0.1.0"}


@dataclass
class IngestResult:
    """What one ingestion run measured. Rates are accepted samples per wall-clock second of sending.

    ``server_cpu_seconds`` / ``server_peak_rss_bytes`` are None unless the server is a local PID;
    ``truncated`` is True when ``max_seconds`` stopped the run before every request was sent.
    ``latencies_ms`` are per request (per stream for ``grpc-stream``).
    """

    target: str
    protocol: str
    shape: str
    senders: int
    requests: int = 0
    samples_sent: int = 0
    accepted: int = 0
    rejected: int = 0
    seconds: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    server_cpu_seconds: float | None = None
    server_peak_rss_bytes: int | None = None
    truncated: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def samples_per_second(self) -> float:
        return self.accepted / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["samples_per_second"] = self.samples_per_second
        return out


@dataclass
class _Outcome:
    accepted: int
    rejected: int
    latency_s: float
    error: str = ""


# A sender: given its epoch's requests, sends them and returns one outcome per request (or per stream).
SendEpoch = Callable[[list[Request]], list[_Outcome]]


def parse_target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, base path) of an http(s) target URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgumentError(f"target {url!r} is not an http(s) URL like http://127.0.0.1:9090")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname, port, parts.path.rstrip("/")


def http_sender(url: str, timeout_s: float = 60.0) -> Callable[[], SendEpoch]:
    """A factory of HTTP remote-write senders, one keep-alive connection each."""
    scheme, host, port, base = parse_target(url)
    path = base + "/api/v1/write"

    def make() -> SendEpoch:
        cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        conn = cls(host, port, timeout=timeout_s)

        def send(requests: list[Request]) -> list[_Outcome]:
            nonlocal conn
            out = []
            for req in requests:
                started = time.perf_counter()
                try:
                    conn.request("POST", path, body=req.body, headers=_HEADERS)
                    response = conn.getresponse()
                    text = response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as err:
                    conn.close()
                    conn = cls(host, port, timeout=timeout_s)
                    out.append(_Outcome(0, req.samples, time.perf_counter() - started, f"{url}: {err}"))
                    continue
                latency = time.perf_counter() - started
                if 200 <= status < 300:
                    out.append(_Outcome(req.samples, 0, latency))
                else:
                    message = text[:200].decode(errors="replace").strip()
                    out.append(_Outcome(0, req.samples, latency, f"HTTP {status}: {message}"))
            return out

        return send

    return make


def grpc_sender(address: str, stream: bool, timeout_s: float = 120.0) -> Callable[[], SendEpoch]:
    """A factory of gRPC senders (``Write`` per request, or one ``WriteStream`` per epoch)."""
    from tsdb.client import Client

    def make() -> SendEpoch:
        client = Client(address, timeout_s=timeout_s)

        def send(requests: list[Request]) -> list[_Outcome]:
            import grpc

            if stream:
                if not requests:
                    return []
                started = time.perf_counter()
                try:
                    result = client.write_stream(iter([r.payload for r in requests]))
                except grpc.RpcError as err:
                    return [_Outcome(0, sum(r.samples for r in requests), time.perf_counter() - started,
                                     f"gRPC {err.code()}: {err.details()}")]
                return [_Outcome(result.accepted, result.rejected, time.perf_counter() - started,
                                 _rejections(result.rejections))]
            out = []
            for req in requests:
                started = time.perf_counter()
                try:
                    result = client.write_raw(req.payload)
                except grpc.RpcError as err:
                    out.append(_Outcome(0, req.samples, time.perf_counter() - started,
                                        f"gRPC {err.code()}: {err.details()}"))
                    continue
                out.append(_Outcome(result.accepted, result.rejected, time.perf_counter() - started,
                                    _rejections(result.rejections)))
            return out

        return send

    return make


def _rejections(rejections: dict[str, tuple[int, list[str]]]) -> str:
    return "; ".join(f"{reason}: {count} (e.g. {', '.join(examples[:1])})"
                     for reason, (count, examples) in rejections.items())


def run(plan: Plan, make_sender: Callable[[], SendEpoch], target: str, protocol: str,
        pid: int | None = None, max_seconds: float = 600.0, show_progress: bool = False) -> IngestResult:
    """Send ``plan`` with one thread per sender; returns the measurements (never raises on rejections)."""
    if protocol not in PROTOCOLS:
        raise InvalidArgumentError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    k = len(plan.senders)
    senders = [make_sender() for _ in range(k)]
    outcomes: list[list[_Outcome]] = [[] for _ in range(k)]
    sent = [0] * k
    barrier = threading.Barrier(k)
    stop = threading.Event()
    progress = Progress(f"sending ({target})"[:24], plan.num_samples, show_progress)
    deadline = time.monotonic() + max_seconds

    def worker(i: int) -> None:
        try:
            for epoch in plan.senders[i]:
                if stop.is_set() or time.monotonic() > deadline:
                    stop.set()
                    break
                results = senders[i](epoch)
                outcomes[i].extend(results)
                sent[i] += len(epoch)
                progress.add(sum(r.samples for r in epoch))
                barrier.wait(timeout=max(1.0, deadline - time.monotonic() + 60))
        except threading.BrokenBarrierError:
            stop.set()
        finally:
            if stop.is_set():
                barrier.abort()

    before = procstat.process_tree_sample(pid) if pid else None
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,), name=f"bench-sender-{i}", daemon=True)
               for i in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max_seconds + 120)
    seconds = time.perf_counter() - started
    after = procstat.process_tree_sample(pid) if pid else None
    progress.close()

    flat = [o for per in outcomes for o in per]
    result = IngestResult(target=target, protocol=protocol, shape=plan.shape, senders=k, seconds=seconds)
    result.requests = sum(sent)
    result.accepted = sum(o.accepted for o in flat)
    result.rejected = sum(o.rejected for o in flat)
    result.samples_sent = result.accepted + result.rejected
    result.truncated = stop.is_set() or result.samples_sent < plan.num_samples
    latencies = sorted(o.latency_s * 1000 for o in flat)
    if latencies:
        result.latency_p50_ms = statistics.median(latencies)
        result.latency_p99_ms = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    result.errors = [o.error for o in flat if o.error][:5]
    if before is not None and after is not None:
        result.server_cpu_seconds = after.cpu_seconds - before.cpu_seconds
        result.server_peak_rss_bytes = after.peak_rss_bytes
    return result


def ingest_http(url: str, plan: Plan, pid: int | None = None, max_seconds: float = 600.0,
                show_progress: bool = False) -> IngestResult:
    """Send ``plan`` to ``url``'s remote-write endpoint."""
    return run(plan, http_sender(url), url, "http", pid, max_seconds, show_progress)


def ingest_grpc(address: str, plan: Plan, stream: bool = False, pid: int | None = None,
                max_seconds: float = 600.0, show_progress: bool = False) -> IngestResult:
    """Send ``plan``'s uncompressed payloads to a tsdb gRPC server (``Write`` or ``WriteStream``)."""
    if not plan.has_payloads:
        raise InvalidArgumentError("the plan was encoded without payloads (keep_payloads=False); gRPC needs them")
    return run(plan, grpc_sender(address, stream), address, "grpc-stream" if stream else "grpc-write", pid,
               max_seconds, show_progress)
