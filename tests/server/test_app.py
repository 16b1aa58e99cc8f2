"""The composition root in-process: start, serve, maintain, metrics, logs, stop."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from tsdb.config import ServerConfig, StorageOptions
from tsdb.errors import ConfigError
from tsdb.labels import Labels
from tsdb.server.app import Server, split_address
from tsdb.server.logs import JsonFormatter, setup_logging
from tsdb.server.remote_write import compress_snappy, encode_write_request


def test_server_lifecycle(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          storage=StorageOptions(compaction_interval_ms=50, block_range_ms=10_000))

    async def scenario() -> tuple[str, str, dict[str, object]]:
        server = Server(config)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            ts = np.arange(0, 60_000, 1000, dtype=np.int64)
            body = compress_snappy(encode_write_request([(Labels({"__name__": "m", "job": "x"}), ts,
                                                           np.ones(len(ts)))]))
            async with aiohttp.ClientSession() as session:
                async with session.post(base + "/api/v1/write", data=body,
                                        headers={"Content-Type": "application/x-protobuf"}) as response:
                    assert response.status == 204
                # the maintenance loop persists the head as blocks (bounded wait, not a timing assumption)
                for _ in range(300):
                    if server.db is not None and server.db.blocks and server.db.last_maintenance_success:
                        break
                    await asyncio.sleep(0.1)
                async with session.get(base + "/api/v1/query", params={"query": "count_over_time(m[1m])",
                                                                       "time": "59"}) as response:
                    result = await response.text()
                ranges = []
                for _ in range(2):  # the second answer comes from the result cache
                    async with session.get(base + "/api/v1/query_range", params={
                            "query": "sum(m)", "start": "0", "end": "59", "step": "1"}) as response:
                        ranges.append(await response.json())
                assert ranges[0] == ranges[1] and len(ranges[0]["data"]["result"][0]["values"]) == 60
                async with session.get(base + "/metrics") as response:
                    metrics = await response.text()
                async with session.get(base + "/api/v1/status/tsdb") as response:
                    status = await response.json()
            assert server.db is not None and server.db.blocks, "maintenance wrote blocks"
            return result, metrics, status
        finally:
            await server.stop()
            assert server.db is None

    result, metrics, status = asyncio.run(scenario())
    assert '"60"' in result
    assert "tsdb_samples_appended_total 60.0" in metrics and "tsdb_query_duration_seconds_count" in metrics
    assert 'tsdb_write_requests_total{code="204",protocol="remote_write"} 1.0' in metrics
    assert 'tsdb_http_requests_total{code="200",handler="/api/v1/query"} 1.0' in metrics
    assert "tsdb_compaction_duration_seconds_count" in metrics and "tsdb_blocks_loaded" in metrics
    assert "tsdb_compactions_failed_total 0.0" in metrics and "tsdb_blocks_quarantined 0.0" in metrics
    assert all(f'tsdb_maintenance_failures_total{{stage="{stage}"}} 0.0' in metrics
               for stage in ("head", "compaction", "tiers", "retention"))
    last_success = next(line for line in metrics.splitlines()
                        if line.startswith("tsdb_maintenance_last_success_timestamp_seconds "))
    assert float(last_success.split()[1]) > 0, "maintenance succeeded (it wrote blocks)"
    assert 'tsdb_query_result_cache_requests_total{result="hit"} 1.0' in metrics
    assert 'tsdb_query_result_cache_requests_total{result="miss"} 1.0' in metrics
    assert status["data"]["seriesCountByMetricName"] == [{"name": "m", "value": 1}]  # type: ignore[index]


def test_a_backfill_is_persisted_without_waiting_for_the_maintenance_interval(tmp_path: Path) -> None:
    """With an hour between maintenance runs, a remote-written backfill spanning many block ranges is cut into
    blocks as soon as it is stored (the WAL does not keep it all until the next interval)."""
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          storage=StorageOptions(compaction_interval_ms=3_600_000, block_range_ms=10_000,
                                                 tiers_enabled=False))

    async def scenario() -> tuple[int, int]:
        server = Server(config)
        await server.start()
        try:
            ts = np.arange(0, 120_000, 1000, dtype=np.int64)
            body = compress_snappy(encode_write_request([(Labels({"__name__": "m"}), ts, np.ones(len(ts)))]))
            async with aiohttp.ClientSession() as session, session.post(
                    f"http://127.0.0.1:{server.http_port}/api/v1/write", data=body,
                    headers={"Content-Type": "application/x-protobuf"}) as response:
                assert response.status == 204
            db = server.db
            assert db is not None
            for _ in range(300):  # bounded wait for the background loop, far below the hour's interval
                if db.blocks and max(b.meta.max_time for b in db.blocks) >= 110_000:
                    break
                await asyncio.sleep(0.1)
            blocks = db.blocks
            return min(b.meta.min_time for b in blocks), max(b.meta.max_time for b in blocks)
        finally:
            await server.stop()

    # blocks hold everything up to where the head spans at most 1.5 block ranges (the last 9 s stay in it)
    assert asyncio.run(scenario()) == (0, 110_000)


def test_split_address() -> None:
    assert split_address("127.0.0.1:9201") == ("127.0.0.1", 9201)
    assert split_address("[::1]:80") == ("::1", 80)
    with pytest.raises(ValueError, match="expected host:port"):
        split_address("nope")


def test_json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        _check_json_logs(capsys)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]


def _check_json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "json")
    log = logging.getLogger("tsdb.test")
    log.info("hello", extra={"series": 3, "obj": object()})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["msg"] == "hello" and lines[0]["series"] == 3 and lines[0]["level"] == "info"
    assert "object" in lines[0]["obj"] and "boom" in lines[1]["exception"]
    setup_logging("warning", "text")
    formatted = json.loads(JsonFormatter().format(logging.LogRecord("x", 20, "", 0, "m", (), None)))
    assert formatted["msg"] == "m" and formatted["level"] == "info"


def test_status_pages_report_the_running_values(tmp_path: Path) -> None:
    """runtimeinfo, flags and config answer what the server runs with, secrets masked, reload outcome live."""
    secret_section = {"config": {
        "receivers": [{"name": "team", "slack_configs": [{"api_url": "https://hooks.example/T0/B0/xyz",
                                                          "channel": "#ops"}]}],
        "route": {"receiver": "team"}}}
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          storage=StorageOptions(retention_ms=30 * 86_400_000, retention_bytes=10 << 30),
                          notifications=secret_section)
    broken = {"fail": False}

    def reload_config() -> ServerConfig:
        if broken["fail"]:
            raise ConfigError("tsdb.yml: invalid YAML")
        return config

    async def scenario() -> dict[str, Any]:
        server = Server(config, reload_config, config_file="tsdb.yml")
        await server.start()
        out: dict[str, Any] = {}
        try:
            base = f"http://127.0.0.1:{server.http_port}/api/v1/status/"
            async with aiohttp.ClientSession() as session:
                for page in ("runtimeinfo", "flags", "config"):
                    async with session.get(base + page) as response:
                        out[page] = (await response.json())["data"]
                broken["fail"] = True
                with pytest.raises(ConfigError):
                    await server.reload()
                async with session.get(base + "runtimeinfo") as response:
                    out["after_failed_reload"] = (await response.json())["data"]
        finally:
            await server.stop()
        return out

    out = asyncio.run(scenario())
    runtime = out["runtimeinfo"]
    # 30 days print as Prometheus prints durations: 4w2d
    assert runtime["storageRetention"] == "4w2d or 10GiB" and runtime["reloadConfigSuccess"] is True
    assert runtime["lastConfigTime"] != "0001-01-01T00:00:00Z" and runtime["corruptionCount"] == 0
    assert runtime["goroutineCount"] >= 1 and runtime["GOMAXPROCS"] >= 1
    assert out["after_failed_reload"]["reloadConfigSuccess"] is False
    flags = out["flags"]
    assert flags["storage.tsdb.retention.time"] == "4w2d" and flags["config.file"] == "tsdb.yml"
    assert flags["storage.tsdb.path"] == str(tmp_path / "data")
    text = out["config"]["yaml"]
    assert "retention: 4w2d" in text and "channel: '#ops'" in text
    assert "<secret>" in text and "hooks.example" not in text
