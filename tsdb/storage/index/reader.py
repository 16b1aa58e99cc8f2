"""Reading the block ``index`` file, Prometheus index format v2 (``docs/format/index.md``; the layout
is described in :mod:`~tsdb.storage.index.writer`).

:class:`IndexReader` memory-maps a file and answers symbol, postings, label and series look-ups
(``series_batch`` decodes many series in one vectorised pass); it verifies the TOC, symbol table and
postings offset table CRCs when opened and each series' and postings list's CRC when read. Readers are
safe to share between threads.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tsdb.errors import CorruptionError
from tsdb.labels import Labels
from tsdb.storage.crc import crc32c, crc32c_batch
from tsdb.storage.encoding import read_uvarint, read_varint
from tsdb.storage.index.format import INDEX_FORMAT_V2, INDEX_MAGIC, SERIES_ALIGN, TOC_LEN

__all__ = ["ChunkMetas", "IndexReader", "SeriesBatch"]


I64 = npt.NDArray[np.int64]

U64 = npt.NDArray[np.uint64]

ChunkMetas = tuple[I64, I64, U64]
"""(mint[], maxt[], ref[]) of a series' chunks, in chunk order."""

_EMPTY_U64 = np.zeros(0, dtype=np.uint64)

_EMPTY_U64.flags.writeable = False



@dataclass(frozen=True)
class SeriesBatch:
    """Many series decoded at once: series i has ``labels[i]`` and chunks ``chunk_starts[i]:chunk_starts[i+1]``
    of the flat ``mint``/``maxt``/``refs`` arrays (read-only by convention; shared by all series)."""

    labels: list[Labels]
    chunk_starts: I64
    mint: I64
    maxt: I64
    refs: U64



class IndexReader:
    """A memory-mapped index v2 file. ``close()`` releases the map; thread-safe for reading."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        p = str(self.path)
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 5 + TOC_LEN:
                raise CorruptionError(f"index file of {size} bytes is too short", p, 0)
            self._mm: mmap.mmap | None = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        mm = self._mm
        self._size = size
        magic, version = struct.unpack_from(">IB", mm, 0)
        if magic != INDEX_MAGIC:
            raise CorruptionError(f"bad index magic {magic:#010x}", p, 0)
        if version not in (INDEX_FORMAT_V2, 3):  # Prometheus reads v3 exactly like v2 (reserved for later)
            raise CorruptionError(f"unsupported index format version {version} (v2 and v3 are read)", p, 4)
        self.version = version
        toc_at = size - TOC_LEN
        toc = mm[toc_at:toc_at + 48]
        if crc32c(toc) != struct.unpack_from(">I", mm, toc_at + 48)[0]:
            raise CorruptionError("index TOC checksum mismatch", p, toc_at)
        self.toc = struct.unpack(">6Q", toc)
        for off in self.toc:
            if off >= toc_at:
                raise CorruptionError(f"index TOC points past the TOC ({off})", p, toc_at)
        self._symbols = self._read_symbols(self.toc[0])
        self._postings_offsets = self._read_postings_table(self.toc[5])
        self._postings_cache: dict[tuple[str, str], U64] = {}

    # -- sections -------------------------------------------------------------------------------------
    def _section(self, off: int, what: str) -> tuple[int, int]:
        """Verify the CRC of the ``len``-prefixed section at ``off``; return (content start, content end)."""
        assert self._mm is not None
        if off + 4 > self._size:
            raise CorruptionError(f"index {what} section starts past the end", str(self.path), off)
        (length,) = struct.unpack_from(">I", self._mm, off)
        start, end = off + 4, off + 4 + length
        if end + 4 > self._size:
            raise CorruptionError(f"index {what} section of {length} bytes runs past the end", str(self.path), off)
        if crc32c(self._mm[start:end]) != struct.unpack_from(">I", self._mm, end)[0]:
            raise CorruptionError(f"index {what} checksum mismatch", str(self.path), off)
        return start, end

    def _read_symbols(self, off: int) -> list[str]:
        if off == 0:
            return []
        assert self._mm is not None
        start, end = self._section(off, "symbol table")
        (count,) = struct.unpack_from(">I", self._mm, start)
        pos = start + 4
        symbols: list[str] = []
        try:
            for _ in range(count):
                n, pos = read_uvarint(self._mm, pos, end)
                if pos + n > end:
                    raise ValueError("symbol runs past the section")
                symbols.append(self._mm[pos:pos + n].decode())
                pos += n
        except (ValueError, UnicodeDecodeError) as err:
            raise CorruptionError(f"malformed symbol table: {err}", str(self.path), pos) from err
        return symbols

    def _read_postings_table(self, off: int) -> dict[str, tuple[list[str], list[int]]]:
        table: dict[str, tuple[list[str], list[int]]] = {}
        if off == 0:
            return table
        assert self._mm is not None
        mm = self._mm
        start, end = self._section(off, "postings offset table")
        (count,) = struct.unpack_from(">I", mm, start)
        pos = start + 4
        try:
            for _ in range(count):
                keys, pos = read_uvarint(mm, pos, end)
                if keys != 2:
                    raise ValueError(f"postings offset entry with {keys} keys")
                n, pos = read_uvarint(mm, pos, end)
                name = mm[pos:pos + n].decode()
                pos += n
                n, pos = read_uvarint(mm, pos, end)
                value = mm[pos:pos + n].decode()
                pos += n
                offset, pos = read_uvarint(mm, pos, end)
                values, offsets = table.setdefault(name, ([], []))
                values.append(value)
                offsets.append(offset)
        except (ValueError, UnicodeDecodeError) as err:
            raise CorruptionError(f"malformed postings offset table: {err}", str(self.path), pos) from err
        return table

    # -- symbols and labels ---------------------------------------------------------------------------
    def symbols(self) -> list[str]:
        """All symbols, sorted."""
        return list(self._symbols)

    def lookup_symbol(self, ref: int) -> str:
        """The symbol with sequence number ``ref``."""
        try:
            return self._symbols[ref]
        except IndexError as err:
            raise CorruptionError(f"symbol ref {ref} out of range ({len(self._symbols)} symbols)",
                                  str(self.path)) from err

    def label_names(self) -> list[str]:
        """Sorted label names present in the index."""
        return sorted(n for n in self._postings_offsets if n)

    def label_values(self, name: str) -> list[str]:
        """Sorted values of label ``name`` (empty if the name is absent)."""
        entry = self._postings_offsets.get(name)
        return list(entry[0]) if entry and name else []

    # -- postings ----------------------------------------------------------------------------------
    def postings(self, name: str, value: str) -> U64:
        """Sorted series refs having ``name="value"`` (read-only array; empty if absent).

        ``("", "")`` is the all-postings key.
        """
        key = (name, value)
        cached = self._postings_cache.get(key)
        if cached is not None:
            return cached
        entry = self._postings_offsets.get(name)
        if entry is None:
            return _EMPTY_U64
        values, offsets = entry
        i = bisect.bisect_left(values, value)
        if i == len(values) or values[i] != value:
            return _EMPTY_U64
        refs = self._read_postings(offsets[i])
        self._postings_cache[key] = refs
        return refs

    def all_postings(self) -> U64:
        """Sorted refs of all series."""
        return self.postings("", "")

    def _read_postings(self, off: int) -> U64:
        assert self._mm is not None
        start, end = self._section(off, "postings list")
        (count,) = struct.unpack_from(">I", self._mm, start)
        if start + 4 + 4 * count != end:
            raise CorruptionError(f"postings list claims {count} entries in {end - start} bytes",
                                  str(self.path), off)
        refs = np.frombuffer(self._mm, dtype=">u4", count=count, offset=start + 4).astype(np.uint64)
        refs.flags.writeable = False
        return refs

    # -- series ----------------------------------------------------------------------------------------
    def series(self, ref: int) -> tuple[Labels, ChunkMetas]:
        """Labels and chunk metas (mint[], maxt[], ref[]) of the series with this ref."""
        assert self._mm is not None
        mm = self._mm
        off = int(ref) * SERIES_ALIGN
        p = str(self.path)
        if off < self.toc[1] or off >= self._size:
            raise CorruptionError(f"series ref {ref} points outside the series section", p, off)
        try:
            length, pos = read_uvarint(mm, off, min(self._size, off + 10))
            end = pos + length
            if end + 4 > self._size:
                raise ValueError(f"series of {length} bytes runs past the end")
            if crc32c(mm[pos:end]) != struct.unpack_from(">I", mm, end)[0]:
                raise CorruptionError(f"index series {ref} checksum mismatch", p, off)
            nlabels, pos = read_uvarint(mm, pos, end)
            flat: list[str] = []
            symbols = self._symbols
            for _ in range(2 * nlabels):
                sym, pos = read_uvarint(mm, pos, end)
                flat.append(symbols[sym])
            nchunks, pos = read_uvarint(mm, pos, end)
            mints = np.empty(nchunks, dtype=np.int64)
            maxts = np.empty(nchunks, dtype=np.int64)
            crefs = np.empty(nchunks, dtype=np.uint64)
            if nchunks:
                t0, pos = read_varint(mm, pos, end)
                d, pos = read_uvarint(mm, pos, end)
                r0, pos = read_uvarint(mm, pos, end)
                mints[0], maxts[0], crefs[0] = t0, t0 + d, r0
                maxt = t0 + d
                for i in range(1, nchunks):
                    d1, pos = read_uvarint(mm, pos, end)
                    d2, pos = read_uvarint(mm, pos, end)
                    dr, pos = read_varint(mm, pos, end)
                    mints[i] = maxt + d1
                    maxt = maxt + d1 + d2
                    maxts[i] = maxt
                    r0 += dr
                    crefs[i] = r0
        except (ValueError, IndexError, OverflowError) as err:
            raise CorruptionError(f"malformed index series {ref}: {err}", p, off) from err
        return Labels.from_sorted_flat(flat), (mints, maxts, crefs)

    def series_many(self, refs: Iterable[int] | npt.NDArray[np.integer]) -> list[tuple[Labels, ChunkMetas]]:
        """:meth:`series` of each ref, in the given order (built from :meth:`series_batch`)."""
        batch = self.series_batch(refs)
        cs = batch.chunk_starts.tolist()
        return [(lb, (batch.mint[cs[i]:cs[i + 1]], batch.maxt[cs[i]:cs[i + 1]], batch.refs[cs[i]:cs[i + 1]]))
                for i, lb in enumerate(batch.labels)]

    def series_batch(self, refs: Iterable[int] | npt.NDArray[np.integer]) -> SeriesBatch:
        """Labels and chunk metas of many series, decoded together with numpy.

        The varints of all records are decoded in one vectorised pass and their CRCs in one batch; only
        building each ``Labels`` is per series. Any inconsistency falls back to :meth:`series` on each
        ref, which raises the precise :class:`CorruptionError` (file and offset of the bad series).
        """
        ref_arr = np.asarray(list(refs) if not isinstance(refs, np.ndarray) else refs).astype(np.int64)
        if 0 < ref_arr.shape[0] < 4:  # the vectorised path only pays off for more
            one = [self.series(r) for r in ref_arr.tolist()]
            starts = np.zeros(len(one) + 1, dtype=np.int64)
            np.cumsum([len(m[0]) for _, m in one], out=starts[1:])
            return SeriesBatch([lb for lb, _ in one], starts, np.concatenate([m[0] for _, m in one]),
                               np.concatenate([m[1] for _, m in one]), np.concatenate([m[2] for _, m in one]))
        decoded = self._decode_series_batch(ref_arr) if ref_arr.shape[0] else None
        if decoded is None:
            if ref_arr.shape[0]:  # something is off: let the scalar path find and report it
                for r in ref_arr.tolist():
                    self.series(r)
                raise CorruptionError("index series records are inconsistent", str(self.path))
            empty = np.zeros(0, dtype=np.int64)
            return SeriesBatch([], np.zeros(1, dtype=np.int64), empty, empty, empty.astype(np.uint64))
        return decoded

    def _decode_series_batch(self, ref_arr: I64) -> SeriesBatch | None:
        assert self._mm is not None
        arr = np.frombuffer(self._mm, dtype=np.uint8)
        try:
            return self._decode_series_arrays(arr, ref_arr)
        finally:
            del arr

    def _decode_series_arrays(self, arr: npt.NDArray[np.uint8], ref_arr: I64) -> SeriesBatch | None:
        size = self._size
        n = ref_arr.shape[0]
        offs = ref_arr * SERIES_ALIGN
        if offs.min() < self.toc[1] or offs.max() + 16 > size:
            return None
        # the record length (a uvarint of at most 5 bytes)
        length = np.zeros(n, dtype=np.int64)
        lenlen = np.zeros(n, dtype=np.int64)
        done = np.zeros(n, dtype=bool)
        for k in range(5):
            b = arr[offs + k].astype(np.int64)
            live = ~done
            length[live] |= (b[live] & 0x7F) << (7 * k)
            lenlen[live] += 1
            done |= b < 0x80
        if not done.all():
            return None
        body_start = offs + lenlen
        if (body_start + length + 4).max() > size or length.min() < 2:
            return None
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(length, out=starts[1:])
        total = int(starts[-1])
        bodies = arr[np.repeat(body_start - starts[:-1], length) + np.arange(total, dtype=np.int64)]
        crc_at = body_start + length
        stored = np.zeros(n, dtype=np.uint32)
        for k in range(4):
            stored = (stored << np.uint32(8)) | arr[crc_at + k].astype(np.uint32)
        if np.any(crc32c_batch(bodies, starts) != stored):
            return None
        # every byte < 0x80 ends a varint; records are nothing but varints
        ends = np.flatnonzero(bodies < 0x80)
        if bodies[starts[1:] - 1].max() >= 0x80:
            return None
        vstart = np.empty(ends.shape[0], dtype=np.int64)
        vstart[0] = 0
        vstart[1:] = ends[:-1] + 1
        vlen = ends - vstart + 1
        if vlen.max() > 10:
            return None
        vals = np.zeros(ends.shape[0], dtype=np.uint64)
        for k in range(int(vlen.max())):
            m = vlen > k
            vals[m] |= (bodies[vstart[m] + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
        first = np.searchsorted(ends, starts[:-1])  # first varint of each record
        last = np.searchsorted(ends, starts[1:])  # one past its last varint
        nlabels = vals[first].astype(np.int64)
        chunk_count_at = first + 1 + 2 * nlabels
        if np.any(chunk_count_at >= last):
            return None
        nchunks = vals[chunk_count_at].astype(np.int64)
        if np.any(chunk_count_at + 1 + 3 * nchunks != last) or nlabels.max() * 2 >= 1 << 40:
            return None
        # labels: one pass over all symbol refs
        label_idx = np.repeat(first + 1 - np.cumsum(2 * nlabels) + 2 * nlabels, 2 * nlabels)
        label_idx += np.arange(label_idx.shape[0], dtype=np.int64)
        sym_refs = vals[label_idx]
        if sym_refs.shape[0] and int(sym_refs.max()) >= len(self._symbols):
            return None
        symbols = self._symbols
        flat = [symbols[i] for i in sym_refs.tolist()]
        # chunk metas: (f0, f1, f2) per chunk, delta-decoded with segmented cumulative sums
        cstarts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(nchunks, out=cstarts[1:])
        nc = int(cstarts[-1])
        field_idx = np.repeat(chunk_count_at + 1 - 3 * cstarts[:-1], nchunks) + 3 * np.arange(nc, dtype=np.int64)
        f0, f1, f2 = vals[field_idx], vals[field_idx + 1], vals[field_idx + 2]
        is_first = np.zeros(nc, dtype=bool)
        is_first[cstarts[:-1][nchunks > 0]] = True
        zz0 = (f0 >> np.uint64(1)).astype(np.int64) ^ -(f0 & np.uint64(1)).astype(np.int64)
        zz2 = (f2 >> np.uint64(1)).astype(np.int64) ^ -(f2 & np.uint64(1)).astype(np.int64)
        f1i = f1.astype(np.int64)
        with np.errstate(over="ignore"):
            step = np.where(is_first, zz0, f0.astype(np.int64)) + f1i
            maxt = _segmented_cumsum(step, cstarts)
            mint = maxt - f1i
            crefs = _segmented_cumsum(np.where(is_first, f2.astype(np.int64), zz2), cstarts).astype(np.uint64)
        labels = []
        lpos = 0
        wrap = Labels.from_sorted_flat
        for width in (2 * nlabels).tolist():
            labels.append(wrap(flat[lpos:lpos + width]))
            lpos += width
        return SeriesBatch(labels, cstarts, mint, maxt, crefs)

    def close(self) -> None:
        """Release the memory map (postings arrays returned earlier are copies and stay valid)."""
        if self._mm is not None:
            self._mm.close()
            self._mm = None

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



def _segmented_cumsum(values: I64, starts: I64) -> I64:
    """Cumulative sums restarting at each ``starts[i]`` (``starts`` has n+1 entries, the last the length)."""
    total = np.cumsum(values)
    if not total.shape[0]:
        return total
    seg_first = starts[:-1]
    counts = np.diff(starts)
    nonempty = counts > 0
    before = np.where(seg_first > 0, total[np.maximum(seg_first - 1, 0)], 0)
    return total - np.repeat(before[nonempty], counts[nonempty])
