"""The scale-out write path with real agents in front of real ``tsdb serve`` nodes (docs/scaling.md).

1. vmagent sharding over three nodes: every series lands on exactly one node, one node killed with SIGKILL
   mid-stream and restarted on its port, and the union holds every sample sent, none lost or duplicated.
2. vmagent replicating to two nodes: both hold everything; the killed one catches up from vmagent's buffer.
3. Prometheus in agent mode forwarding its scrapes to a node.
4. The nodes' external labels on federation, remote-read and the StoreAPI (alerts: tests/rules).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import cramjam
import grpc
import numpy as np
import pytest

from tests.contracts.prometheus_peer import http_get, http_post, remote_write
from tests.integration.serve import ServeProcess, free_port
from tests.integration.vmagent import VmAgent, shard_relabel_configs
from tests.needs import needs_binary
from tests.server.test_remote_read import read_frames
from tsdb.labels import Labels
from tsdb.server.pb.thanos.store.storepb import rpc_pb2 as store_pb
from tsdb.server.pb.thanos.store.storepb import rpc_pb2_grpc as store_grpc
from tsdb.server.pb.thanos.store.storepb import types_pb2 as types_pb
from tsdb.server.pb.tsdb.v1 import remote_pb2

pytestmark = [pytest.mark.external]

SERIES = 90
ROUNDS = 45
STEP_MS = 1000
Key = tuple[tuple[str, str], ...]


class Workload:
    """``SERIES`` series (``load_0..2`` with an ``id`` label), one sample each per round, ``STEP_MS`` apart,
    ending about now (inside the nodes' out-of-order window), values exact in float64."""

    def __init__(self) -> None:
        self.base = int(time.time() * 1000) - ROUNDS * STEP_MS
        self.labels = [Labels({"__name__": f"load_{i % 3}", "id": f"{i:03d}", "job": "load"}) for i in range(SERIES)]

    def value(self, i: int, r: int) -> float:
        return i * 1000 + r + 0.25

    def send(self, url: str, r: int) -> None:
        ts = np.array([self.base + r * STEP_MS], dtype=np.int64)
        remote_write(url, "/api/v1/write", [(lb, ts, np.array([self.value(i, r)])) for i, lb in enumerate(self.labels)],
                     batch=SERIES)

    def expected(self) -> dict[Key, list[tuple[int, float]]]:
        return {tuple(sorted(lb.items())): [(self.base + r * STEP_MS, self.value(i, r)) for r in range(ROUNDS)]
                for i, lb in enumerate(self.labels)}

    @property
    def end_ms(self) -> int:
        return self.base + ROUNDS * STEP_MS


def node_samples(node: ServeProcess, end_ms: int, drop: tuple[str, ...] = ()) -> dict[Key, list[tuple[int, float]]]:
    """Every raw ``load_*`` sample a node holds (a range selector over the whole workload), by series."""
    status, body = node.get("/api/v1/query", query='{__name__=~"load_.+"}[10m]', time=str(end_ms / 1000 + 1))
    assert status == 200, body
    return {tuple(sorted((k, v) for k, v in s["metric"].items() if k not in drop)):
            [(round(float(t) * 1000), float(v)) for t, v in s["values"]] for s in body["data"]["result"]}


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def _node(tmp: Path, name: str, external: dict[str, str] | None = None, stack: ExitStack | None = None
          ) -> ServeProcess:
    """A ``tsdb serve`` with ``external_labels``, stopped when ``stack`` closes."""
    data = tmp / name
    data.mkdir()
    config = tmp / f"{name}.yml"
    config.write_text(json.dumps({"external_labels": external or {}}))
    node = ServeProcess(data / "data", "--config", str(config), "--no-collect", "--wal-fsync", "never")
    if stack is not None:
        stack.callback(node.stop)
    return node


def _stream(workload: Workload, agent: VmAgent, victim: ServeProcess) -> None:
    """Send every round, SIGKILL ``victim`` after a third and restart it on its port after two thirds."""
    for r in range(ROUNDS):
        if r == ROUNDS // 3:
            victim.kill()
        if r == 2 * ROUNDS // 3:
            victim.restart()
        workload.send(agent.url, r)
        time.sleep(0.05)


@needs_binary("vmagent", package="victoria-metrics")
def test_vmagent_sharding_survives_sigkill(tmp_path: Path) -> None:
    workload = Workload()
    with ExitStack() as stack:
        nodes = [_node(tmp_path, f"n{n}", {"shard": str(n)}, stack) for n in range(3)]
        relabel = shard_relabel_configs(tmp_path, 3, ["__name__", "id"])
        agent = stack.enter_context(VmAgent(tmp_path / "vmagent", [f"{n.url}/api/v1/write" for n in nodes], relabel))
        _stream(workload, agent, nodes[1])
        expected = workload.expected()

        def union() -> dict[Key, list[tuple[int, float]]]:
            out: dict[Key, list[tuple[int, float]]] = {}
            for node in nodes:
                for key, samples in node_samples(node, workload.end_ms).items():
                    assert key not in out, f"series {key} on two nodes"
                    out[key] = samples
            return out

        wait_for(lambda: sum(map(len, union().values())) >= SERIES * ROUNDS, 120,
                 f"{SERIES * ROUNDS} samples across the shards; vmagent log: {agent.log_text()[-1500:]}")
        assert union() == expected  # every sample, exact values, no duplicates, each series on one node
        assert "couldn't send a block" in agent.log_text()  # vmagent did buffer and retry for the killed node
        per_node = [len(node_samples(node, workload.end_ms)) for node in nodes]
        assert sum(per_node) == SERIES and min(per_node) > 0, per_node
        placement = {key: i for i, node in enumerate(nodes) for key in node_samples(node, workload.end_ms)}
        check_external_labels(nodes[2], "2", workload, placement)


def check_external_labels(node: ServeProcess, shard: str, workload: Workload, placement: dict[Key, int]) -> None:
    """Federation, remote-read and the StoreAPI all add the node's ``shard`` label to what it holds."""
    mine = sorted(key for key, i in placement.items() if i == int(shard))
    status, text = node.get("/federate", **{"match[]": '{job="load"}'})
    assert status == 200 and isinstance(text, str)
    lines = [line for line in text.splitlines() if line.startswith("load_")]
    assert len(lines) == len(mine) and all(f'shard="{shard}"' in line for line in lines)
    query = remote_pb2.Query(start_timestamp_ms=workload.base, end_timestamp_ms=workload.end_ms, matchers=[
        remote_pb2.LabelMatcher(type=remote_pb2.LabelMatcher.EQ, name="job", value="load")])
    request = remote_pb2.ReadRequest(queries=[query],
                                     accepted_response_types=[remote_pb2.ReadRequest.STREAMED_XOR_CHUNKS])
    status, body = http_post(node.url + "/api/v1/read", bytes(cramjam.snappy.compress_raw(request.SerializeToString())),
                             {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
    assert status == 200
    read = [{lb.name: lb.value for lb in s.labels} for m in read_frames(body) for s in m.chunked_series]
    assert len(read) == len(mine) and all(labels["shard"] == shard for labels in read)
    with grpc.insecure_channel(f"127.0.0.1:{node.grpc_port}") as channel:
        store = list(store_grpc.StoreStub(channel).Series(store_pb.SeriesRequest(
            min_time=workload.base, max_time=workload.end_ms, skip_chunks=True,
            matchers=[types_pb.LabelMatcher(type=types_pb.LabelMatcher.EQ, name="shard", value=shard),
                      types_pb.LabelMatcher(type=types_pb.LabelMatcher.EQ, name="job", value="load")]), timeout=30))
    assert len(store) == len(mine)
    assert all(("shard", shard) in [(lb.name, lb.value) for lb in r.series.labels] for r in store)


@needs_binary("vmagent", package="victoria-metrics")
def test_vmagent_replication_catches_up(tmp_path: Path) -> None:
    workload = Workload()
    with ExitStack() as stack:
        nodes = [_node(tmp_path, f"r{n}", stack=stack) for n in range(2)]
        agent = stack.enter_context(VmAgent(tmp_path / "vmagent", [f"{n.url}/api/v1/write" for n in nodes]))
        _stream(workload, agent, nodes[0])
        expected = workload.expected()
        for node in nodes:
            wait_for(lambda node=node: sum(map(len, node_samples(node, workload.end_ms).values())) >= SERIES * ROUNDS,
                     120, f"{node.url} to catch up; vmagent log: {agent.log_text()[-1500:]}")
            assert node_samples(node, workload.end_ms) == expected


@pytest.fixture
def agent_mode(tmp_path: Path) -> Iterator[Callable[[str, str], subprocess.Popen[bytes]]]:
    """Start ``prometheus --enable-feature=agent`` with a config; stopped by PID afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(config: str, port: str) -> subprocess.Popen[bytes]:
        binary = shutil.which("prometheus")
        assert binary is not None
        (tmp_path / "agent.yml").write_text(config)
        log = (tmp_path / "agent.log").open("wb")
        proc = subprocess.Popen([binary, "--enable-feature=agent", f"--config.file={tmp_path / 'agent.yml'}",
                                 f"--storage.agent.path={tmp_path / 'agent-data'}",
                                 f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=20)


@needs_binary("prometheus", package="prometheus")
def test_prometheus_agent_mode_forwards(tmp_path: Path,
                                        agent_mode: Callable[[str, str], subprocess.Popen[bytes]]) -> None:
    node = _node(tmp_path, "a0", {"shard": "0"})
    try:
        target = node.url.removeprefix("http://")
        port = str(free_port())
        agent_mode(f"""
global:
  scrape_interval: 1s
  external_labels: {{agent: a1}}
scrape_configs:
  - job_name: tsdb
    static_configs: [{{targets: ["{target}"]}}]
remote_write:
  - url: {node.url}/api/v1/write
    queue_config: {{batch_send_deadline: 1s}}
""", port)

        def arrived() -> bool:
            status, body = node.get("/api/v1/query", query='up{job="tsdb",agent="a1"}')
            return status == 200 and len(body["data"]["result"]) == 1

        wait_for(arrived, 90, "the agent's scrapes to arrive")
        status, body = node.get("/api/v1/query", query='count({job="tsdb",agent="a1"})')
        assert status == 200 and float(body["data"]["result"][0]["value"][1]) > 10  # the node's own /metrics
        status, raw = http_get(f"http://127.0.0.1:{port}/api/v1/status/buildinfo")
        assert status == 200 and json.loads(raw)["data"]["version"].startswith("2.")
    finally:
        node.stop()
