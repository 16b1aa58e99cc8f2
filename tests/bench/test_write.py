"""Writing a benchmark workload in time slices: every sample lands, blocks are cut, the time bound holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tsdb.bench.workload import generate
from tsdb.bench.write import write_workload
from tsdb.config import StorageOptions
from tsdb.labels import Matcher
from tsdb.storage.db import DB

HOUR = 3_600_000


def test_every_sample_is_written_and_blocks_are_cut(tmp_path: Path) -> None:
    work = generate(20, 6 * HOUR, seed=1, end_ms=30 * HOUR)
    with DB.open(tmp_path / "data", StorageOptions(wal_fsync="never")) as db:
        write_workload(db, work, "writing", 600, "too long")
        querier = db.querier(0, 31 * HOUR)
        try:
            stored = sum(len(s.samples()[0]) for s in querier.select([Matcher("=~", "__name__", ".+")]))
        finally:
            querier.close()
        assert stored == work.num_samples
        assert db.blocks  # older slices were persisted as blocks while writing


def test_the_time_bound_stops_the_write(tmp_path: Path) -> None:
    work = generate(5, 4 * HOUR, seed=2, end_ms=10 * HOUR)
    with DB.open(tmp_path / "data", StorageOptions(wal_fsync="never")) as db, \
            pytest.raises(SystemExit, match="use fewer series"):
        write_workload(db, work, "writing", -1, "use fewer series")
