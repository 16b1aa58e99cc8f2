"""The TCP and UDP listeners: InfluxDB line protocol, Graphite plaintext with graphyte and with collectd's
write_graphite plugin; data read back with PromQL through the HTTP API of a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ingest.test_influx_http import query
from tests.needs import require_binary, require_module
from tests.server_thread import ServerThread
from tsdb.config import GraphiteOptions, InfluxOptions, ServerConfig

T0_S = int(time.time()) - 30


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data = tmp_path_factory.mktemp("listeners") / "data"
    config = ServerConfig(data_dir=str(data), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          influx=InfluxOptions(tcp_listen="127.0.0.1:0", udp_listen="127.0.0.1:0"),
                          graphite=GraphiteOptions(listen="127.0.0.1:0"))
    with ServerThread(config) as st:
        yield st


def _ports(server: ServerThread) -> dict[str, int]:
    component = next(c for c in server.server.components if c.name == "ingest")
    ports: dict[str, int] = component.ports  # type: ignore[attr-defined]
    return ports


def _until(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_influx_over_tcp_and_udp(server: ServerThread) -> None:
    ports = _ports(server)
    with socket.create_connection(("127.0.0.1", ports["influx_tcp"])) as conn:
        conn.sendall(f"tcp_m,a=b v=1 {T0_S}000000000\nbroken line\ntcp_m,a=c v=".encode())
        conn.sendall(f"2 {T0_S}000000000\n".encode())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(f"udp_m v=3 {T0_S}000000000\n".encode(), ("127.0.0.1", ports["influx_udp"]))
    got = _until(lambda: len(query(server, "tcp_m_v", T0_S)) == 2 and query(server, "udp_m_v", T0_S))
    assert got
    assert sorted(r["value"][1] for r in query(server, "tcp_m_v", T0_S)) == ["1", "2"]


def test_graphyte_tcp_and_udp_with_tags(server: ServerThread) -> None:
    graphyte = require_module("graphyte")
    port = _ports(server)["graphite_tcp"]
    sender = graphyte.Sender("127.0.0.1", port=port, prefix="app", raise_send_errors=True)
    sender.send("requests.count", 42, timestamp=T0_S, tags={"dc": "eu-1", "bad-name": "x"})
    sender.send("plain.gauge", 1.5, timestamp=T0_S)
    udp = graphyte.Sender("127.0.0.1", port=_ports(server)["graphite_udp"], protocol="udp", raise_send_errors=True)
    udp.send("over.udp", 7, timestamp=T0_S)
    tagged = _until(lambda: query(server, '{__name__="app.requests.count"}', T0_S))
    assert tagged == [{"metric": {"__name__": "app.requests.count", "dc": "eu-1", "bad_name": "x"},
                       "value": [T0_S, "42"]}]
    # each graphyte send is its own connection: the lines may be stored in either order
    assert _until(lambda: query(server, '{__name__="app.plain.gauge"}', T0_S))[0]["value"] == [T0_S, "1.5"]
    assert _until(lambda: query(server, '{__name__="over.udp"}', T0_S))[0]["value"] == [T0_S, "7"]


def test_graphite_bad_lines_are_counted(server: ServerThread) -> None:
    with socket.create_connection(("127.0.0.1", _ports(server)["graphite_tcp"])) as conn:
        conn.sendall(f"good.one 1 {T0_S}\nno_value\nx.y notanumber {T0_S}\nnow.metric 5 -1\n".encode())
    assert _until(lambda: query(server, '{__name__="now.metric"}'))
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{server.server.http_port}/metrics") as resp:
        text = resp.read().decode()
    line = next(x for x in text.splitlines()
                if x.startswith('tsdb_ingest_rejected_total{protocol="graphite",reason="invalid_line"}'))
    assert float(line.split()[-1]) >= 2


def test_collectd_write_graphite(server: ServerThread, tmp_path: Path) -> None:
    collectd = require_binary("collectd", "/usr/sbin/collectd", package="collectd")
    conf = tmp_path / "collectd.conf"
    conf.write_text(f"""Hostname "testhost"
FQDNLookup false
Interval 1
BaseDir "{tmp_path}"
PIDFile "{tmp_path}/collectd.pid"
LoadPlugin load
LoadPlugin memory
LoadPlugin write_graphite
<Plugin write_graphite>
  <Node "tsdb">
    Host "127.0.0.1"
    Port "{_ports(server)['graphite_tcp']}"
    Protocol "tcp"
    Prefix "collectd."
  </Node>
</Plugin>
""")
    proc = subprocess.Popen([collectd, "-f", "-C", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        got = _until(lambda: query(server, '{__name__=~"collectd\\\\.testhost\\\\.load\\\\..*"}'), timeout_s=15)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert got, proc.stderr.read().decode() if proc.stderr else ""
    names = {r["metric"]["__name__"] for r in got}
    assert "collectd.testhost.load.load.shortterm" in names


def test_stop_ends_open_connections_and_long_lines_are_dropped(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=str(tmp_path / "d"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          graphite=GraphiteOptions(listen="127.0.0.1:0"))
    st = ServerThread(config)
    try:
        conn = socket.create_connection(("127.0.0.1", _ports(st)["graphite_tcp"]))
        conn.sendall(b"x" * (1100 << 10))  # past the longest partial line kept
        conn.sendall(f"\nkept.line 1 {T0_S}\n".encode())
        assert _until(lambda: query(st, '{__name__="kept.line"}', T0_S))
    finally:
        started = time.monotonic()
        st.close()
        conn.close()
    assert time.monotonic() - started < 10
