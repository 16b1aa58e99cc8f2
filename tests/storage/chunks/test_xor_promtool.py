"""External check: chunks written by Prometheus's own promtool are byte-identical to ours.

promtool turns an OpenMetrics file into TSDB blocks; we read the blocks' chunk segment files by hand
(magic 0x85BD40DD, version, padding; then per chunk: uvarint length | encoding byte | data | CRC32C),
decode every XOR chunk with our decoder, check the samples are exactly a run of the input series, and
re-encode them with our encoder expecting the very same bytes. The stored CRC32-Castagnoli is checked
with ``tsdb.storage.crc.crc32c``.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.needs import require_binary
from tsdb.storage.chunks.xor import XORChunk, decode_chunk, encode_chunk
from tsdb.storage.crc import crc32c

pytestmark = pytest.mark.external

PROMTOOL = shutil.which("promtool")
SEGMENT_MAGIC = 0x85BD40DD
T0_MS = 1_700_000_000_000
PROMETHEUS_NAN = np.uint64(0x7FF8000000000001).view(np.float64)  # value.NormalNaN


def _series() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A few varied series over 5 hours at ~15 s: counters, decimal gauges, constants, NaNs, big jumps."""
    rng = np.random.default_rng(7)
    n = 1200
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def times(k: int, jitter: int = 3) -> np.ndarray:
        # A per-series offset of 10k ms (jitter < 5 ms) keeps timestamps unique across series, so a chunk's
        # first timestamp names its series.
        return T0_MS + 10 * k + np.arange(n, dtype=np.int64) * 15_000 + rng.integers(-jitter, jitter + 1, n)

    out['http_requests_total{code="200"}'] = (times(1), np.cumsum(rng.poisson(30, n)).astype(np.float64))
    out['node_cpu_seconds_total{cpu="0",mode="idle"}'] = (times(2), np.cumsum(rng.integers(0, 1500, n)) / 100)
    out['node_load1{instance="a"}'] = (times(3), np.round(rng.random(n) * 4, 2))
    out['node_memory_bytes{instance="a"}'] = (times(4), (2**30 + rng.integers(-4096, 4096, n) * 1024) * 1.0)
    out['up{instance="a"}'] = (times(5, jitter=0), np.ones(n))
    values = rng.normal(0, 1e6, n)
    values[::17] = PROMETHEUS_NAN  # what Prometheus's text parser turns "NaN" into
    values[5] = -0.0
    values[6] = np.inf
    values[7] = -np.inf
    values[8] = 1e-300
    out['weird_gauge{kind="mixed"}'] = (times(6), values)
    # Irregular timestamps: gaps of minutes to an hour exercise the larger delta-of-delta buckets.
    gaps = rng.choice(np.array([1, 15_000, 15_001, 600_000, 3_599_999, 70_000]), n - 1)
    ts = T0_MS + 75 + np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64)
    keep = ts < T0_MS + n * 15_000
    out['lonely_gauge{kind="one"}'] = (np.array([T0_MS + 85], dtype=np.int64), np.array([42.0]))
    out['pair_gauge{kind="two"}'] = (np.array([T0_MS + 95, T0_MS + 15_095], dtype=np.int64), np.array([1.0, 2.5]))
    out['irregular_gauge{kind="gaps"}'] = (ts[keep], np.round(rng.random(int(keep.sum())) * 100, 3))
    return out


def _format_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _write_openmetrics(path: Path, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    lines = []
    for name, (ts, values) in series.items():
        metric = name.split("{", 1)[0]
        lines.append(f"# TYPE {metric} {'counter' if metric.endswith('_total') else 'gauge'}")
        if metric.endswith("_total"):
            lines[-1] = f"# TYPE {metric[:-len('_total')]} counter"
        for t, v in zip(ts.tolist(), values.tolist(), strict=True):
            lines.append(f"{name} {_format_value(v)} {t // 1000}.{t % 1000:03d}")
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


def _read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    x = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        x |= (b & 0x7F) << shift
        if b < 0x80:
            return x, pos
        shift += 7


def _read_segment(path: Path) -> list[tuple[int, bytes, int]]:
    """(encoding, data, stored crc) of every chunk in a chunk segment file."""
    buf = path.read_bytes()
    assert int.from_bytes(buf[0:4], "big") == SEGMENT_MAGIC, f"{path}: bad magic"
    assert buf[4] == 1, f"{path}: unknown segment version {buf[4]}"
    pos = 8
    chunks = []
    while pos < len(buf):
        length, pos = _read_uvarint(buf, pos)
        encoding = buf[pos]
        data = buf[pos + 1:pos + 1 + length]
        stored = int.from_bytes(buf[pos + 1 + length:pos + 5 + length], "big")
        chunks.append((encoding, data, stored))
        pos += 5 + length
    return chunks


@pytest.fixture(scope="module")
def promtool_chunks(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[tuple[int, bytes, int]]]:
    require_binary("promtool", package="prometheus")
    tmp = tmp_path_factory.mktemp("promtool")
    series = _series()
    src = tmp / "input.om"
    _write_openmetrics(src, series)
    out = tmp / "blocks"
    proc = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(src), str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    chunks = []
    for seg in sorted(out.glob("*/chunks/*")):
        chunks.extend(_read_segment(seg))
    assert chunks, f"promtool wrote no chunks: {proc.stdout} {proc.stderr}"
    return series, chunks


def test_promtool_chunk_crcs(promtool_chunks: tuple[dict, list[tuple[int, bytes, int]]]) -> None:
    _, chunks = promtool_chunks
    for encoding, data, stored in chunks:
        assert crc32c(bytes([encoding]) + data) == stored


def test_promtool_chunks_decode_and_reencode_identically(
    promtool_chunks: tuple[dict, list[tuple[int, bytes, int]]],
) -> None:
    series, chunks = promtool_chunks
    by_first_ts = {}
    for name, (ts, _) in series.items():
        for i, t in enumerate(ts.tolist()):
            by_first_ts[t] = (name, i)
    covered = dict.fromkeys(series, 0)
    for encoding, data, _ in chunks:
        assert encoding == XORChunk.ENCODING
        ts, values = decode_chunk(data)
        assert ts.shape[0] == XORChunk(data).num_samples > 0
        name, start = by_first_ts[int(ts[0])]
        want_ts, want_values = series[name]
        stop = start + ts.shape[0]
        assert ts.tolist() == want_ts[start:stop].tolist(), name
        assert values.view(np.uint64).tolist() == want_values[start:stop].view(np.uint64).tolist(), name
        assert encode_chunk(ts, values) == data, f"{name} samples {start}..{stop}: encoding differs"
        covered[name] += ts.shape[0]
    assert covered == {name: s[0].shape[0] for name, s in series.items()}
