"""Over HTTP: a block whose chunk fails its checksum when a query reads it is quarantined while served."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from tests.storage.test_db_faults import SMALL, _blocks_written, _corrupt_chunk, _series
from tsdb.config import ServerConfig, StorageOptions
from tsdb.server.app import Server


def test_query_hitting_a_corrupt_chunk_fails_then_the_block_is_quarantined_and_the_rest_served(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    model, blocks = _blocks_written(data)
    ulid, mint, maxt = blocks[0]
    _corrupt_chunk(data / ulid, _series(2))
    storage = StorageOptions(block_range_ms=SMALL.block_range_ms, retention_ms=SMALL.retention_ms,
                             compaction_interval_ms=3_600_000)  # no maintenance during the test
    config = ServerConfig(data_dir=str(data), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0", storage=storage)
    query = {"query": "count_over_time(faults[1h])", "time": "59"}  # every sample of every block and the head

    async def scenario() -> tuple[int, dict[str, Any], int, dict[str, Any], str]:
        server = Server(config)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            async with aiohttp.ClientSession() as session:
                async with session.get(base + "/api/v1/query", params=query) as response:
                    first_status, first = response.status, await response.json()
                async with session.get(base + "/api/v1/query", params=query) as response:
                    second_status, second = response.status, await response.json()
                async with session.get(base + "/metrics") as response:
                    metrics = await response.text()
            return first_status, first, second_status, second, metrics
        finally:
            await server.stop()

    first_status, first, second_status, second, metrics = asyncio.run(scenario())
    assert first_status == 422 and first["status"] == "error", first
    assert ulid in first["error"] and "quarantined" in first["error"], first["error"]
    assert second_status == 200, second
    bad = {labels["instance"]: sum(1 for t, _ in points if mint <= t <= maxt) for labels, points in model.data.items()}
    want = {labels["instance"]: len(points) - bad[labels["instance"]] for labels, points in model.data.items()}
    got = {r["metric"]["instance"]: int(r["value"][1]) for r in second["data"]["result"]}
    assert got == want, "the second answer comes from the other blocks and the head"
    assert "tsdb_blocks_quarantined 1.0" in metrics
    assert (data / "quarantine" / ulid).is_dir() and not (data / ulid).exists()
