"""Tier files: one Parquet file of downsampled aggregates per tier per block time range (docs/format/parquet-tier.md).

A file holds one row per series and window, sorted by series (label order) then window start, LZ4
compressed, with column statistics so a time-range and series filter skips row groups. Label sets are a
dictionary-encoded JSON column (``labels``) plus the metric name (``metric``), so pyarrow, pandas and
DuckDB read the file as is. Files are written to ``<name>.tmp`` and renamed atomically.

:class:`TierFile` reads one file: its series table is loaded once (the ``labels`` dictionary) and matchers
are resolved against it; rows are read with a filter on ``series_id`` and ``start``.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tsdb.errors import CorruptionError, StorageError
from tsdb.labels import Labels, Matcher, matches_all
from tsdb.storage.fileutil import fsync_dir
from tsdb.storage.tiers.deletions import Deletion, deleted_rows
from tsdb.storage.tiers.downsample import Aggregates

FORMAT_VERSION = 1
ROW_GROUP_ROWS = 65_536
META_KEY = b"tsdb.tier"

SCHEMA = pa.schema([
    ("series_id", pa.int32()),
    ("metric", pa.dictionary(pa.int32(), pa.string())),
    ("labels", pa.dictionary(pa.int32(), pa.string())),
    ("start", pa.int64()),
    ("count", pa.int64()),
    ("first_ts", pa.int64()),
    ("last_ts", pa.int64()),
    ("sum", pa.float64()),
    ("min", pa.float64()),
    ("max", pa.float64()),
    ("first_value", pa.float64()),
    ("last_value", pa.float64()),
    ("counter_inc", pa.float64()),
])
_VALUE_COLUMNS = [f.name for f in SCHEMA if f.name not in ("series_id", "metric", "labels")]


def file_name(mint: int, maxt: int) -> str:
    """``<mint>-<maxt>.parquet`` (inclusive ms of the raw range it summarises)."""
    return f"{mint}-{maxt}.parquet"


def parse_file_name(name: str) -> tuple[int, int] | None:
    """The (mint, maxt) of a tier file name, None for anything else."""
    if not name.endswith(".parquet"):
        return None
    lo, sep, hi = name.removesuffix(".parquet").partition("-")
    if not sep or not lo.lstrip("-").isdigit() or not hi.lstrip("-").isdigit():
        return None
    return int(lo), int(hi)


def write_tier_file(directory: Path, agg: Aggregates, resolution_ms: int, mint: int, maxt: int) -> Path:
    """Write ``agg`` (series sorted by labels) as ``directory/<mint>-<maxt>.parquet``; returns the path."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = np.diff(agg.offsets)
    series_id = np.repeat(np.arange(len(agg.labels), dtype=np.int32), counts)
    label_json = [json.dumps(lb.to_dict(), separators=(",", ":"), sort_keys=True) for lb in agg.labels]
    metrics = [lb.metric_name for lb in agg.labels]
    columns = {
        "series_id": pa.array(series_id, pa.int32()),
        "metric": pa.DictionaryArray.from_arrays(pa.array(series_id, pa.int32()), pa.array(metrics, pa.string())),
        "labels": pa.DictionaryArray.from_arrays(pa.array(series_id, pa.int32()), pa.array(label_json, pa.string())),
        **{name: pa.array(agg.columns()[name]) for name in _VALUE_COLUMNS},
    }
    meta = {"version": FORMAT_VERSION, "resolution_ms": int(resolution_ms), "mint": int(mint), "maxt": int(maxt),
            "series": len(agg.labels)}
    table = pa.Table.from_pydict(columns, schema=SCHEMA.with_metadata({META_KEY: json.dumps(meta).encode()}))
    final = directory / file_name(mint, maxt)
    tmp = final.with_name(final.name + ".tmp")
    try:
        pq.write_table(table, tmp, compression="lz4", row_group_size=ROW_GROUP_ROWS, write_statistics=True,
                       use_dictionary=["metric", "labels"])
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        fsync_dir(directory)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write tier file {final}: {err}") from err
    return final


class TierFile:
    """One tier file, opened for reading; the series table is loaded on first use. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        parsed = parse_file_name(path.name)
        if parsed is None:
            raise StorageError(f"{path}: not a tier file name (<mint>-<maxt>.parquet)")
        self.mint, self.maxt = parsed
        self._series: list[Labels] | None = None
        self._file: pq.ParquetFile | None = None
        self._lock = threading.Lock()
        self._token = next(_TOKENS)  # a rewritten file (same path) never reads row groups cached for this one
        self.resolution_ms = 0
        try:
            meta = pq.read_schema(path).metadata or {}
            info = json.loads(meta.get(META_KEY, b"{}"))
        except (OSError, pa.ArrowException, ValueError) as err:
            raise CorruptionError(f"tier file {path}: cannot read its schema: {err}", str(path)) from err
        if info.get("version") != FORMAT_VERSION:
            raise CorruptionError(f"tier file {path}: unsupported format version {info.get('version')!r}", str(path))
        self.resolution_ms = int(info["resolution_ms"])

    def series(self) -> list[Labels]:
        """The label sets in the file, indexed by ``series_id``."""
        with self._lock:
            if self._series is None:
                try:
                    # through the file object rows are read from: a rewritten file is never half-seen
                    if self._file is None:
                        self._file = pq.ParquetFile(self.path)
                    table = self._file.read(columns=["series_id", "labels"])
                except (OSError, pa.ArrowException) as err:
                    raise CorruptionError(f"tier file {self.path}: {err}", str(self.path)) from err
                sid = table.column("series_id").to_numpy()
                ids, first = np.unique(sid, return_index=True)
                if len(ids) and not np.array_equal(ids, np.arange(len(ids))):
                    raise CorruptionError(f"tier file {self.path}: series ids are not 0..n-1", str(self.path))
                texts = table.column("labels").take(pa.array(first)).to_pylist()
                self._series = [Labels(json.loads(text)) for text in texts]
            return self._series

    def size_bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def select(self, matchers: list[Matcher], mint: int, maxt: int,
               columns: frozenset[str] | None = None, deleted: Sequence[Deletion] = ()) -> Aggregates:
        """Rows of matching series whose window's last sample lies in ``[mint, maxt]``.

        ``columns`` limits the value columns filled (the others are empty arrays); None fills all.
        Windows touched by one of the ``deleted`` intervals are left out (see :mod:`.deletions`)."""
        series = self.series()
        ids = [i for i, lb in enumerate(series) if matches_all(matchers, lb)]
        if not ids or mint > self.maxt or maxt < self.mint:
            return Aggregates.empty()
        wanted = None if len(ids) == len(series) else np.asarray(ids, dtype=np.int32)
        try:
            parquet = self._parquet()
            groups = self._row_groups(parquet, mint, maxt, ids[0], ids[-1])
            if not groups:
                return Aggregates.empty()
            table = pa.concat_tables([_CACHE.get(self.path, self._token, parquet, g) for g in groups])
        except (OSError, pa.ArrowException) as err:
            raise CorruptionError(f"tier file {self.path}: {err}", str(self.path)) from err
        sid = table.column("series_id").to_numpy()
        last_ts = table.column("last_ts").to_numpy()
        keep = (last_ts >= mint) & (last_ts <= maxt)
        if wanted is not None:
            keep &= np.isin(sid, wanted)
        if deleted:
            keep &= ~deleted_rows(deleted, series, sid, table.column("first_ts").to_numpy(), last_ts)
        everything = bool(keep.all())
        if not everything:
            sid = sid[keep]
        if len(sid) == 0:
            return Aggregates.empty()
        # rows are stored sorted by series then window: a stable selection keeps that order
        present, counts = np.unique(sid, return_counts=True)
        offsets = np.zeros(len(present) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        empty = np.zeros(0)
        cols: dict[str, Any] = {}
        for name in _VALUE_COLUMNS:
            if columns is not None and name not in columns:
                cols[name] = empty  # not asked for: left out (callers read only what they asked for)
                continue
            column = table.column(name).to_numpy()
            cols[name] = column if everything else column[keep]
        return Aggregates([series[i] for i in present.tolist()], offsets, **cols)

    def _parquet(self) -> pq.ParquetFile:
        with self._lock:
            if self._file is None:
                self._file = pq.ParquetFile(self.path)
            return self._file

    @staticmethod
    def _row_groups(parquet: pq.ParquetFile, mint: int, maxt: int, first_id: int, last_id: int) -> list[int]:
        """Row groups whose statistics allow rows in ``[mint, maxt]`` and the series id range."""
        meta = parquet.metadata
        names = parquet.schema_arrow.names
        ts_col, id_col = names.index("last_ts"), names.index("series_id")
        groups = []
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            ts_stats, id_stats = group.column(ts_col).statistics, group.column(id_col).statistics
            if ts_stats is not None and ts_stats.has_min_max and (ts_stats.max < mint or ts_stats.min > maxt):
                continue
            if id_stats is not None and id_stats.has_min_max and (id_stats.max < first_id or id_stats.min > last_id):
                continue
            groups.append(g)
        return groups


class RowGroupCache:
    """Decoded row groups of tier files, least recently used dropped past ``max_bytes``; thread-safe.

    Tier files never change once written, so a decoded row group stays valid until its file is deleted.
    """

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self.max_bytes = max_bytes
        self._tables: OrderedDict[tuple[str, int, int], pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, path: Path, token: int, parquet: pq.ParquetFile, group: int) -> pa.Table:
        """Row group ``group`` of the file at ``path`` as opened by the reader ``token``."""
        key = (str(path), token, group)
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                self._tables.move_to_end(key)
                return table
        table = parquet.read_row_group(group, columns=["series_id", *_VALUE_COLUMNS])
        with self._lock:
            if key not in self._tables:
                self._tables[key] = table
                self._bytes += table.nbytes
                while self._bytes > self.max_bytes and len(self._tables) > 1:
                    _, old = self._tables.popitem(last=False)
                    self._bytes -= old.nbytes
        return table

    def forget(self, path: Path) -> None:
        """Drop the row groups of a deleted file."""
        with self._lock:
            for key in [k for k in self._tables if k[0] == str(path)]:
                self._bytes -= self._tables.pop(key).nbytes


_CACHE = RowGroupCache()
_TOKENS = itertools.count()


def forget_file(path: Path) -> None:
    """Forget cached data of a tier file that is being deleted."""
    _CACHE.forget(path)


def distinct_label_sets(files: list[TierFile]) -> list[Labels]:
    """Every label set in ``files`` (sorted, deduplicated)."""
    return sorted({lb for f in files for lb in f.series()})


