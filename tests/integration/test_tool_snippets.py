"""The snippets of docs/integrations.md ("Pointing Grafana, Prometheus and DataDog at tsdb") work as written:
the requests Grafana's Prometheus data source sends, with the provisioned settings, are answered; a real
Prometheus with the documented prometheus.yml remote-writes its scrapes of tsdb into tsdb and reads tsdb's
data back through remote read."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.contracts.prometheus_peer import PrometheusPeer, remote_write
from tests.integration.serve import ServeProcess
from tests.needs import needs_binary
from tsdb.labels import Labels

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def _snippet(tool: str) -> str:
    section = DOC.read_text().split("## Pointing Grafana, Prometheus and DataDog at tsdb", 1)[1]
    after = section.split(f"**{tool}**", 1)[1]
    return after.split("```yaml\n", 1)[1].split("```", 1)[0]


def _get(url: str, timeout_s: float = 30) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return dict(json.load(response))


def _series(now_ms: int) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    ts = np.arange(now_ms - 10 * 60_000, now_ms - 5_000, 15_000, dtype=np.int64)
    return [(Labels({"__name__": "only_in_tsdb", "job": "batch", "shard": str(i)}), ts,
             np.arange(len(ts), dtype=np.float64) + i) for i in range(3)]


@pytest.fixture
def serve(tmp_path: Path) -> Any:
    server = ServeProcess(tmp_path / "data")
    try:
        remote_write(server.url, "/api/v1/write", _series(int(time.time() * 1000)))
        yield server
    finally:
        server.stop()


def test_grafana_data_source_requests_are_answered(serve: ServeProcess) -> None:
    source = yaml.safe_load(_snippet("Grafana"))["datasources"][0]
    assert source["type"] == "prometheus" and source["jsonData"]["httpMethod"] == "POST"
    url = source["url"].replace("127.0.0.1:9201", f"127.0.0.1:{serve.http_port}")
    now = time.time()
    step = source["jsonData"]["timeInterval"]

    def post(path: str, form: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(url + path, data=urllib.parse.urlencode(form).encode(), method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.load(response))
    # what the data source asks when it is saved, when a panel loads and while a query is typed
    assert _get(url + "/api/v1/status/buildinfo")["data"]["version"]
    instant = post("/api/v1/query", {"query": "sum(only_in_tsdb)", "time": str(now)})
    assert float(instant["data"]["result"][0]["value"][1]) > 0
    ranged = post("/api/v1/query_range", {"query": "only_in_tsdb", "start": str(now - 600), "end": str(now),
                                          "step": step.removesuffix("s")})
    assert len(ranged["data"]["result"]) == 3
    assert "only_in_tsdb" in _get(url + "/api/v1/label/__name__/values")["data"]
    assert "shard" in post("/api/v1/labels", {"match[]": "only_in_tsdb"})["data"]
    assert len(post("/api/v1/series", {"match[]": "only_in_tsdb", "start": str(now - 600)})["data"]) == 3
    assert _get(url + "/api/v1/metadata")["status"] == "success"


@pytest.mark.external
@needs_binary("prometheus", package="prometheus")
def test_prometheus_with_the_documented_config_writes_to_and_reads_from_tsdb(serve: ServeProcess,
                                                                              tmp_path: Path) -> None:
    config = yaml.safe_load(_snippet("Prometheus").replace("127.0.0.1:9201", f"127.0.0.1:{serve.http_port}"))
    config["global"] = {"scrape_interval": "1s"}
    config["remote_write"][0]["queue_config"] = {"batch_send_deadline": "1s"}  # sooner than the 5 s default
    peer = PrometheusPeer(tmp_path / "prom", yaml.safe_dump(config))
    try:
        query = urllib.parse.urlencode({"query": 'up{job="tsdb"}'})
        deadline = time.monotonic() + 60
        written: list[Any] = []
        while time.monotonic() < deadline and not written:  # Prometheus scraped tsdb and wrote `up` into it
            written = _get(f"{serve.url}/api/v1/query?{query}")["data"]["result"]
            time.sleep(0.5)
        assert written and written[0]["value"][1] == "1", peer.log_text()[-2000:]
        # a series only tsdb holds, answered by Prometheus through remote read
        query = urllib.parse.urlencode({"query": "sum(only_in_tsdb)"})
        answer = _get(f"{peer.url}/api/v1/query?{query}")["data"]["result"]
        direct = _get(f"{serve.url}/api/v1/query?{query}")["data"]["result"]
        assert answer and answer[0]["value"][1] == direct[0]["value"][1]
    finally:
        peer.stop()
