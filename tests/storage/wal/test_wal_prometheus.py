"""Prometheus's own WAL, snappy-compressed as Prometheus 2.42 writes it by default, replays into our DB.

A real Prometheus receives a remote-written workload and is stopped (its samples are then only in its WAL:
no block was cut), and ``DB.open`` on a copy of its data directory serves every sample. The other way
round (promtool and Prometheus reading our compressed WAL) is in ``tests/storage/test_db_promtool.py``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tests.contracts.prometheus_peer import PrometheusPeer
from tests.needs import needs_binary
from tests.storage.dump import dump
from tsdb.config import StorageOptions
from tsdb.labels import Labels
from tsdb.storage.db import DB
from tsdb.storage.wal.reader import WALReader
from tsdb.storage.wal.segments import list_segments, parse_segment, segment_path

pytestmark = [pytest.mark.external, needs_binary("prometheus", package="prometheus")]


def test_db_replays_the_compressed_wal_prometheus_wrote(tmp_path: Path) -> None:
    now = int(time.time() * 1000) // 1000 * 1000
    series = []
    for i in range(30):
        ts = np.arange(now - 600_000, now, 15_000, dtype=np.int64)
        values = np.cumsum(np.full(len(ts), float(i + 1)))  # counters: compress well
        series.append((Labels({"__name__": "wal_test_total", "instance": f"host-{i}", "job": "wal"}), ts, values))
    with PrometheusPeer(tmp_path / "prom") as prom:
        prom.write(series)
    wal_dir = prom.data_dir / "wal"
    flagged = 0
    for index in list_segments(wal_dir):
        parsed = parse_segment(segment_path(wal_dir, index), 32 * 1024)
        flagged += int(parsed.rec_snappy.sum())
    assert flagged > 0, "Prometheus 2.42 compresses its WAL records by default"
    assert WALReader(wal_dir).repairs == []

    copy = tmp_path / "copy"
    shutil.copytree(prom.data_dir, copy, ignore=shutil.ignore_patterns("lock", "queries.active"))
    db = DB.open(copy, StorageOptions(tiers_enabled=False))
    try:
        got = dump(db)
    finally:
        db.close()
    for labels, ts, values in series:
        assert got[labels] == list(zip(ts.tolist(), values.view(np.uint64).tolist(), strict=True))
