"""Remote-write ingestion in-process: snappy body -> numba decode -> DB commit (fsync always), no HTTP.

Requests shaped like a Prometheus remote-write queue (``--series`` series x 1 sample each) are encoded
before timing; then decoded and committed one after the other on one thread, and from 4 threads at
once (group commit shares the WAL fsync), and last in shuffled order (as parallel queues deliver) when
an out-of-order window is set. Prints samples/s; never asserts.
``python -m benchmarks remote_write [--series 2000] [--requests 60] [--out-of-order-window-ms 7200000]``
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from tsdb.bench.workload import generate
from tsdb.config import StorageOptions
from tsdb.server.backend import Backend, store_write
from tsdb.server.remote_write import compress_snappy, decode_body, encode_write_request
from tsdb.storage.db import DB

END_MS = 1_700_000_000_000


def _bodies(work: object, n: int, steps: int, shift: int) -> list[bytes]:
    ts = work.ts.reshape(n, steps)  # type: ignore[attr-defined]
    values = work.values.reshape(n, steps)  # type: ignore[attr-defined]
    return [compress_snappy(encode_write_request([(work.labels[i], ts[i, c:c + 1] + shift,  # type: ignore[attr-defined]
                                                   values[i, c:c + 1]) for i in range(n)])) for c in range(steps)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks remote_write")
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--out-of-order-window-ms", type=int, default=0)
    args = parser.parse_args(argv)
    n, steps = args.series, args.requests
    work = generate(n, steps * 15_000, seed=1, end_ms=END_MS)
    first = _bodies(work, n, steps, 0)
    second = _bodies(work, n, steps, steps * 15_000)
    third = _bodies(work, n, steps, 2 * steps * 15_000)
    random.Random(1).shuffle(third)
    window = args.out_of_order_window_ms
    with tempfile.TemporaryDirectory() as tmp:
        db = DB.open(tmp, StorageOptions(out_of_order_window_ms=window))
        backend = Backend(queryable=db, appendable=db, engine=None, parse_matchers=None,  # type: ignore[arg-type]
                          format_query=None)  # type: ignore[arg-type]
        store_write(backend, decode_body(first[0], backend.labels_cache))  # creates the series
        started = time.perf_counter()
        for body in first[1:]:
            store_write(backend, decode_body(body, backend.labels_cache))
        one = (steps - 1) * n / (time.perf_counter() - started)
        with ThreadPoolExecutor(4) as pool:
            started = time.perf_counter()
            list(pool.map(lambda b: store_write(backend, decode_body(b, backend.labels_cache)), second))
            four = steps * n / (time.perf_counter() - started)
        shuffled = ""
        if window >= steps * 15_000:
            with ThreadPoolExecutor(4) as pool:
                started = time.perf_counter()
                results = list(pool.map(lambda b: store_write(backend, decode_body(b, backend.labels_cache)), third))
                rate = steps * n / (time.perf_counter() - started)
            rejected = sum(r.rejected_count for r in results)
            shuffled = f", {rate:,.0f} samples/s from 4 threads in shuffled order ({rejected} rejected)"
        db.close()
    print(f"decode + commit (fsync always), {n} series x 1 sample per request, out-of-order window {window} ms: "
          f"{one:,.0f} samples/s on one thread, {four:,.0f} samples/s from 4 threads{shuffled}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
