"""Writing a generated workload into a DB the way benchmarks need it: through the appender in 2 h time
slices, with maintenance after each slice, so blocks are cut as the data arrives (as a live server would)."""

from __future__ import annotations

import time

import numpy as np

from tsdb.bench.progress import Progress
from tsdb.bench.workload import Workload
from tsdb.storage.db import DB

SLICE_MS = 2 * 3_600_000


def write_workload(db: DB, work: Workload, label: str, max_seconds: float, too_long: str,
                   interval_ms: int = 15_000) -> float:
    """Append every sample of ``work`` (``interval_ms`` apart) to ``db`` with a progress line ``label``;
    returns the seconds taken. Past ``max_seconds`` it stops with ``SystemExit(too_long)``."""
    steps = work.num_samples // work.num_series
    ts = work.ts.reshape(work.num_series, steps)
    values = work.values.reshape(work.num_series, steps)
    per = max(1, SLICE_MS // interval_ms)
    progress = Progress(label, work.num_samples)
    started = time.monotonic()
    for lo in range(0, steps, per):
        hi = min(steps, lo + per)
        offsets = np.arange(work.num_series + 1, dtype=np.int64) * (hi - lo)
        app = db.appender()
        app.append_batch(work.labels, offsets, np.ascontiguousarray(ts[:, lo:hi]).reshape(-1),
                         np.ascontiguousarray(values[:, lo:hi]).reshape(-1))
        app.commit()
        db.maintain(now_ms=int(ts[0, hi - 1]))
        progress.add(work.num_series * (hi - lo))
        if time.monotonic() - started > max_seconds:
            raise SystemExit(too_long)
    progress.close()
    return time.monotonic() - started
