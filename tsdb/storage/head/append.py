"""The head's Appender: buffer a batch, then validate -> WAL write -> WAL sync -> apply.

Validation and the WAL write happen under the head's lock and reserve an apply turn; the fsync runs
outside the lock (concurrent commits share one, see ``WAL.sync_to``); the apply runs in WAL order.

``commit`` resolves label sets to refs (one dict lookup per series, not per sample), validates every
sample in one kernel call without changing anything, hands the new series and the accepted samples to
``head.wal_write`` (if that raises, no sample is applied and the exception propagates; series created
for the batch stay in the table, harmless and garbage-collected by the next truncate), then applies the
accepted samples in a second kernel call. Invalid label sets reject their samples as "invalid_labels",
series refused by a series limit (``HeadState.set_limits``) under the limit's reason; the rest of the
batch is still stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels
from tsdb.storage.head import head_kernels as hk
from tsdb.storage.head.state import HeadState
from tsdb.storage.interfaces import CommitResult, TimestampArray, ValueArray

_I64 = np.dtype(np.int64)
_F64 = np.dtype(np.float64)


class HeadAppender:
    """Buffers ``append`` calls for one batch. One batch, one thread; end it with commit or rollback."""

    def __init__(self, head: HeadState) -> None:
        self._head = head
        self._labels: list[Labels] = []
        self._ts: list[TimestampArray] = []
        self._values: list[ValueArray] = []
        self._lengths: list[int] = []  # per append() call, not yet moved to _length_parts
        self._length_parts: list[npt.NDArray[np.int64]] = []
        self._known = head.known_ref_getter()

    def append(self, labels: Labels, ts: TimestampArray, values: ValueArray) -> int:
        """Buffer samples of one series; returns its ref if the series exists already, else 0.

        ``ts`` (int64 ms) and ``values`` (float64) must have equal lengths. Arrays of the right dtype are
        referenced, not copied (as the memory store does): do not modify them before ``commit``.
        """
        # identity checks on the dtype singletons: this runs once per series on the ingest path
        ts_arr = ts if type(ts) is np.ndarray and ts.dtype is _I64 else np.asarray(ts, dtype=np.int64)
        values_arr = (values if type(values) is np.ndarray and values.dtype is _F64
                      else np.asarray(values, dtype=np.float64))
        n = len(ts_arr) if ts_arr.ndim == 1 else -1
        if n < 0 or values_arr.ndim != 1 or len(values_arr) != n:
            raise InvalidArgumentError(f"series {labels}: timestamps {ts_arr.shape} and values "
                                       f"{values_arr.shape} must be 1-d arrays of equal length")
        self._labels.append(labels)
        self._ts.append(ts_arr)
        self._values.append(values_arr)
        self._lengths.append(n)
        return self._known(labels)

    def append_batch(self, labels_list: Sequence[Labels], offsets: npt.NDArray[np.int64], ts: TimestampArray,
                     values: ValueArray) -> None:
        """Buffer many series at once (columnar, as a decoded remote-write request).

        Series ``k`` has samples ``ts[offsets[k]:offsets[k+1]]``; ``offsets`` starts at 0 and has
        ``len(labels_list) + 1`` entries. The arrays are referenced until ``commit``, as in ``append``.
        """
        offsets = np.asarray(offsets, dtype=np.int64)
        if len(offsets) != len(labels_list) + 1 or len(ts) != len(values) or (
                len(offsets) and (offsets[0] != 0 or offsets[-1] != len(ts) or np.any(np.diff(offsets) < 0))):
            raise InvalidArgumentError(f"append_batch: offsets do not describe {len(labels_list)} series over "
                                       f"{len(ts)} timestamps and {len(values)} values")
        if self._lengths:
            self._length_parts.append(np.array(self._lengths, dtype=np.int64))
            self._lengths = []
        self._labels.extend(labels_list)
        self._ts.append(np.asarray(ts, dtype=np.int64))
        self._values.append(np.asarray(values, dtype=np.float64))
        self._length_parts.append(np.diff(offsets))

    def rollback(self) -> None:
        """Drop the buffered batch."""
        self._labels.clear()
        self._ts.clear()
        self._values.clear()
        self._lengths.clear()
        self._length_parts.clear()

    def commit(self) -> CommitResult:
        """Store the batch: WAL first (``head.wal_write``), then the head. See the module docstring."""
        labels_list, ts_parts, value_parts = self._labels, self._ts, self._values
        if self._lengths:
            self._length_parts.append(np.array(self._lengths, dtype=np.int64))
        parts = self._length_parts
        lengths = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.zeros(0, np.int64)
        self._labels, self._ts, self._values, self._lengths, self._length_parts = [], [], [], [], []
        if not labels_list:
            return CommitResult()
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ts = ts_parts[0] if len(ts_parts) == 1 else np.concatenate(ts_parts)
        values = value_parts[0] if len(value_parts) == 1 else np.concatenate(value_parts)
        head = self._head
        with head.lock:
            series_refs, new_series, invalid = head.get_or_create(labels_list)
            refs = series_refs if len(ts) == len(lengths) and (lengths == 1).all() else np.repeat(series_refs, lengths)
            status = np.zeros(len(ts), dtype=np.int8)
            valid = refs > 0
            if invalid:
                codes = np.zeros(len(series_refs), dtype=np.int8)
                for i, code in invalid:
                    codes[i] = code
                status[~valid] = (codes if refs is series_refs else np.repeat(codes, lengths))[~valid]
            if valid.all():
                status = head.run_append(refs, ts, values, apply=False)
            elif valid.any():
                status[valid] = head.run_append(refs[valid], ts[valid], values[valid], apply=False)
            accepted = (status == hk.OK) | (status == hk.OK_OOO)
            if accepted.all():
                acc_refs, acc_ts, acc_values = refs, ts, values
            else:
                acc_refs, acc_ts, acc_values = refs[accepted], ts[accepted], values[accepted]
            ticket = None
            if head.wal_write is not None and (new_series or len(acc_refs)):
                ticket = head.wal_write(new_series, acc_refs, acc_ts, acc_values)
            head.mark_logged(ref for ref, _ in new_series)
            turn = head.issue_turn()
        # durability outside the lock: concurrent commits share one fsync (group commit)
        try:
            if ticket is not None and head.wal_sync is not None:
                head.wal_sync(ticket)
        except BaseException:
            with head.apply_turn(turn):
                head.mark_unlogged(new_series)
            raise
        with head.apply_turn(turn):
            if len(acc_refs):
                # WAL order is apply order, so the verdicts equal replay's; the apply pass is authoritative
                # (a concurrent commit applied first may have made an accepted sample out of order)
                applied = head.run_append(acc_refs, acc_ts, acc_values, apply=True)
                if accepted.all():
                    status = applied
                else:
                    status[accepted] = applied
                if head.sample_listeners:
                    head.notify_samples(labels_list, offsets, ts, values, status)
        result = head.commit_result(status, offsets, labels_list.__getitem__, ts)
        if len(acc_ts):
            result.min_time = int(acc_ts.min())  # of the samples offered to the head: never later than the truth
        for listener in head.commit_listeners:
            listener(result)
        return result
