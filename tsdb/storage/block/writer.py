"""Writing blocks readable by Prometheus (``docs/format/block.md``).

:func:`write_block` writes into ``<ULID>.tmp/``, fsyncs, then renames atomically, so a crash leaves at
most a ``.tmp`` directory, which :func:`~tsdb.storage.block.meta.list_blocks` ignores (and can remove).
:func:`write_block_from_samples` cuts and encodes the chunks of series given as samples first.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels, compare_labels
from tsdb.storage.block.meta import CHUNKS_DIRNAME, INDEX_FILENAME, BlockDesc, BlockMeta, BlockStats, write_meta
from tsdb.storage.block.tombstones import Tombstones, write_tombstones
from tsdb.storage.chunks.segments import DEFAULT_SEGMENT_SIZE, ENCODING_XOR, ChunkSegmentWriter
from tsdb.storage.chunks.xor import chunk_offsets_many, encode_chunks
from tsdb.storage.fileutil import fsync_dir
from tsdb.storage.index.writer import write_index
from tsdb.storage.interfaces import TimestampArray, ValueArray
from tsdb.storage.interrupt import StopFlag, check_stop
from tsdb.storage.ulid import new_ulid

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

__all__ = ["SeriesChunks", "write_block", "write_block_from_samples"]


_BATCH_CHUNKS = 8192  # chunks gathered per segment write



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
                segment_size: int = DEFAULT_SEGMENT_SIZE, stop: StopFlag | None = None) -> str:
    """Write a block covering ``[mint, maxt]`` (inclusive ms) from ``series`` sorted by labels; return its ULID.

    Series without chunks are skipped. Every chunk must lie within ``[mint, maxt]``. ``meta.json``
    gets ``maxTime = maxt + 1``. ``sources`` defaults to the new ULID itself (a level-1 block).
    The block appears atomically: ``<ULID>.tmp`` is written, fsynced, then renamed to ``<ULID>``.
    A set ``stop`` flag is honoured between chunk batches and before the index and the rename:
    :class:`~tsdb.errors.MaintenanceInterruptedError` is raised and the ``.tmp`` directory removed.
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
    writer: ChunkSegmentWriter | None = None
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
                check_stop(stop, f"block {ulid} write")
                entries.extend(_write_chunk_batch(writer, pending))
                pending, pending_chunks = [], 0
        entries.extend(_write_chunk_batch(writer, pending))
        writer.close()
        check_stop(stop, f"block {ulid} write")
        write_index(tmp / INDEX_FILENAME, entries)
        stones = tombstones or Tombstones()
        stats.num_tombstones = stones.total()
        write_tombstones(tmp, stones)
        srcs = list(sources) if sources is not None else [ulid]
        write_meta(tmp, BlockMeta(ulid, mint, maxt + 1, stats, level, srcs, list(parents)))
        fsync_dir(tmp)
        check_stop(stop, f"block {ulid} write")  # the last safe point: after the rename the block is there
        os.replace(tmp, final)
        fsync_dir(parent)
    except BaseException:
        if writer is not None:
            writer.abort()
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



SAMPLE_BATCH = 1 << 20
"""Samples cut and encoded together when series come sorted (:func:`write_block_from_samples`): bounds the
memory of persisting a head range or merging blocks to about this many decoded samples at a time."""


def write_block_from_samples(parent_dir: str | os.PathLike[str],
                             series: Iterable[tuple[Labels, TimestampArray, ValueArray]],
                             mint: int | None = None, maxt: int | None = None, *, target: int = 120,
                             presorted: bool = False, **kwargs: Any) -> str:
    """Write a block from raw samples per series; chunks are cut with Prometheus's 120-sample target.

    Timestamps must strictly increase within a series and lie in ``[mint, maxt]`` (inclusive; by
    default the samples' own range). Series may come in any order; they are gathered and sorted first.
    With ``presorted`` (series sorted by labels, each once, and ``mint``/``maxt`` given) they are read,
    cut and encoded in batches of about :data:`SAMPLE_BATCH` samples as the block is written, so memory
    stays bounded however large the block. Other keyword arguments go to :func:`write_block`.
    """
    if presorted:
        if mint is None or maxt is None:
            raise InvalidArgumentError("a block written from sorted series needs its range")
        return write_block(parent_dir, _encoded_batches(series, mint, maxt, target, kwargs.get("stop")),
                           mint, maxt, **kwargs)
    items = [(lb, np.asarray(ts, dtype=np.int64), np.asarray(v, dtype=np.float64))
             for lb, ts, v in series if len(ts)]
    items.sort(key=lambda it: tuple.__getitem__(it[0], slice(None)))
    for (a, *_), (b, *_) in itertools.pairwise(items):
        if a == b:
            raise InvalidArgumentError(f"series {a} given twice")
    if mint is None:
        mint = min((int(ts.min()) for _, ts, _ in items), default=0)
    if maxt is None:
        maxt = max((int(ts.max()) for _, ts, _ in items), default=mint)
    return write_block(parent_dir, _encode_items(items, mint, maxt, target, kwargs.get("stop")), mint, maxt,
                       **kwargs)


_Item = tuple[Labels, I64, npt.NDArray[np.float64]]


def _encoded_batches(series: Iterable[tuple[Labels, TimestampArray, ValueArray]], mint: int, maxt: int,
                     target: int, stop: StopFlag | None) -> Iterator[SeriesChunks]:
    """Encode sorted ``series`` a batch of about :data:`SAMPLE_BATCH` samples at a time."""
    batch: list[_Item] = []
    size = 0
    for lb, ts, v in series:
        if not len(ts):
            continue
        batch.append((lb, np.asarray(ts, dtype=np.int64), np.asarray(v, dtype=np.float64)))
        size += len(ts)
        if size >= SAMPLE_BATCH:
            yield from _encode_items(batch, mint, maxt, target, stop)
            batch, size = [], 0
    yield from _encode_items(batch, mint, maxt, target, stop)


def _encode_items(items: list[_Item], mint: int, maxt: int, target: int,
                  stop: StopFlag | None) -> Iterator[SeriesChunks]:
    """Validate ``items`` and cut and encode their chunks in one ``encode_chunks`` call."""
    for labels, ts, values in items:
        if ts.shape != values.shape or ts.ndim != 1:
            raise InvalidArgumentError(f"series {labels}: {ts.shape} timestamps but {values.shape} values")
    if not items:
        return
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
    del bad, out_of_range
    check_stop(stop, "block write")
    sample_offs = chunk_offsets_many(ts_all, values_all, series_offs, target=target, max_samples=2 * target)
    data, byte_offs = encode_chunks(ts_all, values_all, sample_offs)
    check_stop(stop, "block write")
    chunk_mint = ts_all[sample_offs[:-1]]
    chunk_maxt = ts_all[sample_offs[1:] - 1]
    first_chunk = np.searchsorted(sample_offs, series_offs).tolist()
    counts = np.diff(series_offs).tolist()
    labels_list = [it[0] for it in items]
    items.clear()  # the caller's batch: let its arrays go while the chunks are written
    del ts_all, values_all
    for i, labels in enumerate(labels_list):
        a, b = first_chunk[i], first_chunk[i + 1]
        yield SeriesChunks(labels, data, byte_offs[a:b + 1], chunk_mint[a:b], chunk_maxt[a:b], counts[i])
