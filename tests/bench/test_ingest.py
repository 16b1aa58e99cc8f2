"""Ingestion smoke tests against real peers: counts and report shape, never timings."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tsdb.bench import procstat
from tsdb.bench.encode import plan_requests
from tsdb.bench.ingest import ingest_grpc, ingest_http, parse_target, run
from tsdb.bench.servers import LocalServer, available, free_port
from tsdb.errors import InvalidArgumentError

pytestmark = pytest.mark.external


@pytest.mark.parametrize("shape", ["queue", "backfill"])
def test_prometheus_accepts_every_sample(prometheus: LocalServer, small_workload: Any, shape: str) -> None:
    plan = plan_requests(small_workload, 3, shape, 50, epoch_slots=20)
    result = ingest_http(prometheus.url, plan, pid=prometheus.pid)
    assert result.accepted + result.rejected == small_workload.num_samples
    # Prometheus may refuse a request as "out of bounds" when concurrent senders straddle its head's
    # appendable window; anything else, or more than a stray request, is a harness bug
    assert result.rejected <= small_workload.num_samples // 100, result.errors
    assert all("out of bounds" in e for e in result.errors), result.errors
    assert result.requests == plan.num_requests and not result.truncated
    assert result.protocol == "http" and result.shape == shape and result.senders == 3
    assert result.server_cpu_seconds is not None and result.server_cpu_seconds >= 0
    assert result.server_peak_rss_bytes is not None and result.server_peak_rss_bytes > 0
    assert result.latency_p99_ms >= result.latency_p50_ms > 0
    assert set(result.to_dict()) >= {"samples_per_second", "accepted", "rejected", "latency_p50_ms"}


def test_victoriametrics_accepts_every_sample(victoriametrics: LocalServer, small_workload: Any) -> None:
    plan = plan_requests(small_workload, 2, "queue", 64)
    result = ingest_http(victoriametrics.url, plan, pid=victoriametrics.pid)
    assert (result.accepted, result.rejected) == (small_workload.num_samples, 0)


def test_rejections_and_errors_are_counted(prometheus: LocalServer, small_workload: Any) -> None:
    plan = plan_requests(small_workload, 2, "queue", 100)
    not_found = ingest_http(prometheus.url + "/nope", plan)
    assert (not_found.accepted, not_found.rejected) == (0, small_workload.num_samples)
    assert not_found.errors and not_found.errors[0].startswith("HTTP 404")
    refused = ingest_http(f"http://127.0.0.1:{free_port()}", plan)
    assert refused.accepted == 0 and refused.rejected == small_workload.num_samples and refused.errors


def test_max_seconds_truncates(prometheus: LocalServer, small_workload: Any) -> None:
    plan = plan_requests(small_workload, 2, "queue", 100)
    result = ingest_http(prometheus.url, plan, max_seconds=0)
    assert result.truncated and result.accepted < small_workload.num_samples


def test_bad_target_and_protocol(small_workload: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="http"):
        parse_target("ftp://127.0.0.1:1")
    assert parse_target("http://127.0.0.1:9090/prom/") == ("http", "127.0.0.1", 9090, "/prom")
    plan = plan_requests(small_workload, 1, "queue")
    with pytest.raises(InvalidArgumentError, match="protocol"):
        run(plan, lambda: lambda reqs: [], "x", "carrier-pigeon")
    bodies_only = plan_requests(small_workload, 1, "queue", keep_payloads=False)
    with pytest.raises(InvalidArgumentError, match="payloads"):
        ingest_grpc("127.0.0.1:1", bodies_only)


def test_procstat_reads_this_process() -> None:
    here = procstat.process_tree_sample(os.getpid())
    assert here is not None and here.cpu_seconds > 0 and here.peak_rss_bytes > 0
    assert procstat.sample(2**22 + 12345) is None


def test_server_start_failure_is_reported(tmp_path: Any) -> None:
    if not available("prometheus"):
        pytest.skip("needs binary prometheus (Debian package prometheus): not installed")
    server = LocalServer("prometheus", tmp_path / "data", ready_timeout_s=30,
                         extra_args=("--no-such-flag",))
    with pytest.raises(InvalidArgumentError, match="exited"):
        server.start()
    assert server.proc is not None and server.proc.poll() is not None
    with pytest.raises(InvalidArgumentError, match="unknown target kind"):
        LocalServer("influx", tmp_path)
