"""Reading blocks and tier files straight from the bucket: :class:`BucketBlocks`.

The bucket is listed (:meth:`BucketBlocks.refresh`) for ``<ULID>/meta.json`` objects; blocks without one
are uploads in progress and are ignored. A query asks :meth:`BucketBlocks.queriers` for the blocks
overlapping its range that the local node does not hold: a block is skipped when it is local, when its
``sources`` are all in local blocks, or when another bucket block holds a strict superset of its sources
(it was compacted into that one). The chosen blocks are downloaded whole (index, chunk segments,
tombstones, meta.json) into the cache directory and opened as ordinary blocks (the same read path as
local ones). The cache keeps at most ``cache_max_bytes``: the least recently used blocks are closed and
deleted first, once no querier reads them (a single query may exceed the bound while it runs).

:meth:`BucketBlocks.sync_tiers` mirrors ``tiers/`` of the bucket into ``<cache>/tiers/`` for a store node.
Thread-safe.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from tsdb.errors import CorruptionError, StorageError
from tsdb.storage.block.meta import META_FILENAME, BlockMeta, read_meta
from tsdb.storage.block.querier import BlockQuerier
from tsdb.storage.block.reader import Block, delete_released
from tsdb.storage.bucket.client import BucketClient, BucketError
from tsdb.storage.bucket.layout import TIERS_PREFIX, block_files, parse_bucket_meta, sources_of
from tsdb.storage.tiers.parquet import parse_file_name
from tsdb.storage.tiers.store import TIERS_DIRNAME
from tsdb.storage.ulid import is_ulid

log = logging.getLogger("tsdb.bucket")

__all__ = ["BucketBlocks"]


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class BucketBlocks:
    """The blocks of one bucket, read through an on-disk LRU cache in ``cache_dir`` (see module doc)."""

    def __init__(self, client: BucketClient, cache_dir: Path, max_bytes: int) -> None:
        self.client = client
        self.cache_dir = cache_dir
        self.max_bytes = max_bytes
        self._metas: dict[str, BlockMeta] = {}
        self._listed = False
        self._lock = threading.RLock()
        self._download = threading.Lock()
        self._open: OrderedDict[str, tuple[Block, int]] = OrderedDict()  # ULID -> (block, bytes), LRU first
        self._doomed: list[Block] = []
        self.downloads = 0
        """Blocks downloaded since start (cache misses)."""
        cache_dir.mkdir(parents=True, exist_ok=True)
        for leftover in cache_dir.glob("*.tmp"):
            shutil.rmtree(leftover, ignore_errors=True)

    # -- listing -----------------------------------------------------------------------------------
    def refresh(self) -> list[str]:
        """List the bucket: learn new blocks (reading their meta.json), forget deleted ones. Returns the new
        ULIDs. Raises :class:`BucketError` when the bucket cannot be listed (what was known stays)."""
        entries = self.client.list()
        names = {self.client.relative(e) for e in entries}
        found = {n for n in names if is_ulid(n)}
        new = []
        for ulid in sorted(found - set(self._metas)):
            data = self.client.get(f"{ulid}/{META_FILENAME}")
            if data is None:
                continue  # meta.json comes last: still being uploaded
            try:
                meta, _ = parse_bucket_meta(data)
            except ValueError as err:
                log.error("unreadable meta.json in the bucket; block skipped", extra={"block": ulid,
                                                                                     "error": str(err)})
                continue
            with self._lock:
                self._metas[ulid] = meta
            new.append(ulid)
        with self._lock:
            for ulid in set(self._metas) - found:
                del self._metas[ulid]
            self._listed = True
            self._reap()
        return new

    def add(self, meta: BlockMeta) -> None:
        """Know a block just uploaded (before the next listing finds it)."""
        with self._lock:
            self._metas[meta.ulid] = meta

    def metas(self) -> list[BlockMeta]:
        """Blocks known in the bucket, oldest first."""
        with self._lock:
            return sorted(self._metas.values(), key=lambda m: (m.min_time, m.ulid))

    def min_time(self) -> int:
        """The oldest time in the bucket's blocks (a large number when none is known)."""
        with self._lock:
            return min((m.min_time for m in self._metas.values()), default=2**62)

    def visible(self, local: Sequence[BlockMeta]) -> list[BlockMeta]:
        """Bucket blocks holding data that neither ``local`` blocks nor a bigger bucket block hold."""
        local_ids = {m.ulid for m in local}
        local_sources = set().union(*(sources_of(m) for m in local)) if local else set()
        metas = self.metas()
        bucket_sources = [sources_of(m) for m in metas]
        out = []
        for meta, sources in zip(metas, bucket_sources, strict=True):
            if meta.ulid in local_ids or sources <= local_sources:
                continue
            if any(sources < other for other in bucket_sources):
                continue
            out.append(meta)
        return out

    # -- reading -----------------------------------------------------------------------------------
    def queriers(self, mint: int, maxt: int, local: Sequence[BlockMeta], local_mint: int) -> list[BlockQuerier]:
        """Queriers (oldest block first) over ``[mint, maxt]`` of the bucket blocks ``local`` does not hold,
        downloading the ones not cached. ``local_mint`` is the oldest local time: a query reaching before it
        fails (StorageError) while the bucket has never been listed, rather than answering without its data."""
        if not self._listed:
            try:
                self.refresh()
            except BucketError:
                if mint < min([m.min_time for m in local] + [local_mint]):
                    raise
                return []
        wanted = [m for m in self.visible(local) if m.mint <= maxt and m.maxt >= mint]
        out: list[BlockQuerier] = []
        try:
            for meta in wanted:
                out.append(self._querier(meta, mint, maxt))
        except BaseException:
            for q in out:
                q.close()
            raise
        return out

    def _querier(self, meta: BlockMeta, mint: int, maxt: int) -> BlockQuerier:
        """A querier of the cached block of ``meta``, downloaded first if need be (most recently used now).
        The querier is made under the lock, so an eviction by another query cannot close the block first."""
        with self._lock:
            hit = self._open.get(meta.ulid)
            if hit is not None:
                self._open.move_to_end(meta.ulid)
                return hit[0].querier(mint, maxt)
        with self._download:  # one download at a time: a second query for the block waits for the first
            with self._lock:
                hit = self._open.get(meta.ulid)
                if hit is not None:
                    self._open.move_to_end(meta.ulid)
                    return hit[0].querier(mint, maxt)
            target = self.cache_dir / meta.ulid
            if not (target / META_FILENAME).is_file():
                self._fetch(meta.ulid, target)
            try:
                block = Block.open(target)
            except (CorruptionError, StorageError, OSError) as err:
                shutil.rmtree(target, ignore_errors=True)  # downloaded again next time
                raise StorageError(f"bucket block {meta.ulid}: cannot open the cached copy: {err}") from err
            with self._lock:
                self._open[meta.ulid] = (block, _dir_size(target))
                querier = block.querier(mint, maxt)
                self._evict()
            return querier

    def _fetch(self, ulid: str, target: Path) -> None:
        """Download a block into ``target`` (whole, through ``<ULID>.tmp``)."""
        tmp = self.cache_dir / f"{ulid}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        started = time.monotonic()
        try:
            data = self.client.get(f"{ulid}/{META_FILENAME}")
            if data is None:
                raise StorageError(f"bucket block {ulid}: meta.json is gone (deleted from the bucket)")
            meta, thanos = parse_bucket_meta(data)
            rels = [str(f.get("rel_path")) for f in thanos.get("files") or [] if f.get("rel_path") != META_FILENAME]
            if not rels:  # uploaded without a file list: list the block's objects
                rels = [self.client.relative(e).removeprefix(f"{ulid}/")
                        for e in self.client.list(ulid, recursive=True) if e.is_file]
                rels = [r for r in rels if r != META_FILENAME]
            for rel in rels:
                if ".." in rel.split("/") or rel.startswith("/"):
                    raise StorageError(f"bucket block {ulid}: bad file name {rel!r} in meta.json")
                self.client.download(f"{ulid}/{rel}", tmp / rel)
            (tmp / META_FILENAME).write_bytes(data)
            read_meta(tmp)  # what Block.open will read: fail now, not later
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.downloads += 1
        log.info("bucket block downloaded", extra={"block": ulid, "files": len(block_files(target)),
                                                   "duration_s": round(time.monotonic() - started, 3),
                                                   "min_time": meta.min_time})

    def _evict(self) -> None:
        """Close least recently used blocks past ``max_bytes`` (keeping the newest), delete released ones.
        Caller holds the lock."""
        total = sum(size for _, size in self._open.values())
        while total > self.max_bytes and len(self._open) > 1:
            _, (block, size) = self._open.popitem(last=False)
            block.close()
            self._doomed.append(block)
            total -= size
        self._reap()

    def trim(self) -> None:
        """Delete the files of evicted blocks no querier reads any more (each listing does it too)."""
        with self._lock:
            self._reap()

    def _reap(self) -> None:
        """Delete evicted blocks no querier holds any more."""
        self._doomed = delete_released(self._doomed)

    def cached(self) -> list[str]:
        """ULIDs of the blocks open in the cache, least recently used first."""
        with self._lock:
            return list(self._open)

    @property
    def cached_bytes(self) -> int:
        """Bytes of the blocks open in the cache."""
        with self._lock:
            return sum(size for _, size in self._open.values())

    def close(self) -> None:
        """Close every cached block (their files stay for the next start)."""
        with self._lock:
            for block, _ in self._open.values():
                block.close()
            self._open.clear()
            self._reap()

    # -- tiers -------------------------------------------------------------------------------------
    def sync_tiers(self) -> list[str]:
        """Download the bucket's tier files missing (or of another size) under ``<cache>/tiers/``; returns
        their ``<resolution>/<file>`` names."""
        root = self.cache_dir / TIERS_DIRNAME
        got = []
        for entry in self.client.list(TIERS_PREFIX, recursive=True):
            rel = self.client.relative(entry).removeprefix(TIERS_PREFIX + "/")
            parts = rel.split("/")
            if not entry.is_file or len(parts) != 2 or parse_file_name(parts[1]) is None:
                continue
            local = root / parts[0] / parts[1]
            if local.is_file() and local.stat().st_size == entry.size:
                continue
            self.client.download(f"{TIERS_PREFIX}/{rel}", local)
            got.append(rel)
        return got
