"""Object storage failing: a dead endpoint gives clear errors without the keys, shipping counts the failure
and keeps every block local, queries that need the bucket fail rather than answer without it, a server's
shipper retries with backoff; bad objects in the bucket are skipped; an unreadable marker ships again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.integration.serve import free_port
from tests.server_thread import ServerThread
from tests.storage.bucket.seaweed import WeedS3
from tests.storage.bucket.test_shipper import LABELS, OPTIONS, fill
from tsdb.config import BucketOptions, ServerConfig
from tsdb.server.components.bucket import BucketComponent
from tsdb.storage.bucket.client import BucketClient, BucketError
from tsdb.storage.bucket.layout import parse_bucket_meta
from tsdb.storage.bucket.shipper import MARKER_FILENAME, Shipper
from tsdb.storage.bucket.store import BucketBlocks
from tsdb.storage.db import DB

SECRET = "dead-endpoint-secret-key"


def _dead(**extra: object) -> BucketOptions:
    return BucketOptions(endpoint=f"http://127.0.0.1:{free_port()}", bucket="nowhere", prefix="p", insecure=True,
                         access_key="AK", secret_key=SECRET, **extra)  # type: ignore[arg-type]


def test_a_dead_endpoint_fails_with_clear_errors(tmp_path: Path) -> None:
    client = BucketClient(_dead())
    local = tmp_path / "f"
    local.write_bytes(b"x")
    for call in (lambda: client.put("k", b"x"), lambda: client.get("k"), lambda: client.list(),
                 lambda: client.download("k", tmp_path / "g"), lambda: client.upload(local, "k")):
        with pytest.raises(BucketError) as info:
            call()
        assert "bucket nowhere:" in str(info.value) and "nowhere/p" in str(info.value)
        assert SECRET not in str(info.value)
    assert not (tmp_path / "g.tmp").exists() and not (tmp_path / "g").exists()
    with pytest.raises(FileNotFoundError):
        client.upload(tmp_path / "missing", "k")


def test_shipping_to_a_dead_endpoint_keeps_everything_local(tmp_path: Path) -> None:
    options = _dead(local_retention_ms=1)
    db = DB.open(tmp_path / "data", OPTIONS)
    try:
        fill(db, 8)
        blocks = [b.ulid for b in db.blocks]
        shipper = Shipper(db, BucketClient(options), options, LABELS)
        report = shipper.sync()
        assert report.error and report.blocks == [] and SECRET not in report.error
        assert shipper.stats.uploads == {("block", "failure"): 1} and shipper.stats.pending_blocks == len(blocks)
        assert not (db.path / MARKER_FILENAME).exists()
        assert shipper.drop_expired() == [] and [b.ulid for b in db.blocks] == blocks

        store = BucketBlocks(BucketClient(options), tmp_path / "cache", 1 << 20)
        local = [b.meta for b in db.blocks]
        oldest = min(m.min_time for m in local)
        assert store.queriers(oldest, oldest + 1000, local, db.head.min_time) == []  # local data covers it
        with pytest.raises(BucketError):
            store.queriers(oldest - 1000, oldest, local, db.head.min_time)
    finally:
        db.close()


def test_an_unreadable_marker_ships_again(tmp_path: Path, weed: WeedS3) -> None:
    options = weed.options(prefix="marker", local_retention_ms=1)
    db = DB.open(tmp_path / "data", OPTIONS)
    try:
        fill(db, 8)
        (db.path / MARKER_FILENAME).write_text("{not json")
        shipper = Shipper(db, BucketClient(options), options, LABELS)
        assert sorted(shipper.sync().blocks) == sorted(b.ulid for b in db.blocks)
        assert shipper.status() == {"shipped": len(db.blocks), "pending": 0}
        ulids = sorted(b.ulid for b in db.blocks)
        time.sleep(0.01)
        assert sorted(shipper.drop_expired()) == ulids and not db.blocks
        assert shipper.sync().blocks == []  # dropped blocks leave the marker, and are not shipped again
        assert json.loads((db.path / MARKER_FILENAME).read_text())["uploaded"] == []
    finally:
        db.close()


def test_bad_objects_in_the_bucket_are_skipped(tmp_path: Path, weed: WeedS3) -> None:
    client = BucketClient(weed.options(prefix="bad"))
    client.put("01ARZ3NDEKTSV4RRFFQ69G5FAV/meta.json", b"[1, 2]")
    client.put("01ARZ3NDEKTSV4RRFFQ69G5FAW/meta.json", b'{"ulid": "x"}')
    client.put("tiers/5m/not-a-tier.txt", b"x")
    store = BucketBlocks(client, tmp_path / "cache", 1 << 20)
    assert store.refresh() == [] and store.metas() == [] and store.min_time() == 2**62
    assert store.sync_tiers() == []
    assert client.get("no/such/key") is None
    with pytest.raises(ValueError, match="not a JSON object"):
        parse_bucket_meta(b"[]")
    meta, thanos = parse_bucket_meta(b'{"ulid": "u", "minTime": 1, "maxTime": 2, "thanos": 5}')
    assert (meta.ulid, thanos) == ("u", {})


def test_a_server_retries_a_failing_bucket_with_backoff(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=str(tmp_path / "node"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          storage=OPTIONS, bucket=_dead(upload_interval_ms=100, local_retention_ms=100))
    with ServerThread(config) as node:
        db = node.server.db
        assert db is not None
        fill(db, 8)
        component = next(c for c in node.server.components if isinstance(c, BucketComponent))
        deadline = time.monotonic() + 30
        while component.stats.uploads.get(("block", "failure"), 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert component.stats.uploads.get(("block", "failure"), 0) >= 3
        assert db.blocks and component.stats.pending_blocks == len(db.blocks)
