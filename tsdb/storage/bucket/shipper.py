"""The shipper: uploads every block and tier file of a data directory to the bucket, once.

:meth:`Shipper.sync` (one pass, run every ``bucket.upload_interval`` by the server) uploads each block the
DB serves that the marker file ``<data dir>/shipped.json`` does not list yet, in Thanos's layout
(:mod:`~tsdb.storage.bucket.layout`, meta.json last), then every tier file that is new or was rewritten.
A block is pinned while it is uploaded (compaction may replace it meanwhile; its files stay until the upload
ends). Blocks compacted locally are shipped too, with their ``sources``: nothing is lost when a block is
merged before it was shipped, and readers hide blocks whose sources a bigger block holds.

A failure (the object store is down) ends the pass: nothing is marked, the block stays on local disk and
the next pass uploads it again from the start. :meth:`Shipper.drop_expired` then removes from local disk the
blocks shipped more than ``bucket.local_retention`` ago; they are read from the bucket afterwards.

The marker keeps Thanos's ``thanos.shipper.json`` fields (``version`` 1, ``uploaded``: ULIDs of local
blocks shipped) plus ``shipped_at`` (Unix seconds per ULID), ``shipped_until`` (the newest time in a
shipped block) and ``tiers`` (size and modification time per shipped tier file). Not thread-safe: one
pass at a time (the server runs them on one task).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsdb.config import BucketOptions
from tsdb.errors import StorageError
from tsdb.storage.block.meta import META_FILENAME, BlockMeta
from tsdb.storage.bucket.client import BucketClient
from tsdb.storage.bucket.layout import TIERS_PREFIX, block_files, bucket_meta
from tsdb.storage.db import DB
from tsdb.storage.fileutil import atomic_write
from tsdb.storage.tiers.store import TIERS_DIRNAME

log = logging.getLogger("tsdb.bucket")

MARKER_FILENAME = "shipped.json"
MARKER_VERSION = 1


@dataclass
class ShipStats:
    """Figures of the shipper since start (exported as ``tsdb_bucket_*`` metrics)."""

    uploads: dict[tuple[str, str], int] = field(default_factory=dict)
    """Uploads by (kind: block or tier, outcome: success or failure)."""
    upload_bytes: int = 0
    last_upload: float = 0.0
    """Unix time (s) of the last successful upload; 0 = none yet."""
    pending_blocks: int = 0

    def count(self, kind: str, outcome: str) -> None:
        self.uploads[(kind, outcome)] = self.uploads.get((kind, outcome), 0) + 1


@dataclass
class ShipReport:
    """What one pass did: ULIDs and tier files shipped, and the error that ended it ("" = none)."""

    blocks: list[str] = field(default_factory=list)
    tiers: list[str] = field(default_factory=list)
    error: str = ""


class Shipper:
    """Ships ``db``'s blocks and tier files to ``client``'s bucket (see module doc)."""

    def __init__(self, db: DB, client: BucketClient, options: BucketOptions, labels: dict[str, str],
                 on_shipped: Callable[[BlockMeta], None] | None = None) -> None:
        """``labels`` are the node's external labels (meta.json's ``thanos.labels``); ``on_shipped`` is told
        of each block once it is in the bucket (the bucket reader learns of it before the local copy goes)."""
        self.db = db
        self.client = client
        self.options = options
        self.labels = dict(labels)
        self.on_shipped = on_shipped
        self.stats = ShipStats()
        self.marker_path = db.path / MARKER_FILENAME
        self._shipped_at: dict[str, float] = {}
        self._tiers: dict[str, list[int]] = {}
        self._shipped_until = 0
        self._load_marker()

    # -- marker ------------------------------------------------------------------------------------
    def _load_marker(self) -> None:
        try:
            obj = json.loads(self.marker_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:  # shipping again is safe: uploads are idempotent
            log.error("unreadable shipper marker; blocks are shipped again", extra={"path": str(self.marker_path),
                                                                                 "error": str(err)})
            return
        at = obj.get("shipped_at") or {}
        self._shipped_at = {str(u): float(at.get(u, 0)) for u in obj.get("uploaded") or []}
        self._tiers = {str(k): [int(x) for x in v] for k, v in (obj.get("tiers") or {}).items()}
        self._shipped_until = int(obj.get("shipped_until") or 0)

    def _save_marker(self) -> None:
        uploaded = sorted(self._shipped_at)
        atomic_write(self.marker_path, json.dumps({
            "version": MARKER_VERSION, "uploaded": uploaded,
            "shipped_at": {u: self._shipped_at[u] for u in uploaded}, "shipped_until": self._shipped_until,
            "tiers": dict(sorted(self._tiers.items())),
        }, indent="\t"))

    @property
    def shipped(self) -> set[str]:
        """ULIDs of local blocks in the bucket."""
        return set(self._shipped_at)

    # -- shipping ----------------------------------------------------------------------------------
    def sync(self) -> ShipReport:
        """Upload what is not in the bucket yet (see module doc); stops at the first failure."""
        report = ShipReport()
        blocks = list(self.db.blocks)
        local = {b.ulid for b in blocks}
        forgotten = set(self._shipped_at) - local  # compacted away or dropped: never uploaded again
        for ulid in forgotten:
            del self._shipped_at[ulid]
        todo = [b for b in blocks if b.ulid not in self._shipped_at]
        self.stats.pending_blocks = len(todo)
        try:
            for block in todo:
                try:
                    block.acquire()  # compaction may retire it meanwhile: its files stay until released
                except StorageError:
                    continue  # retired already: its data is in the block that replaced it
                try:
                    self._ship_block(block.dir, block.meta)
                finally:
                    block.release()
                self._shipped_at[block.ulid] = time.time()
                self._shipped_until = max(self._shipped_until, block.meta.max_time)
                self._save_marker()
                report.blocks.append(block.ulid)
                self.stats.pending_blocks -= 1
                if self.on_shipped is not None:
                    self.on_shipped(block.meta)
            report.tiers = self._ship_tiers()
        except OSError as err:
            report.error = str(err)
            log.warning("upload to the bucket failed; retried later", extra={"bucket": self.client.name,
                                                                            "error": str(err)})
        if forgotten and not report.error:
            self._save_marker()
        return report

    def _ship_block(self, block_dir: Path, meta: BlockMeta) -> None:
        sizes: dict[str, int] = {}
        sent = 0
        try:
            for rel in block_files(block_dir):
                sizes[rel] = self.client.upload(block_dir / rel, f"{meta.ulid}/{rel}")
                sent += sizes[rel]
            data = bucket_meta(meta, sizes, self.labels)
            self.client.put(f"{meta.ulid}/{META_FILENAME}", data)  # last: the block is now visible
        except OSError:
            self.stats.count("block", "failure")
            raise
        self.stats.count("block", "success")
        self.stats.upload_bytes += sent + len(data)
        self.stats.last_upload = time.time()
        log.info("block shipped", extra={"block": meta.ulid, "bucket": self.client.name, "bytes": sent + len(data)})

    def _ship_tiers(self) -> list[str]:
        root = self.db.path / TIERS_DIRNAME
        shipped: list[str] = []
        if not root.is_dir():
            return shipped
        for path in sorted(root.glob("*/*.parquet")):
            rel = path.relative_to(root).as_posix()
            try:
                stat = path.stat()
            except FileNotFoundError:  # replaced or expired meanwhile
                continue
            signature = [stat.st_size, stat.st_mtime_ns]
            if self._tiers.get(rel) == signature:
                continue
            try:
                sent = self.client.upload(path, f"{TIERS_PREFIX}/{rel}")
            except FileNotFoundError:
                continue
            except OSError:
                self.stats.count("tier", "failure")
                raise
            self.stats.count("tier", "success")
            self.stats.upload_bytes += sent
            self.stats.last_upload = time.time()
            self._tiers[rel] = signature
            self._save_marker()
            shipped.append(rel)
        return shipped

    def restore_floor(self) -> None:
        """After a restart: drop from the head what shipped blocks hold (``shipped_until``, the newest
        shipped time), as opening the DB does for local blocks; a WAL replay brings back samples of blocks
        removed locally, which would otherwise be persisted and shipped a second time."""
        if self._shipped_until:
            self.db.truncate_head(self._shipped_until)

    # -- local retention ---------------------------------------------------------------------------
    def drop_expired(self, now: float | None = None) -> list[str]:
        """Remove from local disk the blocks shipped more than ``local_retention`` ago (none when it is 0);
        returns their ULIDs."""
        keep_s = self.options.local_retention_ms / 1000
        if not keep_s:
            return []
        now = time.time() if now is None else now
        due = [u for u, at in self._shipped_at.items() if at + keep_s <= now]
        dropped = self.db.drop_blocks(due) if due else []
        for ulid in dropped:
            log.info("shipped block removed from local disk", extra={"block": ulid})
        return dropped

    def status(self) -> dict[str, Any]:
        """Shipped and pending block counts (for logs and tests)."""
        return {"shipped": len(self._shipped_at), "pending": self.stats.pending_blocks}
