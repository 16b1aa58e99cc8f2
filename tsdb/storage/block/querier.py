"""Reading series of a block: :class:`BlockQuerier` (a Querier over one block and a time range) and
:class:`BlockChunkSeries` (a selected series as its chunk refs, decoded when its samples are asked for).

The querier sees its block through the :class:`BlockReader` protocol (index, chunks, tombstones,
reference counting), which :class:`~tsdb.storage.block.reader.Block` implements.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tsdb.errors import CorruptionError, StorageError
from tsdb.labels import Labels, Matcher
from tsdb.storage.block.tombstones import Tombstones
from tsdb.storage.chunks.segments import ENCODING_XOR, ChunkReader
from tsdb.storage.chunks.xor import decode_chunks
from tsdb.storage.head.head_kernels import merge_clip
from tsdb.storage.index.postings import select_postings
from tsdb.storage.index.reader import IndexReader
from tsdb.storage.interfaces import (
    FlatSeries,
    SelectHints,
    TimestampArray,
    ValueArray,
    check_deadline,
    concat_flat,
)

U64 = npt.NDArray[np.uint64]

__all__ = ["BlockChunkSeries", "BlockQuerier", "BlockReader"]


_SERIES_BATCH = 1024  # index series decoded together by a querier




class BlockReader(Protocol):
    """What a querier needs of a block (implemented by :class:`~tsdb.storage.block.reader.Block`)."""

    dir: Path

    @property
    def ulid(self) -> str: ...

    @property
    def released(self) -> bool: ...

    def index(self) -> IndexReader: ...

    def chunks(self) -> ChunkReader: ...

    def tombstones(self) -> Tombstones: ...

    def acquire(self) -> None: ...

    def release(self) -> None: ...

    def corrupted(self, err: CorruptionError) -> bool: ...


def _reported(block: BlockReader, what: str, err: CorruptionError) -> CorruptionError:
    """The error to raise for corruption ``err`` found reading ``what`` of ``block``: it names the block and
    ``what``, and says whether the block's owner quarantined it (told through ``block.corrupted``)."""
    message = f"block {block.ulid}: {what}: {err}"
    wrapped = CorruptionError(message, str(block.dir), err.offset)
    if block.corrupted(wrapped):
        wrapped = CorruptionError(f"{message}; the block was quarantined, later queries are answered from the "
                                  "other blocks", str(block.dir), err.offset)
    return wrapped


class BlockChunkSeries:
    """A series of a block query; ``samples()`` decodes its chunks in one ``decode_chunks`` call."""

    __slots__ = ("_a", "_b", "_block", "_intervals", "_maxt", "_mint", "_refs", "labels", "ref")

    def __init__(self, block: BlockReader, ref: int, labels: Labels, chunk_refs: U64, mint: int, maxt: int,
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
            raise _reported(self._block, f"series {self.labels}", err) from err
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
        return f"BlockChunkSeries({self.labels})"



class BlockQuerier:
    """A :class:`~tsdb.storage.interfaces.Querier` over one block and ``[mint, maxt]``. Not thread-safe."""

    def __init__(self, block: BlockReader, mint: int, maxt: int) -> None:
        block.acquire()
        self._block = block
        self.mint = mint
        self.maxt = maxt
        self._closed = False

    def _selected(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> Iterator[BlockChunkSeries]:
        if self._closed:
            raise StorageError(f"querier of block {self._block.dir} is closed")
        index = self._block.index()
        stones = self._block.tombstones()
        try:
            refs = select_postings(index, matchers)
        except CorruptionError as err:
            raise _reported(self._block, "index postings", err) from err
        for lo in range(0, len(refs), _SERIES_BATCH):
            check_deadline("reading series")
            ref_batch = refs[lo:lo + _SERIES_BATCH]
            try:
                batch = index.series_batch(ref_batch)
            except CorruptionError as err:
                raise _reported(self._block, "index series", err) from err
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
                    yield BlockChunkSeries(self._block, ref, labels, kept_refs, mint, maxt, intervals_of.get(i, []),
                                      ks[i], ks[i + 1])

    def select(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> Iterator[BlockChunkSeries]:
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
            check_deadline("reading chunks")
            flat = self._read_batch(batch)
            parts.append(flat if flat is not None else FlatSeries.from_series(batch))
        return concat_flat(parts)

    def _read_batch(self, batch: list[BlockChunkSeries]) -> FlatSeries | None:
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
        series_offsets = sample_offsets[seg - seg[0]]
        in_range = ts.shape[0] == 0 or (int(ts.min()) >= self.mint and int(ts.max()) <= self.maxt)
        if in_range and np.all(series_offsets[1:] > series_offsets[:-1]):  # nothing to clip: use as decoded
            return FlatSeries([s.labels for s in batch], ts, values, series_offsets)
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
