"""A writer process for the kill -9 durability test.

``python -m tests.integration.durability_writer DIR START COUNT SERIES [maintain]`` appends batches
``START .. START+COUNT-1``; batch ``b`` writes value ``b`` at ``ts = b * 1000`` to ``SERIES`` series, then
commits and prints ``ack b`` (flushed) only after the commit returned. With ``maintain``, blocks span 20 s
of data and every 10th batch runs a maintenance (head persistence, compaction, tier writing, retention)
between ``maintain`` and ``maintained`` lines. It may be killed at any moment.
"""

from __future__ import annotations

import sys

import numpy as np

from tsdb.config import StorageOptions
from tsdb.labels import Labels
from tsdb.storage.db import DB

MAINTAINED = StorageOptions(wal_segment_bytes=256 << 10, block_range_ms=20_000, tier_5m_after_ms=60_000,
                            retention_ms=10**12)
"""Small blocks and early tiers, so that maintenance has work at every run."""


def main(argv: list[str]) -> int:
    directory, start, count, num_series = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    maintain = argv[4:] == ["maintain"]
    db = DB.open(directory, MAINTAINED if maintain else StorageOptions(wal_segment_bytes=256 << 10))
    labels = [Labels({"__name__": "durable", "series": str(i)}) for i in range(num_series)]
    for batch in range(start, start + count):
        appender = db.appender()
        for series in labels:
            appender.append(series, np.array([batch * 1000], np.int64), np.array([float(batch)]))
        result = appender.commit()
        if result.rejected_count:
            print(f"rejected {batch} {result.summary()}", flush=True)
            return 1
        print(f"ack {batch}", flush=True)
        if maintain and batch % 10 == 0:
            print("maintain", flush=True)
            db.maintain(now_ms=batch * 1000)
            print("maintained", flush=True)
    db.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
