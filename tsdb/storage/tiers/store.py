"""Downsampled tiers in a data directory: scheduling and retention.

``<data>/tiers/5m/`` and ``<data>/tiers/1h/`` hold Parquet tier files (:mod:`~tsdb.storage.tiers.parquet`),
one per raw block time range. :meth:`TierStore.maintain` (called from ``DB.maintain``) downsamples blocks
older than ``tier_5m_after`` / ``tier_1h_after`` that no tier file covers yet, and deletes tier files
older than ``tier_retention``. Blocks are read through their own queriers, so writes and queries are
never blocked. The read path is :mod:`~tsdb.storage.tiers.querier`. Deleted series (:meth:`TierStore.delete`)
are hidden from reads at once and physically removed by :meth:`TierStore.apply_deletions` (see
:mod:`~tsdb.storage.tiers.deletions`).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tsdb.config import StorageOptions
from tsdb.errors import StorageError
from tsdb.labels import Labels, Matcher, matches_all
from tsdb.storage.interrupt import StopFlag, check_stop
from tsdb.storage.tiers.deletions import Deletion, load_deletions, save_deletions
from tsdb.storage.tiers.downsample import ALL_SERIES, RESOLUTIONS, Aggregates, downsample_reader
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
        self._deletions: list[Deletion] = load_deletions(self.root)

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
        done += self.apply_deletions(blocks)
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
        parts = [f.select(matchers, mint, maxt, columns, self._deleted_in(name, f))
                 for f in self.files(name, mint, maxt)]
        parts = [p for p in parts if p.labels]
        if not parts:
            return Aggregates.empty()
        return parts[0] if len(parts) == 1 else merge_aggregates(parts)

    def label_sets(self, mint: int, maxt: int) -> set[Labels]:
        """Series in tier files overlapping ``[mint, maxt]``, less those a pending deletion removes from a
        file's whole range."""
        out: set[Labels] = set()
        for name in RESOLUTIONS:
            for f in self.files(name, mint, maxt):
                gone = [d for d in self._deleted_in(name, f) if d.mint <= f.mint and d.maxt >= f.maxt]
                out.update(lb for lb in f.series() if not any(matches_all(d.matchers, lb) for d in gone))
        return out

    # -- deletions ------------------------------------------------------------------------------------
    def _deleted_in(self, name: str, f: TierFile) -> list[Deletion]:
        key = f"{name}/{f.path.name}"
        with self._lock:
            return [d for d in self._deletions if key in d.files]

    def pending_deletions(self) -> list[Deletion]:
        """Deletions not yet rewritten out of every tier file they hit."""
        with self._lock:
            return list(self._deletions)

    def delete(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> None:
        """Hide ``[mint, maxt]`` of matching series from every tier file now (persisted first); the
        files are rewritten without it by :meth:`apply_deletions`. Callers serialise with ``maintain``."""
        files = {f"{name}/{f.path.name}" for name in RESOLUTIONS for f in self.files(name, mint, maxt)
                 if any(matches_all(matchers, lb) for lb in f.series())}
        if not files:
            return
        with self._lock:
            pending = [*self._deletions, Deletion(list(matchers), mint, maxt, files)]
            save_deletions(self.root, pending)
            self._deletions = pending

    def apply_deletions(self, blocks: list[Any]) -> list[str]:
        """Rewrite every tier file with pending deletions: downsampled again from a raw block that still
        covers its range (exact: blocks honour tombstones), else without the windows touched. Returns what
        was rewritten. Callers serialise with ``maintain``."""
        done: list[str] = []
        for key in sorted({k for d in self.pending_deletions() for k in d.files}):
            name, _, file_name = key.partition("/")
            current = [f for f in self.files(name) if f.path.name == file_name]
            if current:
                self._rewrite(name, current[0], blocks)
                done.append(f"rewrote {key}")
            with self._lock:
                for d in self._deletions:
                    d.files.discard(key)
                pending = [d for d in self._deletions if d.files]
                save_deletions(self.root, pending)
                self._deletions = pending
        return done

    def _rewrite(self, name: str, f: TierFile, blocks: list[Any]) -> None:
        resolution = RESOLUTIONS[name]
        source = [b for b in blocks if b.meta.min_time <= f.mint and b.meta.max_time >= f.maxt]
        if source:
            agg = downsample_reader(source[0], f.mint, f.maxt - 1, resolution)
        else:
            agg = f.select(list(ALL_SERIES), f.mint, f.maxt, None, self._deleted_in(name, f))
        path = write_tier_file(self.root / name, agg, resolution, f.mint, f.maxt)
        forget_file(path)
        with self._lock:
            self._files[name] = [TierFile(path) if g is f else g for g in self._files[name]]



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
