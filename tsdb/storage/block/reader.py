"""Opening persisted blocks: :class:`Block` is an open ``<ULID>/`` directory (``docs/format/block.md``).

A :class:`Block` is a ``BlockReader`` (``meta``, ``index()``, ``chunks()``, ``tombstones()``) and a
``Queryable`` (its queriers are :class:`~tsdb.storage.block.querier.BlockQuerier`). Readers are
reference counted: every querier holds the block, and ``close()`` releases files only once the last
querier is closed, so the DB may drop a block that is still being read. Corruption found while reading
(a chunk or index section failing its checksum, an out-of-range reference, an undecodable chunk) is
reported through :meth:`Block.corrupted` to the block's owner, which quarantines it (the DB does).
:meth:`Block.delete` rewrites the tombstones. Writing blocks is :mod:`~tsdb.storage.block.writer`, their
meta.json :mod:`~tsdb.storage.block.meta`.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tsdb.errors import CorruptionError, StorageError
from tsdb.labels import Matcher
from tsdb.storage.block.meta import CHUNKS_DIRNAME, INDEX_FILENAME, BlockMeta, read_meta, write_meta
from tsdb.storage.block.querier import BlockQuerier
from tsdb.storage.block.tombstones import Tombstones, read_tombstones, write_tombstones
from tsdb.storage.chunks.segments import ChunkReader
from tsdb.storage.index.postings import select_postings
from tsdb.storage.index.reader import IndexReader

__all__ = ["Block"]


U8 = npt.NDArray[np.uint8]

I64 = npt.NDArray[np.int64]

U64 = npt.NDArray[np.uint64]



# -- reading -----------------------------------------------------------------------------------------
class Block:
    """An open block directory: a ``BlockReader`` and ``Queryable``. Thread-safe.

    Files are opened on ``open`` and released when the block is closed *and* no querier holds it.
    """

    def __init__(self, block_dir: Path, meta: BlockMeta, index: IndexReader, chunks: ChunkReader,
                 tombstones: Tombstones) -> None:
        self.dir = block_dir
        self._meta = meta
        self._index = index
        self._chunks = chunks
        self._tombstones = tombstones
        self._lock = threading.Lock()
        self._readers = 0
        self._closing = False
        self._closed = False
        self.on_corruption: Callable[[Block, CorruptionError], bool] | None = None
        """Set by the owner (the DB): told of corruption found while reading; returns whether it took the
        block out of service (quarantined it)."""

    @classmethod
    def open(cls, block_dir: str | os.PathLike[str]) -> Block:
        """Open a block directory (reads meta.json and tombstones, maps index and chunk files)."""
        d = Path(block_dir)
        meta = read_meta(d)
        index = IndexReader(d / INDEX_FILENAME)
        try:
            chunks = ChunkReader(d / CHUNKS_DIRNAME)
            try:
                tombstones = read_tombstones(d)
            except BaseException:
                chunks.close()
                raise
        except BaseException:
            index.close()
            raise
        return cls(d, meta, index, chunks, tombstones)

    # -- BlockReader ---------------------------------------------------------------------------------
    @property
    def meta(self) -> BlockMeta:
        return self._meta

    @property
    def ulid(self) -> str:
        return self._meta.ulid

    def index(self) -> IndexReader:
        return self._index

    def chunks(self) -> ChunkReader:
        return self._chunks

    def tombstones(self) -> Tombstones:
        return self._tombstones

    def size_bytes(self) -> int:
        """Bytes on disk of all files of the block."""
        return sum(p.stat().st_size for p in self.dir.rglob("*") if p.is_file())

    # -- reference counting ----------------------------------------------------------------------------
    def acquire(self) -> None:
        """Register a reader; raises :class:`StorageError` once the block is closing."""
        with self._lock:
            if self._closing:
                raise StorageError(f"block {self.dir} is closed")
            self._readers += 1

    def release(self) -> None:
        """Unregister a reader; the last one out of a closing block releases its files."""
        with self._lock:
            self._readers -= 1
            release = self._closing and self._readers == 0
        if release:
            self._release_files()

    @property
    def released(self) -> bool:
        """True once the block's files are released (closed and no querier left)."""
        return self._closed

    @property
    def pending_readers(self) -> int:
        """Queriers currently holding the block."""
        return self._readers

    def close(self) -> None:
        """Refuse new readers; release files now, or when the last querier closes."""
        with self._lock:
            self._closing = True
            release = self._readers == 0
        if release:
            self._release_files()

    def corrupted(self, err: CorruptionError) -> bool:
        """Report corruption found while reading this block to its owner; True when the owner quarantined
        the block (it is no longer served). Without an owner nothing happens (False)."""
        hook = self.on_corruption
        return hook(self, err) if hook is not None else False

    def _release_files(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._index.close()
        self._chunks.close()

    def __enter__(self) -> Block:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Queryable ----------------------------------------------------------------------------------
    def querier(self, mint: int, maxt: int) -> BlockQuerier:
        """A querier over ``[mint, maxt]`` (inclusive ms); holds the block until closed."""
        return BlockQuerier(self, mint, maxt)

    def delete(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> int:
        """Mark ``[mint, maxt]`` of matching series deleted (rewrites tombstones and meta.json); return series hit.
        A corrupt index raises CorruptionError (reported through :meth:`corrupted` first)."""
        hit = 0
        stones = Tombstones()
        for ref, intervals in self._tombstones.items():
            for lo, hi in intervals:
                stones.add(ref, lo, hi)
        try:
            for ref in select_postings(self._index, matchers).tolist():
                _, (cmint, cmaxt, _) = self._index.series(ref)
                if len(cmint) and int(cmint[0]) <= maxt and int(cmaxt[-1]) >= mint:
                    stones.add(ref, mint, maxt)
                    hit += 1
        except CorruptionError as err:
            wrapped = CorruptionError(f"block {self.ulid}: index: {err}", str(self.dir), err.offset)
            self.corrupted(wrapped)
            raise wrapped from err
        if hit:
            write_tombstones(self.dir, stones)
            self._meta.stats.num_tombstones = stones.total()
            write_meta(self.dir, self._meta)
            self._tombstones = stones
        return hit

    def __repr__(self) -> str:
        return f"Block({self.dir}, [{self._meta.mint}, {self._meta.maxt}])"


def delete_released(blocks: list[Block]) -> list[Block]:
    """Delete the directories of the closed ``blocks`` no querier reads any more; returns the others (still
    read, deleted by a later call)."""
    kept = []
    for block in blocks:
        if block.pending_readers:
            kept.append(block)
        else:
            shutil.rmtree(block.dir, ignore_errors=True)
    return kept
