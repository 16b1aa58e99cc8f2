"""``tsdb serve`` as users run it: remote-write in, PromQL out, own metrics, graceful and hard stops."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from tests.integration.serve import ServeProcess
from tsdb.client import Client
from tsdb.labels import Labels
from tsdb.server.remote_write import compress_snappy, encode_write_request

HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}


def _write(server: ServeProcess, job: str, start_ms: int, n: int) -> tuple[int, str]:
    ts = start_ms + np.arange(n, dtype=np.int64) * 15_000
    body = compress_snappy(encode_write_request([(Labels({"__name__": "requests_total", "job": job}), ts,
                                                  np.arange(n, dtype=np.float64))]))
    return server.post("/api/v1/write", body, HEADERS)


def test_serve_end_to_end(tmp_path: Path) -> None:
    now = int(time.time() * 1000) // 15_000 * 15_000 - 3_600_000
    server = ServeProcess(tmp_path / "data")
    try:
        assert _write(server, "api", now, 100)[0] == 204
        at = str((now + 99 * 15_000) / 1000)
        status, body = server.get("/api/v1/query", query="sum(rate(requests_total[5m]))", time=at)
        assert status == 200 and float(body["data"]["result"][0]["value"][1]) == 1 / 15
        status, body = server.get("/api/v1/labels")
        assert body["data"] == ["__name__", "job"]
        status, text = server.get("/metrics")
        assert status == 200 and "tsdb_samples_appended_total 100.0" in text and "tsdb_head_series 1.0" in text
        with Client(f"127.0.0.1:{server.grpc_port}") as client:
            assert client.label_values("job") == ["api"]
        assert server.stop() == 0
        logs = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
        assert any(entry["msg"] == "tsdb started" for entry in logs)
        assert any(entry["msg"] == "tsdb stopped" for entry in logs)
    finally:
        server.kill()

    restarted = ServeProcess(tmp_path / "data")
    try:
        status, body = restarted.get("/api/v1/query", query="count_over_time(requests_total[1d])",
                                     time=str((now + 99 * 15_000) / 1000))
        assert body["data"]["result"][0]["value"][1] == "100"
        assert _write(restarted, "api", now + 100 * 15_000, 10)[0] == 204
        restarted.kill()  # SIGKILL: acknowledged writes must survive
    finally:
        restarted.kill()

    third = ServeProcess(tmp_path / "data")
    try:
        status, body = third.get("/api/v1/query", query="count_over_time(requests_total[1d])",
                                 time=str((now + 109 * 15_000) / 1000))
        assert body["data"]["result"][0]["value"][1] == "110"
    finally:
        third.stop()


def test_second_server_on_same_dir_fails_clearly(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "data")
    try:
        try:
            ServeProcess(tmp_path / "data")
            raise AssertionError("second server started on a locked data directory")
        except RuntimeError as err:
            assert "already in use" in str(err)
    finally:
        server.stop()
