"""Ingestion throughput per protocol, next to remote-write: samples/s decoded in-process (one thread, no
storage), and samples/s stored end to end by a ``tsdb serve`` over each protocol's own transport.

The same workload goes through every protocol: ``--series`` node-exporter-like series x ``--steps``
timestamps 15 s apart, sent ``--series`` samples (one timestamp of every series) per request. Bodies are
encoded before timing. Decoding runs each protocol's decoder on those bodies for ``--seconds``. End to end,
the bodies are sent in time order over one connection (HTTP keep-alive, or TCP for Graphite) to one server
with a fresh data directory: the first body (creating the series) untimed, then the clock runs from the second
body until every sample can be read back through PromQL (``count_over_time``), so nothing acknowledged but
lost is counted. StatsD aggregates lines into series
between flushes, so it is reported in lines/s decoded only. ``python -m benchmarks ingest_formats
[--series 2000] [--steps 50] [--seconds 2]``; prints a table, never asserts.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import socket
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tsdb.bench.report import machine_description
from tsdb.bench.servers import LocalServer, free_port
from tsdb.config import DatadogOptions
from tsdb.ingest import datadog, graphite, influx, otlp
from tsdb.ingest.statsd import StatsdAggregator
from tsdb.labels import Labels, LabelsCache
from tsdb.server.datadog_api import decode_v2_protobuf
from tsdb.server.pb.datadog.agent_payload_pb2 import MetricPayload
from tsdb.server.remote_write import compress_snappy, decode_body, encode_write_request

STEP_S = 15


@dataclass
class Workload:
    """``values[step, series]`` at ``start_s + step * STEP_S`` for series ``(instance, cpu)``, ending a
    minute ago."""

    series: int
    steps: int

    def __post_init__(self) -> None:
        self.start_s = int(time.time()) - 60 - self.steps * STEP_S
        rng = np.random.default_rng(7)
        self.values = np.round(np.cumsum(rng.random((self.steps, self.series)), axis=0), 2)
        self.instance = [f"host-{i // 8:04d}" for i in range(self.series)]
        self.cpu = [str(i % 8) for i in range(self.series)]

    @property
    def samples(self) -> int:
        return self.series * self.steps

    def seconds(self, step: int) -> int:
        return self.start_s + step * STEP_S


@dataclass
class Protocol:
    """One protocol's encoded bodies, its decoder (returns samples decoded) and how the server takes them."""

    name: str
    metric: str
    bodies: list[bytes]
    decode: Callable[[bytes], int]
    path: str = ""
    headers: dict[str, str] | None = None


def remote_write(work: Workload) -> Protocol:
    bodies = []
    for step in range(work.steps):
        ts = np.array([work.seconds(step) * 1000], np.int64)
        bodies.append(compress_snappy(encode_write_request([
            (Labels({"__name__": "bench_rw", "instance": work.instance[i], "cpu": work.cpu[i], "job": "node"}), ts,
             work.values[step, i:i + 1]) for i in range(work.series)])))
    cache = LabelsCache()
    return Protocol("remote-write (snappy protobuf)", "bench_rw", bodies,
                    lambda b: decode_body(b, cache).num_samples, "/api/v1/write",
                    {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                     "X-Prometheus-Remote-Write-Version": "0.1.0"})


def influx_lines(work: Workload) -> Protocol:
    bodies = [("\n".join(f"bench,instance={work.instance[i]},cpu={work.cpu[i]},job=node influx={work.values[step, i]} "
                         f"{work.seconds(step) * 1000}" for i in range(work.series)) + "\n").encode()
              for step in range(work.steps)]
    cache = LabelsCache()
    precision = influx.precision_factor("ms", True)
    return Protocol("InfluxDB line protocol", "bench_influx", bodies,
                    lambda b: influx.parse(b, 0, precision, "", cache).num_samples, "/api/v2/write?precision=ms")


def graphite_lines(work: Workload) -> Protocol:
    bodies = [("\n".join(f"bench_graphite;instance={work.instance[i]};cpu={work.cpu[i]};job=node "
                         f"{work.values[step, i]} {work.seconds(step)}" for i in range(work.series)) + "\n").encode()
              for step in range(work.steps)]
    cache = LabelsCache()
    return Protocol("Graphite plaintext (tagged)", "bench_graphite", bodies,
                    lambda b: graphite.parse(b, 0, cache).num_samples)


def _attr(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp_protobuf(work: Workload) -> Protocol:
    bodies = []
    for step in range(work.steps):
        request = ExportMetricsServiceRequest()
        rm = request.resource_metrics.add()
        rm.resource.attributes.append(_attr("service.name", "node"))
        metric = rm.scope_metrics.add().metrics.add()
        metric.name = "bench_otlp"
        stamp = work.seconds(step) * 1_000_000_000
        for i in range(work.series):
            point = metric.gauge.data_points.add()
            point.time_unix_nano = stamp
            point.as_double = float(work.values[step, i])
            point.attributes.extend([_attr("instance", work.instance[i]), _attr("cpu", work.cpu[i])])
        bodies.append(gzip.compress(request.SerializeToString(), 1))

    def decode(body: bytes) -> int:
        return otlp.translate(otlp.decode_request(gzip.decompress(body), "application/x-protobuf")).num_samples

    return Protocol("OTLP/HTTP (gzip protobuf)", "bench_otlp", bodies, decode, "/api/v1/otlp/v1/metrics",
                    {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})


def datadog_v1_json(work: Workload) -> Protocol:
    def series(step: int) -> list[dict[str, object]]:
        return [{"metric": "bench.dd_v1", "points": [[work.seconds(step), float(work.values[step, i])]],
                 "type": "gauge", "host": work.instance[i], "tags": [f"cpu:{work.cpu[i]}", "job:node"]}
                for i in range(work.series)]
    bodies = [zlib.compress(json.dumps({"series": series(step)}).encode(), 1) for step in range(work.steps)]
    options = DatadogOptions()
    return Protocol("DataDog v1 series (deflate JSON)", "bench_dd_v1", bodies,
                    lambda b: datadog.decode_v1_json(zlib.decompress(b), options).num_samples, "/datadog/api/v1/series",
                    {"Content-Type": "application/json", "Content-Encoding": "deflate"})


def datadog_v2_protobuf(work: Workload) -> Protocol:
    bodies = []
    for step in range(work.steps):
        payload = MetricPayload()
        for i in range(work.series):
            series = payload.series.add(metric="bench.dd_v2", type=3, tags=[f"cpu:{work.cpu[i]}", "job:node"])
            series.resources.add(type="host", name=work.instance[i])
            series.points.add(value=float(work.values[step, i]), timestamp=work.seconds(step))
        bodies.append(gzip.compress(payload.SerializeToString(), 1))
    options = DatadogOptions()
    return Protocol("DataDog v2 series (gzip protobuf, the agent's)", "bench_dd_v2", bodies,
                    lambda b: decode_v2_protobuf(gzip.decompress(b), options).num_samples, "/datadog/api/v2/series",
                    {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})


BUILDERS = (remote_write, influx_lines, graphite_lines, otlp_protobuf, datadog_v1_json, datadog_v2_protobuf)


def decode_rate(protocol: Protocol, seconds: float) -> float:
    """Samples/s the decoder turns bodies into, one thread, cycling over the bodies for ``seconds``."""
    protocol.decode(protocol.bodies[0])  # compile kernels and fill the labels cache first
    done, started, k = 0, time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        done += protocol.decode(protocol.bodies[k % len(protocol.bodies)])
        k += 1
    return done / (time.perf_counter() - started)


def statsd_rate(work: Workload, seconds: float) -> float:
    """Lines/s a StatsD aggregator takes in 120-line DogStatsD datagrams."""
    lines = [f"bench.statsd:{work.values[0, i]}|g|#instance:{work.instance[i]},cpu:{work.cpu[i]}".encode()
             for i in range(work.series)]
    datagrams = [b"\n".join(lines[k:k + 120]) for k in range(0, len(lines), 120)]
    agg = StatsdAggregator()
    agg.ingest_many(datagrams)
    rounds, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        agg.ingest_many(datagrams)
        rounds += 1
    return rounds * len(lines) / (time.perf_counter() - started)


def _stored(server_url: str, metric: str) -> int:
    query = urllib.parse.urlencode({"query": f"sum(count_over_time({metric}[1d]))"})
    with urllib.request.urlopen(f"{server_url}/api/v1/query?{query}", timeout=60) as response:
        result = json.load(response)["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def send(server: LocalServer, graphite_port: int, protocol: Protocol, expected: int, max_seconds: float) -> float:
    """Send the first body (new series, compiled code) untimed, then time the rest until all ``expected``
    samples read back; returns samples/s end to end of the timed part (0 on timeout)."""
    first = len(protocol.bodies[0].splitlines()) if not protocol.path else 0

    def deliver(bodies: list[bytes]) -> None:
        if protocol.path:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            try:
                for body in bodies:  # in time order, as one sender queue sends them
                    conn.request("POST", protocol.path, body, protocol.headers or {})
                    response = conn.getresponse()
                    answer = response.read()
                    if response.status >= 300:
                        raise RuntimeError(f"{protocol.path}: HTTP {response.status}: {answer[:300]!r}")
            finally:
                conn.close()
        else:
            with socket.create_connection(("127.0.0.1", graphite_port), timeout=60) as conn:
                for body in bodies:
                    conn.sendall(body)

    def wait_for(count: int, deadline: float) -> bool:
        while time.perf_counter() < deadline:
            if _stored(server.url, protocol.metric) >= count:
                return True
            time.sleep(0.02)
        return False

    per_body = expected // len(protocol.bodies)
    deliver(protocol.bodies[:1])
    if not wait_for(per_body or first, time.perf_counter() + max_seconds):
        return 0.0
    started = time.perf_counter()
    deliver(protocol.bodies[1:])
    if not wait_for(expected, started + max_seconds):
        return 0.0
    return (expected - per_body) / (time.perf_counter() - started)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks ingest_formats")
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=2.0, help="decoding time per protocol")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="bound on each end-to-end send")
    args = parser.parse_args(argv)
    work = Workload(args.series, args.steps)
    print(f"{machine_description()}\nworkload: {args.series:,} series x {args.steps} timestamps = "
          f"{work.samples:,} samples per protocol, {args.series:,} samples per request", flush=True)
    protocols = [build(work) for build in BUILDERS]
    decoded = {p.name: decode_rate(p, args.seconds) for p in protocols}
    with tempfile.TemporaryDirectory(prefix="tsdb-bench-formats-") as tmp:
        root = Path(tmp)
        graphite_port = free_port()
        config = root / "tsdb.yml"
        config.write_text(f"graphite:\n  listen: 127.0.0.1:{graphite_port}\n")
        with LocalServer("tsdb", root / "data", extra_args=("--config", str(config))).start() as server:
            stored = {p.name: send(server, graphite_port, p, work.samples, args.max_seconds) for p in protocols}
    reference = decoded[protocols[0].name]
    print("| protocol | decoded samples/s (1 thread) | vs remote-write | stored end to end samples/s |")
    print("|---|---|---|---|")
    for p in protocols:
        end_to_end = f"{stored[p.name]:,.0f}" if stored[p.name] else "timed out"
        print(f"| {p.name} | {decoded[p.name]:,.0f} | {decoded[p.name] / reference:.2f}x | {end_to_end} |")
    lines = statsd_rate(work, args.seconds)
    print(f"| StatsD/DogStatsD (120-line datagrams, aggregated) | {lines:,.0f} lines/s | "
          f"{lines / reference:.2f}x | (aggregated per flush) |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
