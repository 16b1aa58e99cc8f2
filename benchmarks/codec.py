"""XOR chunk codec benchmark: batched encode/decode samples/s and bytes/sample on the realistic workload.

Chunks are cut per series with :func:`tsdb.storage.chunks.xor.chunk_offsets_many` (120 target, 240 max, 1 KiB),
then all chunks are encoded in one call and decoded in one call (one thread), after a warm-up run,
best of ``--repeat`` runs. The pure-Python reference runs on a small slice of the same chunks; its
rate is reported alongside with the speed-up. Also prints CRC32-Castagnoli throughput over the
encoded bytes. Never asserts times; it does check the round trip is bit-exact.

Run: ``python -m benchmarks codec [--json] [--series 1000] [--hours 24]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tsdb.bench.workload import generate
from tsdb.storage.chunks.xor import chunk_offsets_many, decode_chunks, encode_chunks
from tsdb.storage.crc import crc32c

HOUR_MS = 3_600_000


def _best(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``repeat`` runs of ``fn`` (after one warm-up run)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _reference_rates(ts: np.ndarray, values: np.ndarray, offsets: np.ndarray, data: np.ndarray,
                     chunk_offs: np.ndarray, max_samples: int) -> tuple[float, float, int]:
    """(encode, decode) samples/s of the pure-Python reference on the first chunks (about max_samples)."""
    from tests.reference.xor import decode_ref, encode_ref

    k = max(1, int(np.searchsorted(offsets, max_samples, side="right")) - 1)
    vbits = values.view(np.uint64)
    n = int(offsets[k])
    start = time.perf_counter()
    for i in range(k):
        encode_ref(ts[offsets[i]:offsets[i + 1]], vbits[offsets[i]:offsets[i + 1]])
    enc = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(k):
        decode_ref(data[chunk_offs[i]:chunk_offs[i + 1]].tobytes())
    dec = time.perf_counter() - start
    return n / enc, n / dec, n


def run(series: int, hours: float, repeat: int, seed: int, ref_samples: int) -> list[dict[str, Any]]:
    """Measure and return result records (one dict per figure)."""
    w = generate(series, int(hours * HOUR_MS), seed=seed, end_ms=1_700_000_000_000)
    offsets = chunk_offsets_many(w.ts, w.values, w.offsets)
    n = w.num_samples

    data, chunk_offs = encode_chunks(w.ts, w.values, offsets)
    ts_back, values_back, _ = decode_chunks(data, chunk_offs)
    if not (np.array_equal(ts_back, w.ts) and np.array_equal(values_back.view(np.uint64), w.values.view(np.uint64))):
        raise AssertionError("codec round trip is not bit-exact")

    enc_s = _best(lambda: encode_chunks(w.ts, w.values, offsets), repeat)
    dec_s = _best(lambda: decode_chunks(data, chunk_offs), repeat)
    crc_s = _best(lambda: crc32c(data), repeat)
    ref_enc, ref_dec, ref_n = _reference_rates(w.ts, w.values, offsets, data, chunk_offs, ref_samples)

    common = {"benchmark": "codec", "series": series, "hours": hours, "samples": n, "chunks": len(offsets) - 1}
    return [
        {**common, "metric": "encode_samples_per_s", "value": n / enc_s, "reference": ref_enc,
         "speedup": n / enc_s / ref_enc, "reference_samples": ref_n},
        {**common, "metric": "decode_samples_per_s", "value": n / dec_s, "reference": ref_dec,
         "speedup": n / dec_s / ref_dec, "reference_samples": ref_n},
        {**common, "metric": "bytes_per_sample", "value": data.shape[0] / n},
        {**common, "metric": "crc32c_bytes_per_s", "value": data.shape[0] / crc_s},
    ]


def _human(rec: dict[str, Any]) -> str:
    metric, value = rec["metric"], rec["value"]
    if metric.endswith("samples_per_s"):
        return (f"{metric.replace('_samples_per_s', ''):>7}: {value / 1e6:8.1f} M samples/s   "
                f"(reference {rec['reference'] / 1e3:.1f} k samples/s on {rec['reference_samples']} samples, "
                f"x{rec['speedup']:.0f})")
    if metric == "bytes_per_sample":
        return f"  bytes: {value:8.3f} per sample ({rec['samples']} samples, {rec['chunks']} chunks)"
    return f"crc32c: {value / 2**20:8.0f} MiB/s"


def main(argv: list[str]) -> int:
    """Parse arguments, run, print human lines or JSON lines."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks codec", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (best is kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ref-samples", type=int, default=20_000, help="samples for the pure-Python reference")
    args = parser.parse_args(argv)
    records = run(args.series, args.hours, args.repeat, args.seed, args.ref_samples)
    for rec in records:
        print(json.dumps(rec) if args.json else _human(rec))
    return 0
