"""Downsampled tiers in a data directory: scheduling and retention.

``<data>/tiers/5m/`` and ``<data>/tiers/1h/`` hold Parquet tier files (:mod:`~tsdb.storage.tiers.parquet`),
one per raw block time range. :meth:`TierStore.maintain` (called from ``DB.maintain``) downsamples blocks
older than ``tier_5m_after`` / ``tier_1h_after`` that no tier file covers yet, and deletes tier files
older than ``tier_retention``. Blocks are read through their own queriers, so writes and queries are
never blocked. The read path is :mod:`~tsdb.storage.tiers.querier`.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from tsdb.config import StorageOptions
from tsdb.errors import StorageError
from tsdb.labels import Labels, Matcher
from tsdb.storage.interrupt import StopFlag, check_stop
from tsdb.storage.tiers.downsample import RESOLUTIONS, Aggregates, downsample_reader
from tsdb.storage.tiers.parquet import TierFile, forget_file, parse_file_name, write_tier_file

log = logging.getLogger("tsdb.tiers")

TIERS_DIRNAME = "tiers"

_ALL = slice(None)



class TierStore:
    """The tier files of one data directory; thread-safe."""

    def __init__(self, data_dir: Path, options: StorageOptions) -> None:
        self.root = data_dir / TIERS_DIRNAME
        self.options = options
        self._lock = threading.Lock()
        self._files: dict[str, list[TierFile]] = {name: [] for name in RESOLUTIONS}
        for name in RESOLUTIONS:
            directory = self.root / name
            if not directory.is_dir():
                continue
            for path in sorted(directory.iterdir()):
                if path.name.endswith(".tmp"):
                    path.unlink(missing_ok=True)  # a crash mid-write: never visible
                elif parse_file_name(path.name) is not None:
                    self._files[name].append(TierFile(path))
            self._files[name].sort(key=lambda f: f.mint)

    def files(self, name: str, mint: int | None = None, maxt: int | None = None) -> list[TierFile]:
        """Tier ``name``'s files (optionally those overlapping ``[mint, maxt]``), oldest first."""
        with self._lock:
            files = list(self._files[name])
        if mint is None or maxt is None:
            return files
        return [f for f in files if f.maxt >= mint and f.mint <= maxt]

    def size_bytes(self) -> int:
        return sum(f.size_bytes() for name in RESOLUTIONS for f in self.files(name))

    def covers(self, name: str, mint: int, maxt: int) -> bool:
        """Whether tier ``name``'s files together cover ``[mint, maxt]``."""
        reach = mint
        for f in self.files(name):
            if f.mint <= reach <= f.maxt:
                reach = f.maxt + 1
        return reach > maxt

    # -- scheduling -----------------------------------------------------------------------------------
    def maintain(self, blocks: list[Any], now_ms: int, stop: StopFlag | None = None) -> list[str]:
        """Downsample due blocks, drop expired tier files; returns what was done (for logs and tests).

        A set ``stop`` raises :class:`~tsdb.errors.MaintenanceInterruptedError` between tier files (and
        between series batches of one); files written before stay, a partial one is removed."""
        done: list[str] = []
        if not self.options.tiers_enabled:
            return done
        for name, after in (("5m", self.options.tier_5m_after_ms), ("1h", self.options.tier_1h_after_ms)):
            for block in blocks:
                mint, maxt = block.meta.min_time, block.meta.max_time
                if maxt >= now_ms - after or self.covers(name, mint, maxt):
                    continue
                check_stop(stop, "tier write")
                started = time.monotonic()
                agg = downsample_reader(block, mint, maxt, RESOLUTIONS[name], stop=stop)
                check_stop(stop, "tier write")
                path = write_tier_file(self.root / name, agg, RESOLUTIONS[name], mint, maxt)
                with self._lock:
                    replaced = [f for f in self._files[name] if f.mint >= mint and f.maxt <= maxt]
                    self._files[name] = sorted([f for f in self._files[name] if f not in replaced]
                                               + [TierFile(path)], key=lambda f: f.mint)
                for f in replaced:
                    forget_file(f.path)
                    if f.path != path:
                        f.path.unlink(missing_ok=True)
                log.info("tier written", extra={"tier": name, "mint": mint, "maxt": maxt, "rows": agg.num_rows,
                                                "series": len(agg.labels),
                                                "duration_s": round(time.monotonic() - started, 3)})
                done.append(f"{name}:{path.name}")
        horizon = now_ms - self.options.tier_retention_ms
        for name in RESOLUTIONS:
            with self._lock:
                expired = [f for f in self._files[name] if f.maxt < horizon]
                self._files[name] = [f for f in self._files[name] if f not in expired]
            for f in expired:
                forget_file(f.path)
                try:
                    f.path.unlink(missing_ok=True)
                except OSError as err:
                    raise StorageError(f"cannot delete expired tier file {f.path}: {err}") from err
                done.append(f"expired {name}:{f.path.name}")
        return done

    # -- reading --------------------------------------------------------------------------------------
    def select(self, name: str, matchers: list[Matcher], mint: int, maxt: int,
               columns: frozenset[str] | None = None) -> Aggregates:
        """Windows of matching series whose last sample lies in ``[mint, maxt]``, across files
        (``columns``: the value columns needed, see :data:`COLUMNS_FOR`)."""
        parts = [f.select(matchers, mint, maxt, columns) for f in self.files(name, mint, maxt)]
        parts = [p for p in parts if p.labels]
        if not parts:
            return Aggregates.empty()
        return parts[0] if len(parts) == 1 else merge_aggregates(parts)

    def label_sets(self, mint: int, maxt: int) -> set[Labels]:
        return {lb for name in RESOLUTIONS for f in self.files(name, mint, maxt) for lb in f.series()}



def merge_aggregates(parts: list[Aggregates]) -> Aggregates:
    """Rows of the same series from files of consecutive time ranges (given oldest first), by labels."""
    entries = sorted((tuple.__getitem__(lb, _ALL), p, i) for p, part in enumerate(parts)
                     for i, lb in enumerate(part.labels))
    labels: list[Labels] = []
    picks: list[list[np.ndarray]] = [[] for _ in parts]
    order: list[tuple[int, int]] = []  # (part, position in that part's pick list) in output order
    counts: list[int] = []
    for _, group in itertools.groupby(entries, key=lambda e: e[0]):
        members = list(group)
        labels.append(parts[members[0][1]].labels[members[0][2]])
        total = 0
        for _, p, i in members:
            lo, hi = int(parts[p].offsets[i]), int(parts[p].offsets[i + 1])
            picks[p].append(np.arange(lo, hi))
            order.append((p, len(picks[p]) - 1))
            total += hi - lo
        counts.append(total)
    columns: dict[str, list[np.ndarray]] = {name: [] for name in parts[0].columns()}
    for p, pos in order:
        rows = picks[p][pos]
        for name, col in parts[p].columns().items():
            if len(col):  # columns left out by the reader stay empty
                columns[name].append(col[rows])
    offsets = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    merged: dict[str, Any] = {name: np.concatenate(cols) if cols else np.zeros(0) for name, cols in columns.items()}
    return Aggregates(labels, offsets, **merged)
