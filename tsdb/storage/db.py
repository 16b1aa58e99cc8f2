"""The database: one data directory with a WAL, the head and persistent blocks.

``DB.open`` takes the directory lock, loads blocks, replays the WAL (checkpoint, then segments) into
the head, and opens the WAL for writing. Appenders write WAL records before the head sees a batch
(``commit`` acknowledges only durable data). ``querier`` merges blocks and head. ``maintain`` (called
by the server's background loop, or by hand) persists the head's oldest range as a block once the head
spans 1.5 block ranges, checkpoints and truncates the WAL, merges blocks, writes tiers and applies
retention. Blocks still read by a querier are deleted only after it closes.

A block that cannot be opened, or whose chunks or index turn out corrupt when read (a checksum mismatch, an
out-of-range reference, an undecodable chunk), is quarantined: taken out of the served set, moved to
``quarantine/<ULID>``, logged (``block quarantined``) and counted in :attr:`DB.quarantined`. The read that
found the corruption fails with a :class:`CorruptionError` naming the block; queries started afterwards
are answered from the other blocks. Compaction, tier writing, deletion and tombstone cleaning that hit a
corrupt block quarantine it and carry on with the rest.

Maintenance stages (:data:`MAINTENANCE_STAGES`) are independent: a stage that fails (a full disk while
persisting the head) is logged and counted, and the later ones still run, so retention frees space even
when nothing new can be written; the next ``maintain`` retries. ``close`` (and ``stop_maintenance``) make
a running maintenance give up at its next safe point, discarding partial output: the WAL and the source
blocks still hold everything acknowledged, and the work is redone later.

Thread-safety: appenders and queriers may run on many threads; ``maintain`` and ``delete`` serialise
on the DB lock.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from tsdb.config import StorageOptions, parse_duration_ms
from tsdb.errors import CorruptionError, MaintenanceInterruptedError, StorageError
from tsdb.labels import Labels, Matcher
from tsdb.storage.block.meta import BlockMeta, list_blocks
from tsdb.storage.block.reader import Block, delete_released
from tsdb.storage.compact.compactor import merge_blocks, persist_head_range, rewrite_block
from tsdb.storage.compact.plan import BlockSpan, expired_by_size, expired_by_time, plan_compaction
from tsdb.storage.dirlock import DirLock
from tsdb.storage.head.append import HeadAppender
from tsdb.storage.head.head import Head
from tsdb.storage.interfaces import RECENT_WRITE_WINDOW_MS, CommitResult, Querier, TimestampArray, ValueArray
from tsdb.storage.interrupt import StopFlag
from tsdb.storage.merge import MergeQuerier
from tsdb.storage.metadata import MetadataStore
from tsdb.storage.snapshot import link_tree, write_head_block
from tsdb.storage.tiers.downsample import RESOLUTIONS
from tsdb.storage.tiers.querier import TieredQuerier
from tsdb.storage.tiers.store import TIERS_DIRNAME, TierStore
from tsdb.storage.wal import records
from tsdb.storage.wal.checkpoint import create_checkpoint, replay
from tsdb.storage.wal.repair import RepairReport
from tsdb.storage.wal.writer import WAL

log = logging.getLogger("tsdb.db")

WAL_DIRNAME = "wal"
QUARANTINE_DIRNAME = "quarantine"
"""Where blocks that cannot be opened, or whose chunks or index fail when read, are moved aside."""

MAINTENANCE_STAGES = ("head", "compaction", "tiers", "retention")
"""The stages of ``DB.maintain`` in order: head persistence (with the WAL checkpoint), block compaction,
tier writing, retention (with deleting released blocks)."""

WRITERS_WINDOW_S = 5
"""Series written in the last this many seconds tell where the writers are."""
MAX_HEAD_RANGES = 24
"""A head range is persisted once the head spans this many block ranges beyond it, wherever the writers are
(two days by default): a writer that far behind the newest data gets its samples refused (out of bounds)."""
_NO_FRONT = 2**63 - 1
_COMPACTION_STAGES = ("head", "compaction")  # what ``compactions_failed`` counts, as Prometheus does


class OutsideBlocks(Protocol):
    """Blocks the DB reads besides its own: object storage (:class:`tsdb.storage.bucket.store.BucketBlocks`,
    a later stage than the DB, hence this seam)."""

    def queriers(self, mint: int, maxt: int, local: Sequence[BlockMeta], local_mint: int) -> Sequence[Querier]:
        """Queriers over ``[mint, maxt]`` of the blocks whose data ``local`` blocks do not hold, oldest first;
        ``local_mint`` is the head's oldest time."""
        ...

    def min_time(self) -> int:
        """The oldest time these blocks cover (a large number when there are none)."""
        ...


@dataclass
class MaintenanceReport:
    """What one ``DB.maintain`` run did: ``failed`` maps each failed stage to its error; ``interrupted``
    says a stop request ended the run early (the remaining work is redone later)."""

    failed: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """Every stage ran and none failed."""
        return not self.failed and not self.interrupted


class DB:
    """An open data directory. Implements ``Appendable`` and ``Queryable``. Use :meth:`open`."""

    def __init__(self, path: Path, options: StorageOptions, lock: DirLock) -> None:
        self.path = path
        self.options = options
        self._lock = lock
        self._mutex = threading.RLock()
        self._maintaining = threading.Lock()
        self.blocks: list[Block] = []
        self._doomed: list[Block] = []
        self.head = Head(chunk_range=options.block_range_ms, chunk_samples=options.chunk_target_samples,
                         out_of_order_window=options.out_of_order_window_ms)
        self.wal: WAL | None = None
        self.tiers: TierStore | None = None
        self.replay_stats: dict[str, Any] = {}
        self.metadata = MetadataStore()
        """Metric metadata received (scrapes, remote-write, collectors); in memory, resent by its sources."""
        self.repairs: list[RepairReport] = []
        """What ``open(..., repair=True)`` dropped from the WAL (empty when nothing was repaired)."""
        self._closed = False
        self._generation = 0
        self.head.commit_listeners.append(self._note_commit)
        self._stop = StopFlag()
        self._wakeup = threading.Event()  # a head range became due, or maintenance is being stopped
        self._writers_lock = threading.Lock()
        self._written_at = np.zeros(0, dtype=np.int64)  # per series ref: monotonic second of its last write
        self._writers_front = _NO_FRONT  # see _writers_low
        self._front_second = -1  # when _writers_front was last computed
        self._checkpoint_due: int | None = None  # a WAL checkpoint that failed, retried by the head stage
        self.maintenance_failures: dict[str, int] = dict.fromkeys(MAINTENANCE_STAGES, 0)
        """Failed maintenance stages since open, by stage."""
        self.compactions_failed = 0
        """Failed head persistences and block compactions since open."""
        self.quarantined: list[str] = []
        """ULIDs of the blocks moved to ``quarantine/`` since open: at open because they could not be opened,
        later because reading their chunks or index found corruption."""
        self.last_maintenance_success = 0.0
        """Unix time (s) when a maintenance last ran every stage without failure; 0 = not yet."""
        self.bucket_blocks: OutsideBlocks | None = None
        """Blocks read from object storage besides the local ones (docs/object-storage.md); set by the server."""

    # -- lifecycle ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, options: StorageOptions | None = None, repair: bool = False) -> DB:
        """Open or create the data directory ``path`` (see module docstring)."""
        options = options or StorageOptions()
        directory = Path(path)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StorageError(f"cannot create data directory {directory}: {err}") from err
        lock = DirLock(directory)
        db = cls(directory, options, lock)
        try:
            db._load_blocks()
            if options.tiers_enabled:
                db.tiers = TierStore(directory, options)
            db._replay(repair)
            fsync = options.wal_fsync
            db.wal = WAL.open(directory / WAL_DIRNAME, segment_size=options.wal_segment_bytes,
                              fsync=fsync if fsync in ("always", "never") else parse_duration_ms(fsync) / 1000,
                              compression=options.wal_compression)
            db.head.wal_write = db._wal_write
            db.head.wal_sync = db.wal.sync_to
        except BaseException:
            db._release()
            raise
        return db

    def _load_blocks(self) -> None:
        blocks = []
        for path in list_blocks(self.path, remove_tmp=True):
            try:
                blocks.append(self._open_block(path))
            except (CorruptionError, FileNotFoundError) as err:  # one bad block must not stop the rest
                self._quarantine(path, err)
        self.blocks = sorted(blocks, key=lambda b: b.meta.mint)
        if self.blocks:
            # samples at or before the newest persisted time are out of bounds for the head
            self.head.truncate(max(b.meta.max_time for b in self.blocks))

    def _open_block(self, path: Path) -> Block:
        """Open a block that reports corruption found while reading it to this DB (which quarantines it)."""
        block = Block.open(path)
        block.on_corruption = self._corrupted_at_read
        return block

    def _quarantine(self, path: Path, err: Exception, found: str = "open") -> Path:
        """Move a block directory to ``quarantine/`` (kept for inspection, never read again), log it and
        count it; ``found`` says when the corruption was found (``open`` or ``read``). Returns the new path."""
        target = self.path / QUARANTINE_DIRNAME / path.name
        target.parent.mkdir(exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        path.rename(target)
        self.quarantined.append(path.name)
        log.error("block quarantined", extra={"block": path.name, "found_at": found, "error": str(err),
                                              "moved_to": str(target)})
        return target

    def _corrupted_at_read(self, block: Block, err: CorruptionError) -> bool:
        """Take a served block whose chunks or index failed when read out of service and quarantine it.

        Safe with concurrent readers: the block leaves the served set under the DB lock (queriers opened
        later do not see it), refuses new readers, and its files stay mapped until the queriers already
        holding it close (a rename does not disturb them). Returns False when the block was no longer
        served (already quarantined, compacted away or retired): nothing to do."""
        with self._mutex:
            if self._closed or not any(b is block for b in self.blocks):
                return False
            self.blocks = [b for b in self.blocks if b is not block]
            self._changed_past()  # cached results computed with the block are stale
            block.close()
            try:
                block.dir = self._quarantine(block.dir, err, found="read")
            except OSError as move_err:  # not served until a restart, which reads (and finds) it again
                self.quarantined.append(block.ulid)
                log.error("block quarantined but not moved", extra={"block": block.ulid, "error": str(err),
                                                                    "move_error": str(move_err)})
        return True

    def _serves(self, block: Block) -> bool:
        """Whether ``block`` is still in the served set (not quarantined, compacted away or retired)."""
        with self._mutex:
            return any(b is block for b in self.blocks)

    def _replay(self, repair: bool) -> None:
        started = time.monotonic()
        series = samples = dropped = tombstones = 0
        reports: list[RepairReport] = []
        for record in replay(self.path / WAL_DIRNAME, repair=repair, reports=reports):
            if isinstance(record, records.SeriesRecord):
                self.head.replay_series(record.refs.tolist(), record.labels)
                series += len(record.labels)
            elif isinstance(record, records.SamplesRecord):
                result = self.head.replay_samples(record.refs, record.ts, record.values)
                samples += result.accepted
                dropped += result.rejected_count
            elif isinstance(record, records.TombstonesRecord):
                for ref, mint, maxt in zip(record.refs.tolist(), record.mints.tolist(), record.maxts.tolist(),
                                           strict=True):
                    self.head.add_tombstones([ref], mint, maxt)
                tombstones += len(record.refs)
        elapsed = time.monotonic() - started
        self.repairs = reports
        self.replay_stats = {"series": series, "samples": samples, "dropped": dropped, "tombstones": tombstones,
                             "duration_s": round(elapsed, 3)}
        for report in reports:
            log.error("WAL repair on open dropped %d bytes from segment %d offset %d (%s); deleted segments %s",
                      report.dropped_bytes, report.segment, report.offset, report.reason,
                      list(report.deleted_segments))
        if series or samples:
            log.info("WAL replayed", extra=self.replay_stats)

    def close(self) -> None:
        """Close the WAL and blocks and release the directory lock. A running maintenance is stopped at its
        next safe point first (see :meth:`stop_maintenance`). Idempotent."""
        self._stop.set()
        with self._maintaining, self._mutex:
            if self._closed:
                return
            self._closed = True
            self._release()

    def _release(self) -> None:
        try:
            if self.wal is not None:
                self.wal.close()
        finally:
            for block in self.blocks + self._doomed:
                block.close()
            self._lock.release()

    def __enter__(self) -> DB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------
    def appender(self) -> HeadAppender:
        """A new appender; ``commit`` makes its batch durable in the WAL before it is visible."""
        return self.head.appender()

    def _wal_write(self, new_series: list[tuple[int, Labels]], refs: npt.NDArray[np.int64],
                   ts: TimestampArray, values: ValueArray) -> int | None:
        batch = []
        if new_series:
            batch.append(records.encode_series([r for r, _ in new_series], [lb for _, lb in new_series]))
        if len(refs):
            batch.append(records.encode_samples(refs, ts, values))
            self._mark_written(refs)
        if not batch:
            return None
        assert self.wal is not None
        return self.wal.log(*batch, sync=False)

    def delete(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> None:
        """Delete samples in ``[mint, maxt]`` of matching series (tombstones; data goes at compaction).

        Waits for a running maintenance, so a block being written cannot miss the tombstones."""
        with self._maintaining, self._mutex:
            refs = self.head.select_refs(matchers)
            if len(refs):
                assert self.wal is not None
                n = len(refs)
                self.wal.log(records.encode_tombstones(refs, np.full(n, mint, np.int64), np.full(n, maxt, np.int64)))
                self.head.add_tombstones(refs.tolist(), mint, maxt)
            for block in list(self.blocks):
                if block.meta.mint <= maxt and block.meta.maxt >= mint:
                    try:
                        block.delete(matchers, mint, maxt)
                    except CorruptionError:
                        if self._serves(block):
                            raise
                        # quarantined: its data is no longer served, so nothing of it is left to delete
            if self.tiers is not None:
                self.tiers.delete(matchers, mint, maxt)
            self._changed_past()

    def clean_tombstones(self) -> list[str]:
        """Rewrite every block with tombstones without the deleted data (a block left empty is removed),
        and the tier files with pending deletions; returns the ULIDs of the blocks rewritten. Head tombstones
        go when the head is persisted. Waits for a running maintenance."""
        rewritten = []
        with self._maintaining:
            with self._mutex:
                if self._closed:
                    raise StorageError("database is closed")
                targets = [b for b in self.blocks if b.tombstones().total()]
            for old in targets:  # queries go on reading the old block meanwhile
                try:
                    ulid = rewrite_block(self.path, old, self.options.chunk_target_samples)
                except CorruptionError:
                    if self._serves(old):
                        raise
                    continue  # quarantined while read: the others are still cleaned
                with self._mutex:
                    new = [self._open_block(self.path / ulid)] if ulid is not None else []
                    self.blocks = sorted([b for b in self.blocks if b is not old] + new, key=lambda b: b.meta.mint)
                    self._retire([old])
                rewritten.append(old.ulid)
                log.info("tombstones cleaned", extra={"block": old.ulid, "new_block": ulid or ""})
            if self.tiers is not None:
                with self._mutex:
                    blocks = list(self.blocks)
                self.tiers.apply_deletions(blocks)
        return rewritten

    def snapshot(self, directory: str | Path, with_head: bool = True) -> None:
        """Write a consistent snapshot into ``directory``: hard links of every block and tier file and,
        with ``with_head``, the head's samples as one more block (:mod:`tsdb.storage.snapshot`). Waits for a
        running maintenance; writes and queries go on, and no block is deleted while it is linked."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        head_querier = None
        with self._maintaining, self._mutex:
            if self._closed:
                raise StorageError("database is closed")
            for block in self.blocks:
                link_tree(block.dir, target / block.ulid)
            if self.tiers is not None and self.tiers.root.is_dir():
                link_tree(self.tiers.root, target / TIERS_DIRNAME)
            if with_head:
                # a reader of the head as it is now: truncation waits for it, so nothing moves away
                head_querier = self.head.querier(-(2**62), self.head.max_time)
        if head_querier is not None:
            try:
                write_head_block(target, head_querier, self.options.chunk_target_samples)
            finally:
                head_querier.close()

    @property
    def data_generation(self) -> int:
        """Grows whenever data older than :data:`RECENT_WRITE_WINDOW_MS` may have changed: samples written
        that far back, deletions, retention (query result caches drop what they computed before)."""
        return self._generation

    def _changed_past(self) -> None:
        self._generation += 1

    def _note_commit(self, result: CommitResult) -> None:
        if result.min_time is None:
            return
        if result.min_time <= time.time() * 1000 - RECENT_WRITE_WINDOW_MS:
            self._changed_past()
        if not self._wakeup.is_set() and self._due_head_range(fresh=False) is not None:
            self._wakeup.set()  # a backfill fills the head fast: persist it now, not at the next interval

    def _mark_written(self, refs: npt.NDArray[np.int64]) -> None:
        second = int(time.monotonic())
        top = int(refs.max())
        with self._writers_lock:
            if top >= len(self._written_at):
                grown = np.full(max(top + 1, 2 * len(self._written_at), 1024), -_NO_FRONT, dtype=np.int64)
                grown[:len(self._written_at)] = self._written_at
                self._written_at = grown
            self._written_at[refs] = second

    def _writers_low(self, fresh: bool = True) -> int:
        """Where the writers are: the oldest of the newest samples of the series written in the last
        :data:`WRITERS_WINDOW_S` seconds (so a backfill's series count, not only the series of a collector
        writing at the current time); the last such figure when nothing was written since, none (int64 max)
        before the first write. Without ``fresh`` a figure up to a second old may be returned (commits ask
        on every write; maintenance asks for a fresh one)."""
        now = int(time.monotonic())
        with self._writers_lock:
            if not fresh and self._front_second == now:
                return self._writers_front
            self._front_second = now
            recent = np.flatnonzero(self._written_at > now - WRITERS_WINDOW_S)
        # the head's lock is taken outside ours: commits take ours while holding the head's
        front = self.head.oldest_newest_sample(recent) if len(recent) else None
        with self._writers_lock:
            if front is not None:
                self._writers_front = front
            return self._writers_front

    # -- reading ------------------------------------------------------------------------------
    def querier(self, mint: int, maxt: int) -> TieredQuerier:
        """A read view over ``[mint, maxt]`` merging overlapping blocks (oldest first) and the head, with
        the downsampled tiers for aggregate requests (see :class:`~tsdb.storage.tiers.store.TieredQuerier`)."""
        raw = self.raw_querier(mint, maxt)  # first: it lists the bucket when that was not done yet
        with self._mutex:
            raw_mint = min([b.meta.min_time for b in self.blocks] + [self.head.min_time])
        if self.bucket_blocks is not None:
            raw_mint = min(raw_mint, self.bucket_blocks.min_time())
        return TieredQuerier(raw, self.tiers, mint, maxt, raw_mint, self.raw_querier)

    def raw_querier(self, mint: int, maxt: int) -> MergeQuerier:
        """A read view over ``[mint, maxt]`` of raw data only: overlapping blocks (oldest first) and the head,
        after the blocks in object storage the local ones do not hold (:attr:`bucket_blocks`)."""
        with self._mutex:
            queriers: list[Any] = []
            local = [b.meta for b in self.blocks]
            try:
                for block in self.blocks:
                    if block.meta.mint <= maxt and block.meta.maxt >= mint:
                        queriers.append(block.querier(mint, maxt))
                queriers.append(self.head.querier(mint, maxt))
            except BaseException:
                for q in queriers:
                    q.close()
                raise
        if self.bucket_blocks is not None:  # downloads happen outside the DB lock
            try:
                queriers[:0] = self.bucket_blocks.queriers(mint, maxt, local, self.head.min_time)
            except BaseException:
                for q in queriers:
                    q.close()
                raise
        return MergeQuerier(queriers)

    def truncate_head(self, before: int) -> None:
        """Drop head samples older than ``before`` (ms) and refuse later ones: they are persisted elsewhere
        (blocks shipped to object storage and removed here, whose samples a WAL replay brought back)."""
        with self._mutex:
            if before > self.head.truncated_before and self.head.readers.count_below(before) == 0:
                self.head.truncate(before)

    def drop_blocks(self, ulids: Sequence[str]) -> list[str]:
        """Stop serving the local blocks ``ulids`` (their data is in object storage) and delete them once no
        querier reads them; returns the ULIDs dropped (unknown ones are skipped). Waits for a maintenance."""
        wanted = set(ulids)
        with self._maintaining, self._mutex:
            gone = [b for b in self.blocks if b.ulid in wanted]
            if gone:
                self.blocks = [b for b in self.blocks if b.ulid not in wanted]
                self._changed_past()
                self._retire(gone)
        return [b.ulid for b in gone]

    # -- maintenance --------------------------------------------------------------------------
    def maintain(self, now_ms: int | None = None) -> MaintenanceReport:
        """Persist the head, compact blocks, write tiers, apply retention and delete released blocks.

        Each stage runs even when an earlier one failed; a failure is logged (naming the stage and the
        error) and counted, and the next call retries. Long writes (blocks, tier files) happen outside the
        DB lock where possible, so queries are not held up; one maintenance runs at a time. After
        :meth:`stop_maintenance` or ``close`` it does nothing (``interrupted``).
        """
        stages: list[tuple[str, Callable[[], None]]] = [
            ("head", self._persist_head), ("compaction", self._compact_blocks),
            ("tiers", lambda: self._write_tiers(now_ms)), ("retention", self._retention)]
        report = MaintenanceReport()
        with self._maintaining:
            for stage, run in stages:
                if self._closed or self._stop.is_set():
                    report.interrupted = True
                    break
                try:
                    run()
                except MaintenanceInterruptedError as err:
                    log.info("maintenance stopped; the rest is redone later", extra={"stage": stage,
                                                                                     "reason": str(err)})
                    report.interrupted = True
                    break
                except Exception as err:
                    self._stage_failed(stage, err)
                    report.failed[stage] = str(err)
            if report.ok:
                self.last_maintenance_success = time.time()
        return report

    def stop_maintenance(self) -> None:
        """Make a running maintenance give up at its next safe point (between blocks, chunk batches, tier
        files and series batches) and later ones do nothing. For shutdown: ``close`` then returns quickly.
        Partial output is removed (and never loaded: ``open`` removes ``.tmp`` leftovers). Wakes
        :meth:`wait_for_maintenance`."""
        self._stop.set()
        self._wakeup.set()

    def wait_for_maintenance(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a reason to maintain before the next interval: a commit made a head
        range due for persistence (the head spans 1.5 block ranges beyond it, as during a backfill) or
        :meth:`stop_maintenance` was called. Returns whether it was woken early."""
        woken = self._wakeup.wait(timeout_s)
        self._wakeup.clear()
        return woken

    def _stage_failed(self, stage: str, err: Exception) -> None:
        self.maintenance_failures[stage] += 1
        if stage in _COMPACTION_STAGES:
            self.compactions_failed += 1
        expected = isinstance(err, OSError)  # a full disk, permissions, I/O: no traceback on every retry
        log.error("maintenance stage failed; later stages still run, the next maintenance retries",
                  exc_info=not expected, extra={"stage": stage, "error": str(err),
                                                "error_type": type(err).__name__,
                                                "failures": self.maintenance_failures[stage]})

    def _persist_head(self) -> None:
        """Write due head ranges as blocks (oldest first), checkpointing the WAL after each. A failed range
        stays in the head (and the WAL) and is tried again by the next maintenance, as is a failed
        checkpoint (by the next range's, or on its own when no range is due)."""
        for _ in range(1_000_000):  # bounded: every pass hands a range over or stops
            self._stop.check("head persistence")
            with self._mutex:
                self._truncate_handed_over()
                span = self._due_head_range()
                if span is not None:
                    # freeze the range first: a late sample for it is now out of bounds, not lost
                    self.head.freeze_before(span[1])
            if span is None:
                if self._checkpoint_due is not None:
                    self._checkpoint(self._checkpoint_due)
                return
            mint, maxt = span
            ulid = persist_head_range(self.path, self.head, mint, maxt, self.options.chunk_target_samples,
                                      stop=self._stop)
            with self._mutex:
                if ulid is not None:
                    self.blocks.append(self._open_block(self.path / ulid))
                    self.blocks.sort(key=lambda b: b.meta.mint)
                self.head.hand_over(maxt)
                self._truncate_handed_over()
            self._checkpoint(maxt)  # reads and writes WAL files only: queries need not wait for it

    def _compact_blocks(self) -> None:
        """Merge blocks as planned; each merge is written outside the DB lock (queries read the sources
        meanwhile) and swapped in under it."""
        ranges = self.options.block_ranges()
        for _ in range(max(1, len(self.blocks))):  # every merge leaves at least one block fewer
            self._stop.check("compaction")
            with self._mutex:
                group = plan_compaction(self._spans(), ranges)
                ids = {s.ulid for s in group}
                sources = [b for b in self.blocks if b.ulid in ids]
            if not group:
                return
            try:
                ulid = merge_blocks(self.path, sources, self.options.chunk_target_samples, stop=self._stop)
            except CorruptionError:
                if all(self._serves(b) for b in sources):
                    raise
                continue  # a source was quarantined while read (no block was written): plan again without it
            with self._mutex:
                if not all(any(b is s for b in self.blocks) for s in sources):
                    # a source was quarantined after it was read: its data must not come back
                    shutil.rmtree(self.path / ulid, ignore_errors=True)
                    continue
                merged = self._open_block(self.path / ulid)
                self.blocks = sorted([b for b in self.blocks if b.ulid not in ids] + [merged],
                                     key=lambda b: b.meta.mint)
                self._retire(sources)

    def _write_tiers(self, now_ms: int | None) -> None:
        if self.tiers is None:
            return
        for _ in range(len(self.blocks) + 1):  # bounded: every retry follows a block's quarantine
            with self._mutex:
                blocks = list(self.blocks)
            # downsampling reads blocks through queriers: no lock needed (retention waits for readers)
            try:
                self.tiers.maintain(blocks, int(time.time() * 1000) if now_ms is None else now_ms, stop=self._stop)
                return
            except (CorruptionError, StorageError):
                if all(self._serves(b) for b in blocks):
                    raise
                # a block was quarantined while read (here or by a query): carry on with the others

    def _retention(self) -> None:
        """Delete expired blocks, then the released ones no querier reads. Needs no free space."""
        with self._mutex:
            self._apply_retention()
            self._reap()

    def _truncate_handed_over(self) -> None:
        """Drop from the head what blocks hold, once no reader opened before the hand-over is left (those
        still read it from the head: it is in no block they know of). Caller holds the DB lock."""
        floor = self.head.read_floor
        if floor > self.head.truncated_before and self.head.readers.count_below(floor) == 0:
            self.head.truncate(floor)

    def _due_head_range(self, fresh: bool = True) -> tuple[int, int] | None:
        """The oldest block range of the head not yet in a block once the head spans 1.5 block ranges beyond
        it (as Prometheus) and the writers have moved half a block range past it, else None.

        The second condition matters when old and new data arrive together (a backfill while the server's
        own collector writes at the current time): the newest sample says the range is old, but samples are
        still being written into it, and persisting it would refuse them (out of bounds). Past
        :data:`MAX_HEAD_RANGES` block ranges the range is due regardless, so that a writer stuck far in the
        past cannot keep the head growing. ``fresh``: see :meth:`_writers_low`."""
        size = self.options.block_range_ms
        head_min, head_max = max(self.head.min_time, self.head.read_floor), self.head.max_time
        if head_min > head_max or head_max - head_min <= size * 3 // 2:
            return None
        mint = head_min - head_min % size
        if mint + size + size // 2 > self._writers_low(fresh) and head_max - mint <= size * MAX_HEAD_RANGES:
            return None
        return mint, mint + size

    def _checkpoint(self, mint: int) -> None:
        """Fold the older two thirds of WAL segments into a checkpoint of live series and newer samples.
        If that fails or a stop interrupts it, it is retried by the next head stage or the next start's
        maintenance (the segments stay until it succeeds)."""
        assert self.wal is not None
        self._checkpoint_due = mint
        first, last = self.wal.segments()
        self.wal.next_segment()
        upto = first + (last - first + 1) * 2 // 3 if last > first else last
        if upto >= first:
            create_checkpoint(self.path / WAL_DIRNAME, first, upto, self.head.has_series, mint, stop=self._stop,
                              compression=self.options.wal_compression)
            self.wal.truncate(upto + 1)
        self._checkpoint_due = None

    def _spans(self) -> list[BlockSpan]:
        return [BlockSpan(b.ulid, b.meta.min_time, b.meta.max_time, b.size_bytes()) for b in self.blocks]

    def _apply_retention(self) -> None:
        spans = self._spans()
        expired = {s.ulid for s in expired_by_time(spans, self.options.retention_ms)}
        if self.options.retention_bytes:
            extra = self.wal_size_bytes
            expired |= {s.ulid for s in expired_by_size(spans, self.options.retention_bytes, extra)}
        if expired:
            gone = [b for b in self.blocks if b.ulid in expired]
            self.blocks = [b for b in self.blocks if b.ulid not in expired]
            self._changed_past()
            log.info("retention deleted blocks", extra={"blocks": ",".join(sorted(expired))})
            self._retire(gone)

    def _retire(self, blocks: list[Block]) -> None:
        for block in blocks:
            block.close()
        self._doomed.extend(blocks)
        self._reap()

    def _reap(self) -> None:
        """Delete retired blocks no querier holds any more."""
        self._doomed = delete_released(self._doomed)

    # -- figures ------------------------------------------------------------------------------
    @property
    def num_series(self) -> int:
        return self.head.num_series

    @property
    def wal_size_bytes(self) -> int:
        return self.wal.size_bytes if self.wal is not None else 0

    def status(self) -> dict[str, Any]:
        """``/api/v1/status/tsdb`` data: head stats and the top cardinality figures."""
        stats = self.head.stats()
        querier = self.head.querier(-(2**62), 2**62)
        try:
            names = querier.label_values("__name__")
            by_metric = sorted(((n, len(list(querier.select([Matcher("=", "__name__", n)])))) for n in names),
                               key=lambda item: -item[1])[:10]
            label_names = querier.label_names()
            by_label = sorted(((n, len(querier.label_values(n))) for n in label_names), key=lambda item: -item[1])[:10]
            pairs: dict[str, int] = {}
            for labels in querier.label_sets([Matcher("=~", "__name__", ".+")]):
                for name, value in labels.items():
                    pairs[f"{name}={value}"] = pairs.get(f"{name}={value}", 0) + 1
            by_pair = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:10]
        finally:
            querier.close()
        return {
            "headStats": {"numSeries": stats.num_series, "numLabelPairs": sum(c for _, c in by_label),
                          "chunkCount": stats.num_chunks, "minTime": stats.min_time if stats.num_series else 0,
                          "maxTime": stats.max_time if stats.num_series else 0},
            "seriesCountByMetricName": [{"name": n, "value": c} for n, c in by_metric],
            "labelValueCountByLabelName": [{"name": n, "value": c} for n, c in by_label],
            "memoryInBytesByLabelName": [],
            "seriesCountByLabelValuePair": [{"name": n, "value": c} for n, c in by_pair],
            **self.storage_status(),
        }

    def storage_status(self) -> dict[str, Any]:
        """The tsdb-specific part of ``/api/v1/status/tsdb``: ``blocks`` (oldest first: ulid, minTime,
        maxTime (exclusive), numSeries, numSamples, numChunks, level, sizeBytes), ``tiers`` (per resolution:
        files, minTime, maxTime, sizeBytes; empty without tiers) and ``walSizeBytes``."""
        with self._mutex:
            blocks = list(self.blocks)
        out_blocks = []
        for b in blocks:
            m = b.meta
            try:
                size = b.size_bytes()
            except OSError:  # removed by compaction meanwhile
                size = 0
            out_blocks.append({"ulid": b.ulid, "minTime": m.min_time, "maxTime": m.max_time,
                               "numSeries": m.stats.num_series, "numSamples": m.stats.num_samples,
                               "numChunks": m.stats.num_chunks, "level": m.level, "sizeBytes": size})
        tiers = []
        if self.tiers is not None:
            for name in RESOLUTIONS:
                files = self.tiers.files(name)
                tiers.append({"name": name, "files": len(files),
                              "minTime": min((f.mint for f in files), default=0),
                              "maxTime": max((f.maxt for f in files), default=0),
                              "sizeBytes": sum(f.size_bytes() for f in files)})
        return {"blocks": out_blocks, "tiers": tiers, "walSizeBytes": self.wal_size_bytes}
