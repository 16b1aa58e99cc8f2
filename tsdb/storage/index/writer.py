"""Writing the block ``index`` file, Prometheus index format v2 (``docs/format/index.md``).

Sections in file order: header (magic 0xBAAAD700, version 2), symbol table, series (16-byte aligned;
a series ref is its offset / 16), label indices (one per label name, still written for old readers),
postings lists (the first is the all-postings list under the key ``("", "")``), label offset table,
postings offset table, and the TOC (six big-endian uint64 section offsets + CRC32C) at the end.
Each section carries a CRC32-Castagnoli of its content.

:class:`IndexWriter` writes from series given in label order (``add_series_batch`` builds the
records, varints and CRCs of many series with numpy); its output is byte-identical to Prometheus's for
the same series. :func:`write_index` writes a whole index from (labels, chunk metas) in one call.
"""

from __future__ import annotations

import itertools
import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels, compare_labels
from tsdb.storage.crc import crc32c, crc32c_batch
from tsdb.storage.encoding import encode_uvarints, put_uvarint, put_varint, zigzag
from tsdb.storage.index.format import INDEX_FORMAT_V2, INDEX_MAGIC, SERIES_ALIGN

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

__all__ = ["IndexWriter", "write_index"]


class _Out:
    """A buffered file writer that tracks its position."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.f: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.pos = 0

    def write(self, data: bytes | bytearray) -> None:
        self.f.write(data)
        self.pos += len(data)

    def pad(self, align: int) -> None:
        rem = self.pos % align
        if rem:
            self.write(bytes(align - rem))

    def section(self, content: bytes | bytearray) -> None:
        """``len <4b BE> | content | CRC32C(content) <4b BE>``."""
        self.write(struct.pack(">I", len(content)))
        self.write(content)
        self.write(struct.pack(">I", crc32c(content)))

    def close(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()



def _put_str(out: bytearray, s: str) -> None:
    b = s.encode()
    put_uvarint(out, len(b))
    out += b



class IndexWriter:
    """Writes an index file: give all symbols first, then ``add_series`` in label order, then ``close``.

    ``symbols`` must hold every label name and value used (order and duplicates do not matter);
    the empty string is always added, as Prometheus does.
    Series refs are assigned by the writer (offset / 16) and returned by ``add_series``.
    Not thread-safe.
    """

    def __init__(self, path: str | os.PathLike[str], symbols: Iterable[str]) -> None:
        self.path = Path(path)
        self._out = _Out(self.path)
        self._out.write(struct.pack(">IB", INDEX_MAGIC, INDEX_FORMAT_V2))
        # Prometheus's symbol tables always hold "" (its head indexes the all-postings key ("", "")); we
        # do the same so that an index of the same series is byte-identical to the one Prometheus writes.
        self._symbols = sorted({"", *symbols})
        self._symbol_ref = {s: i for i, s in enumerate(self._symbols)}
        self._toc = [0] * 6
        self._toc[0] = self._out.pos
        content = bytearray(struct.pack(">I", len(self._symbols)))
        for s in self._symbols:
            _put_str(content, s)
        self._out.section(content)
        self._toc[1] = self._out.pos
        self._postings: dict[str, dict[str, list[int]]] = {}
        self._all: list[int] = []
        self._last: Labels | None = None
        self._last_chunk_ref = 0

    def add_series(self, labels: Labels, mint: Sequence[int] | I64, maxt: Sequence[int] | I64,
                   refs: Sequence[int] | U64) -> int:
        """Add a series (labels strictly greater than the previous one's) with its chunk metas; return its ref.

        Chunks must be in time order without overlap (``mint <= maxt < next mint``) and chunk refs
        non-decreasing across all series, as Prometheus requires.
        """
        if self._last is not None and compare_labels(labels, self._last) <= 0:
            raise InvalidArgumentError(f"series {labels} added out of order (after {self._last})")
        mints = [int(x) for x in mint]
        maxts = [int(x) for x in maxt]
        crefs = [int(x) for x in refs]
        if not len(mints) == len(maxts) == len(crefs):
            raise InvalidArgumentError(f"series {labels}: chunk meta arrays differ in length")
        last_ref, last_maxt = self._last_chunk_ref, 0
        for i, (lo, hi, ref) in enumerate(zip(mints, maxts, crefs, strict=True)):
            if ref < last_ref:
                raise InvalidArgumentError(f"series {labels}: chunk ref {ref:#x} below previous {last_ref:#x}")
            if hi < lo or (i and lo <= last_maxt):
                raise InvalidArgumentError(f"series {labels}: chunk {i} [{lo}, {hi}] out of order or overlapping")
            last_ref, last_maxt = ref, hi
        self._out.pad(SERIES_ALIGN)
        series_ref = self._out.pos // SERIES_ALIGN
        body = bytearray()
        put_uvarint(body, len(labels))
        try:
            for name, value in labels.items():
                put_uvarint(body, self._symbol_ref[name])
                put_uvarint(body, self._symbol_ref[value])
                self._postings.setdefault(name, {}).setdefault(value, []).append(series_ref)
        except KeyError as err:
            raise InvalidArgumentError(f"series {labels}: symbol {err} was not given to the index writer") from err
        put_uvarint(body, len(mints))
        if mints:
            put_varint(body, mints[0])
            put_uvarint(body, maxts[0] - mints[0])
            put_uvarint(body, crefs[0])
            for i in range(1, len(mints)):
                put_uvarint(body, mints[i] - maxts[i - 1])
                put_uvarint(body, maxts[i] - mints[i])
                put_varint(body, crefs[i] - crefs[i - 1])
        head = bytearray()
        put_uvarint(head, len(body))
        self._out.write(head)
        self._out.write(body)
        self._out.write(struct.pack(">I", crc32c(body)))
        if series_ref >= 1 << 32:
            raise InvalidArgumentError(f"index {self.path} is too large: series ref {series_ref} exceeds 32 bits")
        self._all.append(series_ref)
        self._last = labels
        self._last_chunk_ref = last_ref
        return series_ref

    def add_series_batch(self, labels: Sequence[Labels], chunk_starts: I64, mint: I64, maxt: I64, refs: U64) -> I64:
        """Add many series at once (same rules as :meth:`add_series`); return their refs.

        Series i has ``labels[i]`` and chunks ``chunk_starts[i]:chunk_starts[i+1]`` of the flat
        ``mint``/``maxt``/``refs`` arrays. Records, varints and CRCs are built with numpy; only the
        order check, symbol look-ups and postings bookkeeping are per series.
        """
        n = len(labels)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        cs = np.asarray(chunk_starts, dtype=np.int64)
        mint = np.asarray(mint, dtype=np.int64)
        maxt = np.asarray(maxt, dtype=np.int64)
        crefs = np.asarray(refs, dtype=np.uint64)
        nchunks = np.diff(cs)
        nc = int(cs[-1])
        if cs.shape[0] != n + 1 or cs[0] != 0 or nchunks.min() < 0 or not mint.shape == maxt.shape == crefs.shape \
                or mint.shape[0] != nc:
            raise InvalidArgumentError("add_series_batch: chunk_starts and chunk meta arrays do not fit together")
        flats = [tuple.__getitem__(lb, slice(None)) for lb in labels]
        previous = tuple.__getitem__(self._last, slice(None)) if self._last is not None else None
        for i, flat in enumerate(flats):  # tuple order of flat label sets is Prometheus's label order
            if previous is not None and not previous < flat:
                after = labels[i - 1] if i else self._last
                raise InvalidArgumentError(f"series {labels[i]} added out of order (after {after})")
            previous = flat
        series_of_chunk = np.repeat(np.arange(n), nchunks)
        is_first = np.zeros(nc, dtype=bool)
        is_first[cs[:-1][nchunks > 0]] = True
        prev_maxt = np.empty(nc, dtype=np.int64)
        prev_maxt[1:] = maxt[:-1]
        prev_ref = np.empty(nc, dtype=np.uint64)
        prev_ref[:1] = self._last_chunk_ref
        prev_ref[1:] = crefs[:-1]
        bad = (maxt < mint) | (~is_first & (mint <= prev_maxt)) | (crefs < prev_ref) if nc else np.zeros(0, bool)
        if bad.any():
            c = int(np.flatnonzero(bad)[0])
            raise InvalidArgumentError(f"series {labels[int(series_of_chunk[c])]}: chunk [{mint[c]}, {maxt[c]}] "
                                       f"ref {int(crefs[c]):#x} out of order, overlapping or below the previous ref")
        try:
            sym = self._symbol_ref
            sym_refs = np.fromiter((sym[x] for flat in flats for x in flat), dtype=np.uint64)
        except KeyError as err:
            raise InvalidArgumentError(f"symbol {err} was not given to the index writer") from err
        nlabels = np.array([len(f) // 2 for f in flats], dtype=np.int64)
        # the varint stream of every record: nlabels, symbol refs, nchunks, 3 fields per chunk
        nvals = 2 + 2 * nlabels + 3 * nchunks
        vstart = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(nvals, out=vstart[1:])
        vals = np.zeros(int(vstart[-1]), dtype=np.uint64)
        vals[vstart[:-1]] = nlabels.astype(np.uint64)
        nl2 = 2 * nlabels
        if sym_refs.shape[0]:
            excl = np.cumsum(nl2) - nl2
            vals[np.repeat(vstart[:-1] + 1 - excl, nl2) + np.arange(sym_refs.shape[0], dtype=np.int64)] = sym_refs
        count_at = vstart[:-1] + 1 + nl2
        vals[count_at] = nchunks.astype(np.uint64)
        if nc:
            field_at = np.repeat(count_at + 1 - 3 * cs[:-1], nchunks) + 3 * np.arange(nc, dtype=np.int64)
            with np.errstate(over="ignore"):
                f0 = np.where(is_first, zigzag(mint), (mint - prev_maxt).astype(np.uint64))
                f2 = np.where(is_first, crefs, zigzag(crefs.astype(np.int64) - prev_ref.astype(np.int64)))
            vals[field_at] = f0
            vals[field_at + 1] = (maxt - mint).astype(np.uint64)
            vals[field_at + 2] = f2
        body, body_offsets = encode_uvarints(vals, vstart)
        body_len = np.diff(body_offsets)
        len_bytes, len_offsets = encode_uvarints(body_len.astype(np.uint64), np.arange(n + 1, dtype=np.int64))
        len_len = np.diff(len_offsets)
        rec_len = len_len + body_len + 4
        # place records at 16-byte boundaries (a sequential dependency: one cheap pass over ints)
        pos = self._out.pos
        rec_start = np.empty(n, dtype=np.int64)
        for i, size in enumerate(rec_len.tolist()):
            pos += -pos % SERIES_ALIGN
            rec_start[i] = pos
            pos += size
        if (pos - 1) // SERIES_ALIGN >= 1 << 32:
            raise InvalidArgumentError(f"index {self.path} is too large: series refs exceed 32 bits")
        base = self._out.pos
        out = np.zeros(pos - base, dtype=np.uint8)
        rel = rec_start - base
        out[np.repeat(rel - len_offsets[:-1], len_len) + np.arange(len_bytes.shape[0], dtype=np.int64)] = len_bytes
        body_at = rel + len_len
        out[np.repeat(body_at - body_offsets[:-1], body_len) + np.arange(body.shape[0], dtype=np.int64)] = body
        crc_be = crc32c_batch(body, body_offsets).astype(">u4").view(np.uint8)
        crc_at = body_at + body_len
        for k in range(4):
            out[crc_at + k] = crc_be[k::4]
        self._out.write(out.tobytes())
        series_refs = rec_start // SERIES_ALIGN
        postings = self._postings
        for ref, flat in zip(series_refs.tolist(), flats, strict=True):
            for j in range(0, len(flat), 2):
                postings.setdefault(flat[j], {}).setdefault(flat[j + 1], []).append(ref)
        self._all.extend(series_refs.tolist())
        self._last = labels[-1]
        if nc:
            self._last_chunk_ref = int(crefs[-1])
        return series_refs

    def close(self) -> None:
        """Write label indices, postings, the offset tables and the TOC; fsync and close the file."""
        out = self._out
        names = sorted(self._postings)
        # label indices (for readers of older versions; v2 readers use the postings offset table)
        self._toc[2] = out.pos  # before the padding, as Prometheus records it
        out.pad(4)
        start = out.pos
        value_lists = [sorted(self._postings[name]) for name in names]
        sym = self._symbol_ref
        body, offsets = _u32_sections(
            np.array([[1, len(v)] for v in value_lists], dtype=np.uint32).reshape(-1, 2),
            np.array([len(v) for v in value_lists], dtype=np.int64),
            np.fromiter((sym[v] for vs in value_lists for v in vs), dtype=np.uint32))
        out.write(body)
        label_offsets = list(zip(names, (start + offsets).tolist(), strict=True))
        # postings lists: the all-postings list first, then by name and value
        out.pad(4)
        self._toc[4] = out.pos
        keys: list[tuple[str, str]] = [("", "")]
        lists: list[list[int]] = [self._all]
        for name in names:
            by_value = self._postings[name]
            for v in sorted(by_value):
                keys.append((name, v))
                lists.append(by_value[v])
        counts = np.array([len(x) for x in lists], dtype=np.int64)
        body, offsets = _u32_sections(counts.astype(np.uint32).reshape(-1, 1), counts,
                                      np.fromiter(itertools.chain.from_iterable(lists), dtype=np.uint32,
                                                  count=int(counts.sum())))
        postings_offsets = [(n, v, off) for (n, v), off in zip(keys, (out.pos + offsets).tolist(), strict=True)]
        out.write(body)
        # label offset table
        self._toc[3] = out.pos
        table = bytearray(struct.pack(">I", len(label_offsets)))
        for name, off in label_offsets:
            put_uvarint(table, 1)
            _put_str(table, name)
            put_uvarint(table, off)
        out.section(table)
        # postings offset table
        self._toc[5] = out.pos
        table = bytearray(struct.pack(">I", len(postings_offsets)))
        for name, value, off in postings_offsets:
            put_uvarint(table, 2)
            _put_str(table, name)
            _put_str(table, value)
            put_uvarint(table, off)
        out.section(table)
        toc = struct.pack(">6Q", *self._toc)
        out.write(toc + struct.pack(">I", crc32c(toc)))
        out.close()

    def abort(self) -> None:
        """Close without finishing (the file is left incomplete for the caller to remove)."""
        self._out.f.close()



def _u32_sections(prefix: npt.NDArray[np.uint32], counts: I64, payload: npt.NDArray[np.uint32]
                  ) -> tuple[bytes, I64]:
    """Many ``len <4b> | prefix words | payload words | CRC <4b>`` sections back to back, built at once.

    Section i has ``prefix[i]`` then ``counts[i]`` words of ``payload``; every section is a whole number
    of 4-byte words, so 4-byte alignment holds throughout. Returns the bytes and each section's offset.
    """
    n, p = prefix.shape
    words = 2 + p + counts  # len + prefix + payload + crc
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(words, out=starts[1:])
    out = np.zeros(int(starts[-1]), dtype=np.uint32)
    first = starts[:-1]
    out[first] = (4 * (p + counts)).astype(np.uint32)
    for j in range(p):
        out[first + 1 + j] = prefix[:, j]
    total = int(counts.sum())
    if total:
        excl = np.cumsum(counts) - counts
        out[np.repeat(first + 1 + p - excl, counts) + np.arange(total, dtype=np.int64)] = payload
    raw = out.astype(">u4").view(np.uint8)
    pieces = np.empty(2 * n, dtype=np.int64)
    pieces[0::2] = 4 * (first + 1)
    pieces[1::2] = 4 * (starts[1:] - 1)
    crc_be = (crc32c_batch(raw, pieces)[0::2] if n else np.zeros(0, np.uint32)).astype(">u4").view(np.uint8)
    crc_at = 4 * (starts[1:] - 1)
    for k in range(4):
        raw[crc_at + k] = crc_be[k::4]
    return raw.tobytes(), 4 * first



def write_index(path: str | os.PathLike[str], series: Sequence[tuple[Labels, I64, I64, U64]],
                batch_size: int = 65536) -> list[int]:
    """Write an index of ``series`` (labels, mint[], maxt[], chunk ref[]) sorted by labels; return series refs.

    Series are added ``batch_size`` at a time through :meth:`IndexWriter.add_series_batch`.
    """
    symbols: set[str] = set()
    for labels, *_ in series:
        symbols.update(tuple.__getitem__(labels, slice(None)))
    writer = IndexWriter(path, symbols)
    refs: list[int] = []
    try:
        for lo in range(0, len(series), batch_size):
            part = series[lo:lo + batch_size]
            starts = np.zeros(len(part) + 1, dtype=np.int64)
            np.cumsum([len(m) for _, m, _, _ in part], out=starts[1:])
            refs.extend(writer.add_series_batch(
                [lb for lb, *_ in part], starts,
                np.concatenate([np.asarray(m, dtype=np.int64) for _, m, _, _ in part]),
                np.concatenate([np.asarray(m, dtype=np.int64) for _, _, m, _ in part]),
                np.concatenate([np.asarray(r, dtype=np.uint64) for _, _, _, r in part])).tolist())
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return refs
