"""``kill -USR2`` makes a running server log what its memory is made of."""

from __future__ import annotations

import json
import os
import signal
import time
import tracemalloc
from pathlib import Path

from tests.integration.serve import ServeProcess
from tsdb.server.memory_report import memory_report


def test_a_report_counts_objects_arrays_and_traced_lines() -> None:
    import pyarrow as pa

    from tsdb.storage.chunks.xor import decode_chunks  # noqa: F401 - numba kernels loaded

    table = pa.table({"x": list(range(100_000))})  # held by Arrow's pool while the report is taken
    plain = memory_report(top=5)
    assert plain["rss_mib"] > 0 and plain["objects"] > 0 and len(plain["types"]) == 5
    assert "lines" not in plain
    assert plain["heap_mib"]["in_use"] > 0 and plain["arrow_pool_mib"] >= 0.7 and table.num_rows == 100_000
    assert isinstance(plain["compiled_kernels"], int)
    tracemalloc.start()
    try:
        import numpy as np
        keep = np.ones(1 << 20)  # 8 MiB held while the report is taken
        traced = memory_report(top=3)
    finally:
        tracemalloc.stop()
    assert traced["traced_mib"] >= 8 and len(traced["lines"]) == 3 and keep.sum() == 1 << 20
    assert any(size >= 8 for size in traced["lines"].values())  # the line that made the array


def test_sigusr2_logs_a_memory_report(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "data")
    try:
        os.kill(server.proc.pid, signal.SIGUSR2)
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and not line:
            line = next((x for x in server.log.read_text().splitlines() if "memory report" in x), "")
            time.sleep(0.2)
        assert line, server.log.read_text()[-2000:]
        record = json.loads(line)
        assert record["rss_mib"] > 0 and record["types"] and server.proc.poll() is None  # still serving
    finally:
        server.stop()
