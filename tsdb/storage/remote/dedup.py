"""Replica deduplication of a query answer: series differing only in replica labels become one.

Each series loses its replica labels (``query.replica_labels``); series left with equal labels are
replicas of one, and their samples are merged by Thanos's penalty rule (see
:mod:`tsdb.storage.remote.dedup_kernels`): the replicas are folded in the order of their full label sets
(``replica="a"`` before ``replica="b"``), so the first replica is preferred and the next ones fill its gaps.
Series without any replica label pass unchanged (apart from the re-sort).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tsdb.labels import Labels
from tsdb.storage.interfaces import FlatSeries, TimestampArray, ValueArray
from tsdb.storage.remote.dedup_kernels import dedup_pair


def dedup_samples(replicas: Sequence[tuple[TimestampArray, ValueArray]]) -> tuple[TimestampArray, ValueArray]:
    """The samples of replicas of one series merged into one stream (first replica preferred)."""
    ts, values = replicas[0]
    for other_ts, other_values in replicas[1:]:
        out_ts = np.empty(len(ts) + len(other_ts), dtype=np.int64)
        out_values = np.empty(len(ts) + len(other_ts), dtype=np.float64)
        n = dedup_pair(np.ascontiguousarray(ts, np.int64), np.ascontiguousarray(values, np.float64),
                       np.ascontiguousarray(other_ts, np.int64), np.ascontiguousarray(other_values, np.float64),
                       out_ts, out_values)
        ts, values = out_ts[:n], out_values[:n]
    return ts, values


def dedup_flat(flat: FlatSeries, replica_labels: Sequence[str]) -> FlatSeries:
    """``flat`` (sorted by labels) with replicas merged into one series without the replica labels, sorted
    by the new labels. The arrays of ``flat`` are not modified."""
    if not replica_labels or not flat.labels:
        return flat
    drop = frozenset(replica_labels)
    if not any(name in drop for lb in flat.labels for name in lb.names()):
        return flat
    groups: dict[Labels, list[int]] = {}
    for i, lb in enumerate(flat.labels):
        groups.setdefault(lb.without(drop), []).append(i)
    labels: list[Labels] = []
    ts_parts: list[TimestampArray] = []
    value_parts: list[ValueArray] = []
    offsets = flat.offsets
    for key in sorted(groups):
        members = groups[key]
        parts = [(flat.ts[offsets[i]:offsets[i + 1]], flat.values[offsets[i]:offsets[i + 1]]) for i in members]
        ts, values = parts[0] if len(parts) == 1 else dedup_samples(parts)
        if len(ts):
            labels.append(key)
            ts_parts.append(ts)
            value_parts.append(values)
    out_offsets = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in ts_parts], out=out_offsets[1:])
    if not labels:
        return FlatSeries([], np.zeros(0, np.int64), np.zeros(0, np.float64), out_offsets)
    return FlatSeries(labels, np.concatenate(ts_parts), np.concatenate(value_parts), out_offsets)


def dedup_labels(label_sets: Sequence[Labels], replica_labels: Sequence[str]) -> list[Labels]:
    """Distinct label sets without the replica labels, sorted."""
    drop = frozenset(replica_labels)
    return sorted({lb.without(drop) for lb in label_sets} if drop else set(label_sets))
