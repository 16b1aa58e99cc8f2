"""Persistent blocks: ULID directories readable by Prometheus (``docs/format/block.md``).

A block directory ``<parent>/<ULID>/`` holds ``meta.json``, ``index`` (v2), ``chunks/000001...`` and
``tombstones``. :func:`write_block` writes into ``<ULID>.tmp/``, fsyncs, then renames atomically, so a
crash leaves at most a ``.tmp`` directory, which :func:`list_blocks` ignores (and can remove).

:class:`Block` is the read side: a ``BlockReader`` (``meta``, ``index()``, ``chunks()``,
``tombstones()``) and a ``Queryable``. Readers are reference counted: every querier holds the block,
and ``close()`` releases files only once the last querier is closed, so the DB may drop a block that
is still being read. ``meta.json``'s ``maxTime`` is exclusive (Prometheus's convention); everywhere
else in tsdb ``maxt`` is inclusive, so ``BlockMeta.maxt == max_time - 1``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.errors import CorruptionError, InvalidArgumentError, StorageError
from tsdb.labels import Labels, Matcher, compare_labels
from tsdb.storage.block.tombstones import Tombstones, read_tombstones, write_tombstones
from tsdb.storage.chunks.segments import DEFAULT_SEGMENT_SIZE, ENCODING_XOR, ChunkReader, ChunkSegmentWriter
from tsdb.storage.chunks.xor import chunk_offsets_many, decode_chunks, encode_chunks
from tsdb.storage.fileutil import atomic_write, fsync_dir
from tsdb.storage.head.head_kernels import merge_clip
from tsdb.storage.index.postings import select_postings
from tsdb.storage.index.reader import IndexReader, write_index
from tsdb.storage.interfaces import FlatSeries, SelectHints, TimestampArray, ValueArray, concat_flat
from tsdb.storage.ulid import is_ulid, new_ulid

__all__ = [
    "Block",
    "BlockDesc",
    "BlockMeta",
    "BlockQuerier",
    "BlockStats",
    "SeriesChunks",
    "list_blocks",
    "read_meta",
    "write_block",
    "write_block_from_samples",
    "write_meta",
]

META_FILENAME = "meta.json"
INDEX_FILENAME = "index"
CHUNKS_DIRNAME = "chunks"
META_VERSION = 1
_BATCH_CHUNKS = 8192  # chunks gathered per segment write
_SERIES_BATCH = 1024  # index series decoded together by a querier

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


# -- meta.json ---------------------------------------------------------------------------------------
@dataclass
class BlockStats:
    """Counts of a block (``meta.json`` ``stats``)."""

    num_samples: int = 0
    num_series: int = 0
    num_chunks: int = 0
    num_tombstones: int = 0


@dataclass(frozen=True)
class BlockDesc:
    """A parent block of a compacted block: ULID and time range (``max_time`` exclusive)."""

    ulid: str
    min_time: int
    max_time: int


@dataclass
class BlockMeta:
    """``meta.json``: ULID, ``[min_time, max_time)`` in ms (exclusive end!), stats, compaction info."""

    ulid: str
    min_time: int
    max_time: int
    stats: BlockStats = field(default_factory=BlockStats)
    level: int = 1
    sources: list[str] = field(default_factory=list)
    parents: list[BlockDesc] = field(default_factory=list)
    deletable: bool = False
    failed: bool = False
    hints: list[str] = field(default_factory=list)
    version: int = META_VERSION

    @property
    def mint(self) -> int:
        """First millisecond covered (inclusive)."""
        return self.min_time

    @property
    def maxt(self) -> int:
        """Last millisecond covered (inclusive): ``max_time - 1``."""
        return self.max_time - 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, field names and omissions as Prometheus writes them."""
        stats = {k: v for k, v in (("numSamples", self.stats.num_samples), ("numSeries", self.stats.num_series),
                                   ("numChunks", self.stats.num_chunks),
                                   ("numTombstones", self.stats.num_tombstones)) if v}
        compaction: dict[str, Any] = {"level": self.level}
        if self.sources:
            compaction["sources"] = list(self.sources)
        if self.deletable:
            compaction["deletable"] = True
        if self.parents:
            compaction["parents"] = [{"ulid": p.ulid, "minTime": p.min_time, "maxTime": p.max_time}
                                     for p in self.parents]
        if self.failed:
            compaction["failed"] = True
        if self.hints:
            compaction["hints"] = list(self.hints)
        return {"ulid": self.ulid, "minTime": self.min_time, "maxTime": self.max_time, "stats": stats,
                "compaction": compaction, "version": self.version}

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> BlockMeta:
        stats = obj.get("stats") or {}
        comp = obj.get("compaction") or {}
        return cls(
            ulid=str(obj["ulid"]), min_time=int(obj["minTime"]), max_time=int(obj["maxTime"]),
            stats=BlockStats(int(stats.get("numSamples", 0)), int(stats.get("numSeries", 0)),
                             int(stats.get("numChunks", 0)), int(stats.get("numTombstones", 0))),
            level=int(comp.get("level", 1)), sources=[str(s) for s in comp.get("sources") or []],
            parents=[BlockDesc(str(p["ulid"]), int(p["minTime"]), int(p["maxTime"]))
                     for p in comp.get("parents") or []],
            deletable=bool(comp.get("deletable", False)), failed=bool(comp.get("failed", False)),
            hints=[str(h) for h in comp.get("hints") or []], version=int(obj.get("version", META_VERSION)),
        )



def write_meta(block_dir: str | os.PathLike[str], meta: BlockMeta) -> None:
    """Write ``meta.json`` atomically (tmp file, fsync, rename), tab-indented as Prometheus does."""
    atomic_write(Path(block_dir) / META_FILENAME, json.dumps(meta.to_dict(), indent="\t"))


def read_meta(block_dir: str | os.PathLike[str]) -> BlockMeta:
    """Read ``meta.json``; a malformed file raises :class:`CorruptionError` naming it."""
    path = Path(block_dir) / META_FILENAME
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        meta = BlockMeta.from_dict(obj)
    except FileNotFoundError as err:
        raise StorageError(f"block {block_dir} has no {META_FILENAME}") from err
    except (ValueError, KeyError, TypeError) as err:
        raise CorruptionError(f"malformed {META_FILENAME}: {err}", str(path)) from err
    if meta.version != META_VERSION:
        raise CorruptionError(f"unsupported {META_FILENAME} version {meta.version}", str(path))
    return meta


def _is_leftover(name: str) -> bool:
    """``<ULID>.tmp`` (ours) or Prometheus's ``<ULID>.tmp-for-creation`` / ``.tmp-for-deletion``."""
    stem, dot, suffix = name.partition(".")
    return bool(dot) and is_ulid(stem) and (suffix == "tmp" or suffix.startswith("tmp-for-"))


def list_blocks(parent_dir: str | os.PathLike[str], remove_tmp: bool = False) -> list[Path]:
    """Block directories under ``parent_dir`` (ULID names with a ``meta.json``), in ULID order.

    ``<ULID>.tmp`` directories (an interrupted write or compaction; also Prometheus's
    ``.tmp-for-creation``/``.tmp-for-deletion``) are never listed; with ``remove_tmp`` they are deleted.
    """
    parent = Path(parent_dir)
    if not parent.is_dir():
        return []
    blocks = []
    for entry in parent.iterdir():
        if not entry.is_dir():
            continue
        if _is_leftover(entry.name):
            if remove_tmp:
                shutil.rmtree(entry, ignore_errors=True)
            continue
        if is_ulid(entry.name) and (entry / META_FILENAME).is_file():
            blocks.append(entry)
    return sorted(blocks, key=lambda p: p.name)


# -- writing -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeriesChunks:
    """One series' encoded chunks for :func:`write_block`.

    ``data`` holds the payloads back to back, chunk i being ``data[offsets[i]:offsets[i+1]]``;
    ``mint``/``maxt`` are each chunk's first and last sample time (inclusive ms); ``num_samples`` is
    the series' total sample count; ``encoding`` the chunk encoding (1 = XOR).
    """

    labels: Labels
    data: U8
    offsets: I64
    mint: I64
    maxt: I64
    num_samples: int
    encoding: int = ENCODING_XOR


def write_block(parent_dir: str | os.PathLike[str], series: Iterable[SeriesChunks], mint: int, maxt: int, *,
                level: int = 1, sources: Sequence[str] | None = None, parents: Sequence[BlockDesc] = (),
                ulid: str | None = None, tombstones: Tombstones | None = None,
                segment_size: int = DEFAULT_SEGMENT_SIZE) -> str:
    """Write a block covering ``[mint, maxt]`` (inclusive ms) from ``series`` sorted by labels; return its ULID.

    Series without chunks are skipped. Every chunk must lie within ``[mint, maxt]``. ``meta.json``
    gets ``maxTime = maxt + 1``. ``sources`` defaults to the new ULID itself (a level-1 block).
    The block appears atomically: ``<ULID>.tmp`` is written, fsynced, then renamed to ``<ULID>``.
    """
    if maxt < mint:
        raise InvalidArgumentError(f"block range [{mint}, {maxt}] ends before it starts")
    ulid = ulid or new_ulid()
    parent = Path(parent_dir)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f"{ulid}.tmp"
    final = parent / ulid
    if final.exists():
        raise InvalidArgumentError(f"block {final} already exists")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        stats = BlockStats()
        writer = ChunkSegmentWriter(tmp / CHUNKS_DIRNAME, segment_size)
        entries: list[tuple[Labels, I64, I64, U64]] = []
        pending: list[SeriesChunks] = []
        pending_chunks = 0
        previous: Labels | None = None
        for s in series:
            n = len(s.offsets) - 1
            if n <= 0:
                continue
            if previous is not None and compare_labels(s.labels, previous) <= 0:
                raise InvalidArgumentError(f"series {s.labels} is not sorted after {previous}")
            previous = s.labels
            lo, hi = int(np.min(s.mint)), int(np.max(s.maxt))
            if lo < mint or hi > maxt:
                raise InvalidArgumentError(f"series {s.labels}: chunks span [{lo}, {hi}], outside the block "
                                           f"range [{mint}, {maxt}]")
            pending.append(s)
            pending_chunks += n
            stats.num_series += 1
            stats.num_chunks += n
            stats.num_samples += int(s.num_samples)
            if pending_chunks >= _BATCH_CHUNKS:
                entries.extend(_write_chunk_batch(writer, pending))
                pending, pending_chunks = [], 0
        entries.extend(_write_chunk_batch(writer, pending))
        writer.close()
        write_index(tmp / INDEX_FILENAME, entries)
        stones = tombstones or Tombstones()
        stats.num_tombstones = stones.total()
        write_tombstones(tmp, stones)
        srcs = list(sources) if sources is not None else [ulid]
        write_meta(tmp, BlockMeta(ulid, mint, maxt + 1, stats, level, srcs, list(parents)))
        fsync_dir(tmp)
        os.replace(tmp, final)
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ulid


def _write_chunk_batch(writer: ChunkSegmentWriter, batch: list[SeriesChunks]) -> list[tuple[Labels, I64, I64, U64]]:
    """Write the chunks of several series in one segment write; return their index entries."""
    if not batch:
        return []
    datas, offs, encs, counts = [], [np.zeros(1, dtype=np.int64)], [], []
    base = 0
    for s in batch:
        o = np.asarray(s.offsets, dtype=np.int64)
        datas.append(np.asarray(s.data, dtype=np.uint8)[o[0]:o[-1]])
        offs.append(o[1:] - o[0] + base)
        base += int(o[-1] - o[0])
        encs.append(np.full(len(o) - 1, s.encoding, dtype=np.uint8))
        counts.append(len(o) - 1)
    refs = writer.write_chunks(np.concatenate(datas), np.concatenate(offs), np.concatenate(encs))
    out = []
    start = 0
    for s, k in zip(batch, counts, strict=True):
        out.append((s.labels, np.asarray(s.mint, dtype=np.int64), np.asarray(s.maxt, dtype=np.int64),
                    refs[start:start + k]))
        start += k
    return out


def write_block_from_samples(parent_dir: str | os.PathLike[str],
                             series: Iterable[tuple[Labels, TimestampArray, ValueArray]],
                             mint: int | None = None, maxt: int | None = None, *, target: int = 120,
                             **kwargs: Any) -> str:
    """Write a block from raw samples per series; chunks are cut with Prometheus's 120-sample target.

    Timestamps must strictly increase within a series and lie in ``[mint, maxt]`` (inclusive; by
    default the samples' own range). Series may come in any order. All chunks are encoded in one
    ``encode_chunks`` call. Other keyword arguments go to :func:`write_block`.
    """
    items = [(lb, np.asarray(ts, dtype=np.int64), np.asarray(v, dtype=np.float64))
             for lb, ts, v in series if len(ts)]
    items.sort(key=lambda it: tuple.__getitem__(it[0], slice(None)))
    for (a, *_), (b, *_) in itertools.pairwise(items):
        if a == b:
            raise InvalidArgumentError(f"series {a} given twice")
    if mint is None:
        mint = min((int(ts[0]) for _, ts, _ in items), default=0)
    if maxt is None:
        maxt = max((int(ts[-1]) for _, ts, _ in items), default=mint)
    for labels, ts, values in items:
        if ts.shape != values.shape or ts.ndim != 1:
            raise InvalidArgumentError(f"series {labels}: {ts.shape} timestamps but {values.shape} values")
    if not items:
        return write_block(parent_dir, [], mint, maxt, **kwargs)
    series_offs = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum([len(it[1]) for it in items], out=series_offs[1:])
    ts_all = np.concatenate([it[1] for it in items])
    values_all = np.concatenate([it[2] for it in items])
    # validate all series at once: increasing within a series, inside [mint, maxt]
    bad = np.zeros(ts_all.shape[0], dtype=bool)
    bad[1:] = np.diff(ts_all) <= 0
    bad[series_offs[:-1]] = False  # a series may start below the previous one's end
    out_of_range = (ts_all < mint) | (ts_all > maxt)
    for problem in (bad, out_of_range):
        if problem.any():
            first = int(np.flatnonzero(problem)[0])
            labels, ts, _ = items[int(np.searchsorted(series_offs, first, side="right")) - 1]
            if problem is bad:
                raise InvalidArgumentError(f"series {labels}: timestamps are not strictly increasing")
            raise InvalidArgumentError(f"series {labels}: samples span [{ts[0]}, {ts[-1]}], outside the block "
                                       f"range [{mint}, {maxt}]")
    sample_offs = chunk_offsets_many(ts_all, values_all, series_offs, target=target, max_samples=2 * target)
    data, byte_offs = encode_chunks(ts_all, values_all, sample_offs)
    chunk_mint = ts_all[sample_offs[:-1]]
    chunk_maxt = ts_all[sample_offs[1:] - 1]
    first_chunk = np.searchsorted(sample_offs, series_offs).tolist()

    def gen() -> Iterator[SeriesChunks]:
        for i, (labels, ts, _) in enumerate(items):
            a, b = first_chunk[i], first_chunk[i + 1]
            yield SeriesChunks(labels, data, byte_offs[a:b + 1], chunk_mint[a:b], chunk_maxt[a:b], len(ts))

    return write_block(parent_dir, gen(), mint, maxt, **kwargs)


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
        """Mark ``[mint, maxt]`` of matching series deleted (rewrites tombstones and meta.json); return series hit."""
        hit = 0
        stones = Tombstones()
        for ref, intervals in self._tombstones.items():
            for lo, hi in intervals:
                stones.add(ref, lo, hi)
        for ref in select_postings(self._index, matchers).tolist():
            _, (cmint, cmaxt, _) = self._index.series(ref)
            if len(cmint) and int(cmint[0]) <= maxt and int(cmaxt[-1]) >= mint:
                stones.add(ref, mint, maxt)
                hit += 1
        if hit:
            write_tombstones(self.dir, stones)
            self._meta.stats.num_tombstones = stones.total()
            write_meta(self.dir, self._meta)
            self._tombstones = stones
        return hit

    def __repr__(self) -> str:
        return f"Block({self.dir}, [{self._meta.mint}, {self._meta.maxt}])"


class BlockSeries:
    """A series of a block query; ``samples()`` decodes its chunks in one ``decode_chunks`` call."""

    __slots__ = ("_a", "_b", "_block", "_intervals", "_maxt", "_mint", "_refs", "labels", "ref")

    def __init__(self, block: Block, ref: int, labels: Labels, chunk_refs: U64, mint: int, maxt: int,
                 intervals: list[tuple[int, int]], a: int = 0, b: int | None = None) -> None:
        self._block = block
        self.ref = ref
        self.labels = labels
        self._refs = chunk_refs  # the series' chunks are chunk_refs[a:b] (shared by a batch of series)
        self._a = a
        self._b = len(chunk_refs) if b is None else b
        self._mint = mint
        self._maxt = maxt
        self._intervals = intervals

    def samples(self) -> tuple[TimestampArray, ValueArray]:
        """Samples in the querier's range with tombstones applied; ``CorruptionError`` names block and series."""
        if self._block.released:
            raise StorageError(f"block {self._block.dir} is closed; series {self.labels} can no longer be read")
        try:
            data, offsets, encodings = self._block.chunks().read_many(self._refs[self._a:self._b])
            if np.any(encodings != ENCODING_XOR):
                bad = int(encodings[encodings != ENCODING_XOR][0])
                raise StorageError(f"block {self._block.ulid} ({self._block.dir}): series {self.labels}: "
                                   f"chunk encoding {bad} is not supported")
            ts, values, _ = decode_chunks(data, offsets)
        except CorruptionError as err:
            raise CorruptionError(f"block {self._block.ulid}: series {self.labels}: {err}",
                                  str(self._block.dir), err.offset) from err
        lo = int(np.searchsorted(ts, self._mint, side="left"))
        hi = int(np.searchsorted(ts, self._maxt, side="right"))
        ts, values = ts[lo:hi], values[lo:hi]
        if self._intervals:
            keep = np.ones(ts.shape[0], dtype=bool)
            for a, b in self._intervals:
                keep &= (ts < a) | (ts > b)
            ts, values = ts[keep], values[keep]
        return ts, values

    def __repr__(self) -> str:
        return f"BlockSeries({self.labels})"


class BlockQuerier:
    """A :class:`~tsdb.storage.interfaces.Querier` over one block and ``[mint, maxt]``. Not thread-safe."""

    def __init__(self, block: Block, mint: int, maxt: int) -> None:
        block.acquire()
        self._block = block
        self.mint = mint
        self.maxt = maxt
        self._closed = False

    def _selected(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> Iterator[BlockSeries]:
        if self._closed:
            raise StorageError(f"querier of block {self._block.dir} is closed")
        index = self._block.index()
        stones = self._block.tombstones()
        refs = select_postings(index, matchers)
        for lo in range(0, len(refs), _SERIES_BATCH):
            ref_batch = refs[lo:lo + _SERIES_BATCH]
            batch = index.series_batch(ref_batch)
            # chunks overlapping [mint, maxt], for the whole batch at once
            keep = (batch.maxt >= mint) & (batch.mint <= maxt)
            starts = batch.chunk_starts
            ref_list = ref_batch.tolist()
            intervals_of: dict[int, list[tuple[int, int]]] = {}
            if len(stones):
                for i, ref in enumerate(ref_list):
                    intervals = stones.get(ref)
                    if intervals:
                        intervals_of[i] = intervals
                        for c in range(int(starts[i]), int(starts[i + 1])):
                            if keep[c] and stones.covers(ref, int(batch.mint[c]), int(batch.maxt[c])):
                                keep[c] = False
            kept_refs = batch.refs[keep]
            kept_cum = np.zeros(len(keep) + 1, dtype=np.int64)
            np.cumsum(keep, out=kept_cum[1:])
            ks = kept_cum[starts].tolist()  # series i keeps kept_refs[ks[i]:ks[i+1]]
            for i, (ref, labels) in enumerate(zip(ref_list, batch.labels, strict=True)):
                if ks[i + 1] > ks[i]:
                    yield BlockSeries(self._block, ref, labels, kept_refs, mint, maxt, intervals_of.get(i, []),
                                      ks[i], ks[i + 1])

    def select(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> Iterator[BlockSeries]:
        """Series matching all matchers with chunks in range, sorted by labels (index order)."""
        return self._selected(matchers, self.mint, self.maxt)

    def select_flat(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> FlatSeries:
        """``select`` as one columnar result: the chunks of a batch of series read and decoded together.

        A batch with tombstones, a chunk encoding other than XOR or a corrupt chunk is read series by
        series, so errors name the series exactly as ``select`` does.
        """
        parts: list[FlatSeries] = []
        # the series of one index batch share one array of chunk refs: group them back together
        for _, group in itertools.groupby(self._selected(matchers, self.mint, self.maxt), key=lambda s: id(s._refs)):
            batch = list(group)
            flat = self._read_batch(batch)
            parts.append(flat if flat is not None else FlatSeries.from_series(batch))
        return concat_flat(parts)

    def _read_batch(self, batch: list[BlockSeries]) -> FlatSeries | None:
        if not batch or any(s._intervals for s in batch) or self._block.released:
            return None
        refs = batch[0]._refs
        if any(s._refs is not refs for s in batch):
            return None
        seg = np.fromiter(itertools.chain((s._a for s in batch), (batch[-1]._b,)), dtype=np.int64,
                          count=len(batch) + 1)
        if np.any(seg[1:-1] != np.fromiter((s._b for s in batch[:-1]), dtype=np.int64, count=len(batch) - 1)):
            return None
        try:
            data, offsets, encodings = self._block.chunks().read_many(refs[seg[0]:seg[-1]])
            if np.any(encodings != ENCODING_XOR):
                return None
            ts, values, sample_offsets = decode_chunks(data, offsets)
        except CorruptionError:
            return None
        empty = np.zeros(0, np.int64)
        f_ts, f_values, f_off = merge_clip(seg - seg[0], ts, values, sample_offsets, empty, np.zeros(0, np.float64),
                                           np.zeros(len(batch) + 1, np.int64), self.mint, self.maxt)
        counts = np.diff(f_off)
        labels = [s.labels for s in batch] if counts.all() else [
            s.labels for s, c in zip(batch, counts.tolist(), strict=True) if c]
        offsets_out = np.zeros(len(labels) + 1, dtype=np.int64)
        np.cumsum(counts[counts > 0], out=offsets_out[1:])
        return FlatSeries(labels, f_ts, f_values, offsets_out)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted label names (of series matching ``matchers`` if given)."""
        if not matchers:
            return self._block.index().label_names()
        names: set[str] = set()
        for s in self._selected(matchers, self.mint, self.maxt):
            names.update(s.labels.names())
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted values of ``name`` (on series matching ``matchers`` if given)."""
        if not matchers:
            return self._block.index().label_values(name)
        values = {s.labels.get(name, "") for s in self._selected(matchers, self.mint, self.maxt)}
        values.discard("")
        return sorted(values)

    def close(self) -> None:
        """Release the block (idempotent)."""
        if not self._closed:
            self._closed = True
            self._block.release()

    def __enter__(self) -> BlockQuerier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
