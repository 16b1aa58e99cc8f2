"""The StatsD / DogStatsD listener in a running server, fed by the real client libraries (PyPI ``statsd`` and
``datadog``) and read back with PromQL over the HTTP API."""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_thread import ServerThread
from tsdb.config import ServerConfig, StatsdOptions, StorageOptions, load_server_config
from tsdb.errors import ConfigError

statsd = pytest.importorskip("statsd")
datadog = pytest.importorskip("datadog")


class Running:
    """A server with the statsd listener; :meth:`flush` appends the interval now."""

    def __init__(self, thread: ServerThread) -> None:
        self.thread = thread
        (self.component,) = [c for c in thread.server.components if c.name == "statsd"]
        self.port: int = self.component.listener.udp_port  # type: ignore[attr-defined]
        self.base = f"http://127.0.0.1:{thread.server.http_port}"

    def metric(self, name: str, **labels: str) -> float:
        return self.thread.server.metrics.registry.get_sample_value(name, labels) or 0.0

    def wait_lines(self, count: int, outcome: str = "accepted") -> None:
        deadline = time.monotonic() + 10
        while self.metric("tsdb_statsd_lines_total", outcome=outcome) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.metric("tsdb_statsd_lines_total", outcome=outcome) == count

    def flush(self) -> None:
        self.thread.call(self.component.listener.flush())  # type: ignore[attr-defined]

    def query(self, promql: str) -> dict[tuple[tuple[str, str], ...], float]:
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=30) as response:
            body = json.loads(response.read())
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in body["data"]["result"]}


def _config(tmp_path: Path, **statsd_options: object) -> ServerConfig:
    options = {"listen": "127.0.0.1:0", "flush_interval_ms": 600_000, **statsd_options}
    return ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                        storage=StorageOptions(wal_fsync="never"), statsd=StatsdOptions(**options))  # type: ignore[arg-type]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with ServerThread(_config(tmp_path)) as thread:
        yield Running(thread)


def test_statsd_client(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("random.random", lambda: 0.0)  # the client's sampling coin always says "send"
    client = statsd.StatsClient("127.0.0.1", running.port, prefix="app")
    client.incr("hits")
    client.incr("hits", 4)
    client.decr("hits")
    client.incr("sampled", 1, rate=0.5)  # sent as "app.sampled:1|c|@0.5": counts as 2
    client.gauge("queue", 10)
    client.gauge("queue", 5, delta=True)
    client.gauge("queue", -3, delta=True)
    for ms in (10, 20, 30, 40):
        client.timing("work", ms)
    client.set("visitors", "a")
    client.set("visitors", "b")
    client.set("visitors", "a")
    running.wait_lines(14)
    running.flush()
    assert running.query("app_hits") == {(("__name__", "app_hits"),): 4.0}
    assert running.query("app_queue") == {(("__name__", "app_queue"),): 12.0}
    assert running.query("app_work_count")[(("__name__", "app_work_count"),)] == 4.0
    assert running.query("app_work_sum")[(("__name__", "app_work_sum"),)] == pytest.approx(0.1)
    assert running.query('app_work{quantile="0.5"}')[(("__name__", "app_work"), ("quantile", "0.5"))] == \
        pytest.approx(0.025)
    assert running.query("app_visitors") == {(("__name__", "app_visitors"),): 2.0}
    assert running.query("app_sampled") == {(("__name__", "app_sampled"),): 2.0}
    # counters keep counting across flushes
    client.incr("hits", 2)
    running.wait_lines(15)
    running.flush()
    assert running.query("app_hits") == {(("__name__", "app_hits"),): 6.0}
    assert running.metric("tsdb_write_requests_total", protocol="statsd", code="ok") >= 13


def test_dogstatsd_client(running: Running) -> None:
    client = datadog.DogStatsd(host="127.0.0.1", port=running.port, disable_telemetry=True)
    client.increment("page.views", tags=["env:prod", "host:web-1"])
    client.increment("page.views", 2, tags=["env:prod", "host:web-1"])
    client.increment("page.views", tags=["env:dev"], sample_rate=1)
    client.gauge("disk.free", 42.5, tags=["mount:/"])
    for v in (1, 2, 3, 4, 5):
        client.histogram("payload.size", v)
        client.distribution("render.time", v * 10, tags=["bare"])
    client.timing("db.query", 250)
    client.set("users", "u1")
    client.set("users", "u2")
    client.flush()
    client.close_socket()
    running.wait_lines(17)
    running.flush()
    views = running.query("page_views")
    assert views == {(("__name__", "page_views"), ("env", "prod"), ("host", "web-1")): 3.0,
                     (("__name__", "page_views"), ("env", "dev")): 1.0}
    assert running.query("disk_free") == {(("__name__", "disk_free"), ("mount", "/")): 42.5}
    assert running.query("payload_size_count") == {(("__name__", "payload_size_count"),): 5.0}
    assert running.query("payload_size_sum") == {(("__name__", "payload_size_sum"),): 15.0}
    quantiles = running.query("payload_size")
    assert quantiles[(("__name__", "payload_size"), ("quantile", "0.5"))] == 3.0
    assert quantiles[(("__name__", "payload_size"), ("quantile", "0.99"))] == pytest.approx(4.96)
    assert running.query("render_time_sum") == {(("__name__", "render_time_sum"),): 150.0}  # d: no unit change
    assert running.query("db_query_sum") == {(("__name__", "db_query_sum"),): 0.25}  # ms -> s
    assert running.query("users") == {(("__name__", "users"),): 2.0}
    assert running.metric("tsdb_statsd_tag_errors_total") == 5  # the bare tag of each distribution


def test_bad_lines_counted_valid_lines_kept(running: Running) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"good:1|c\nbad line\nx:abc|g\ny:1|zz\n_e{1,1}:a|b\n_sc|check|0\ngood:2|c|@0.5", ("127.0.0.1",
                                                                                                     running.port))
    running.wait_lines(2)
    running.wait_lines(2, "ignored")
    assert running.metric("tsdb_statsd_lines_rejected_total", reason="malformed_line") == 1
    assert running.metric("tsdb_statsd_lines_rejected_total", reason="bad_value") == 1
    assert running.metric("tsdb_statsd_lines_rejected_total", reason="bad_type") == 1
    assert running.metric("tsdb_write_requests_total", protocol="statsd", code="invalid") == 1
    running.flush()
    assert running.query("good") == {(("__name__", "good"),): 5.0}


def test_flush_loop_and_flush_at_stop(tmp_path: Path) -> None:
    thread = ServerThread(_config(tmp_path, flush_interval_ms=200, unix_socket=str(tmp_path / "statsd.sock")))
    try:
        running = Running(thread)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"loop:7|g", ("127.0.0.1", running.port))
        deadline = time.monotonic() + 10
        while not running.query("loop") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.query("loop") == {(("__name__", "loop"),): 7.0}
        client = datadog.DogStatsd(socket_path=str(tmp_path / "statsd.sock"), disable_telemetry=True)
        client.increment("via_unix", 3)
        client.flush()
        client.close_socket()
        running.wait_lines(2)
        assert running.metric("tsdb_statsd_datagrams_total", transport="unix") == 1
    finally:
        thread.close()  # the stop flushes what is pending
    again = ServerThread(_config(tmp_path, listen="", unix_socket=""))
    try:
        base = f"http://127.0.0.1:{again.server.http_port}"
        url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": "via_unix"})
        with urllib.request.urlopen(url, timeout=30) as response:
            result = json.loads(response.read())["data"]["result"]
        assert [float(r["value"][1]) for r in result] == [3.0]
    finally:
        again.close()


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match=r"statsd\.listen"):
        StatsdOptions(listen="8125")
    with pytest.raises(ConfigError, match=r"statsd\.quantiles"):
        StatsdOptions(quantiles=[2])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match=r"statsd\.flush_interval"):
        StatsdOptions(flush_interval_ms=0)
    assert not StatsdOptions().enabled


def test_yaml_section(tmp_path: Path) -> None:
    path = tmp_path / "tsdb.yml"
    path.write_text("statsd: {listen: '127.0.0.1:8125', flush_interval: 200ms, quantiles: [0.5, 0.999]}\n")
    options = load_server_config(path).statsd
    assert (options.listen, options.flush_interval_ms, options.quantiles) == ("127.0.0.1:8125", 200, [0.5, 0.999])
    path.write_text("statsd: {listen: '127.0.0.1:8125', flush: 1s}\n")
    with pytest.raises(ConfigError, match="unknown key 'flush'"):
        load_server_config(path)
