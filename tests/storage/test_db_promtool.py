"""The DB's data directory against the real promtool (Prometheus 2.42), both ways.

promtool reads what ``DB`` persisted (blocks of several ranges, compaction level > 1), and ``DB.open``
serves blocks made by ``promtool tsdb create-blocks-from openmetrics`` merged with its own head.
Our WAL records are Prometheus's own (docs/format/wal.md), so ``promtool tsdb dump`` replays the WAL
(checkpoint and segments) of the live directory, and a real Prometheus serves a copy of it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from tests.needs import needs_binary
from tests.storage.block.test_block_promtool import _parse_dump, _promtool
from tests.storage.dump import dump
from tsdb.config import StorageOptions
from tsdb.labels import Labels
from tsdb.storage.block.meta import list_blocks
from tsdb.storage.db import DB

pytestmark = [
    pytest.mark.external,
    needs_binary("promtool", package="prometheus"),
]

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (2 * HOUR)  # aligned, as promtool aligns its blocks
SMALL = StorageOptions(block_range_ms=10_000, retention_ms=10**12, wal_segment_bytes=64 << 10)
Dump = dict[Labels, list[tuple[int, int]]]


def _bits(v: float) -> int:
    return int(np.float64(v).view(np.uint64))


def _db_dump(db: DB, mint: int = -(2**62), maxt: int = 2**62) -> Dump:
    """Every series with samples in ``[mint, maxt]`` as ``(ts, value bits)`` lists."""
    return dump(db, mint=mint, maxt=maxt)


def _promtool_dump(data_dir: Path) -> Dump:
    parsed = _parse_dump(_promtool("tsdb", "dump", str(data_dir)))
    return {lb: [(t, _bits(v)) for t, v in pts] for lb, pts in parsed.items()}


def _workload(seed: int, start: int, stop: int, step: int, n: int) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    """``n`` series with jittered timestamps in ``[start, stop)`` and mixed float values (no NaN)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        base = np.arange(start, stop, step, dtype=np.int64)
        ts = base + rng.integers(0, step // 2, len(base))
        values = rng.normal(size=len(ts)) * 10.0 ** (i % 5 - 2)
        if i % 3 == 0:
            values = np.cumsum(np.round(np.abs(values) * 100))  # a counter
        labels = Labels({"__name__": f"metric_{i % 2}", "instance": f"host-{i}:9100", "job": "node"})
        out.append((labels, ts, values))
    return out


def _write(db: DB, series: list[tuple[Labels, np.ndarray, np.ndarray]], per_commit: int) -> None:
    """Append the series in time order, ``per_commit`` samples of each series per commit."""
    longest = max(len(ts) for _, ts, _ in series)
    for lo in range(0, longest, per_commit):
        app = db.appender()
        for labels, ts, values in series:
            if lo < len(ts):
                app.append(labels, ts[lo:lo + per_commit], values[lo:lo + per_commit])
        app.commit()


def test_promtool_reads_what_the_db_persisted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    series = _workload(1, T0, T0 + 200_000, 1000, 6)
    db = DB.open(data, SMALL)
    try:
        _write(db, series, per_commit=7)
        db.maintain()
        assert len({b.meta.max_time - b.meta.min_time for b in db.blocks}) > 1, "several block ranges"
        assert any(b.meta.level > 1 for b in db.blocks), "compaction must have merged blocks"
        persisted_to = max(b.meta.max_time for b in db.blocks)  # exclusive
        expected = _db_dump(db, T0, persisted_to - 1)
        ulids = {b.ulid for b in db.blocks}
        total = sum(b.meta.stats.num_samples for b in db.blocks)
    finally:
        db.close()
    assert sum(len(v) for v in expected.values()) == total

    listing = _promtool("tsdb", "list", str(data))
    rows = {line.split()[0]: line.split() for line in listing.splitlines()[1:] if line.strip()}
    assert set(rows) == ulids
    assert sum(int(r[4]) for r in rows.values()) == total
    assert min(int(r[1]) for r in rows.values()) == T0
    assert max(int(r[2]) for r in rows.values()) == persisted_to
    analysis = _promtool("tsdb", "analyze", str(data))
    assert "Series: 6" in analysis

    persisted = tmp_path / "persisted"  # the blocks beside an empty WAL (see module docstring)
    (persisted / "wal").mkdir(parents=True)
    for block_dir in list_blocks(data):
        shutil.copytree(block_dir, persisted / block_dir.name)
    got = _promtool_dump(persisted)
    assert got == expected
    want = {lb: [(int(t), _bits(v)) for t, v in zip(ts, values, strict=True) if t < persisted_to]
            for lb, ts, values in series}
    assert got == want


def _split_write(data: Path) -> tuple[list[tuple[Labels, np.ndarray, np.ndarray]], int]:
    """Write a workload, persist part of it to blocks (checkpointing the WAL), then write more into the head.

    Returns the series written and the exclusive end of the persisted range; the DB is closed.
    """
    series = _workload(3, T0, T0 + 60_000, 1000, 4)
    first = [(lb, ts[ts < T0 + 40_000], v[ts < T0 + 40_000]) for lb, ts, v in series]
    rest = [(lb, ts[ts >= T0 + 40_000], v[ts >= T0 + 40_000]) for lb, ts, v in series]
    with DB.open(data, SMALL) as db:
        _write(db, first, per_commit=5)
        db.maintain()
        assert db.blocks, "part of the data must be in blocks"
        persisted_to = max(b.meta.max_time for b in db.blocks)
        _write(db, rest, per_commit=3)
    wal = data / "wal"
    assert any(p.name.startswith("checkpoint.") for p in wal.iterdir()), "a checkpoint must exist"
    return series, persisted_to


def test_promtool_dump_of_the_live_directory_with_its_wal(tmp_path: Path) -> None:
    """promtool replays our WAL (checkpoint + segments) beside our blocks: the dump is exactly what we wrote."""
    series, persisted_to = _split_write(tmp_path)
    want = {lb: [(int(t), _bits(v)) for t, v in zip(ts, values, strict=True)] for lb, ts, values in series}
    assert any(int(ts[-1]) >= persisted_to for _, ts, _ in series), "the WAL must hold samples past the blocks"
    assert _promtool_dump(tmp_path) == want


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return cast(dict[str, Any], json.loads(resp.read()))


@needs_binary("prometheus", package="prometheus")
def test_prometheus_serves_what_we_wrote_from_a_copy_of_our_directory(tmp_path: Path) -> None:
    """A real Prometheus opened on a copy of our closed data directory replays our WAL and serves our samples."""
    series, persisted_to = _split_write(tmp_path / "ours")
    data = tmp_path / "prometheus-data"
    shutil.copytree(tmp_path / "ours", data)
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    port = _free_port()
    exe = shutil.which("prometheus")
    assert exe is not None
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen([exe, f"--config.file={config}", f"--storage.tsdb.path={data}",
                             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "prometheus did not become ready within 60 s"
            time.sleep(0.2)
        end = max(int(ts[-1]) for _, ts, _ in series)
        query = urllib.parse.urlencode({"query": '{__name__=~"metric_.+"}[1h]', "time": f"{end / 1000:.3f}"})
        body = _get_json(f"{base}/api/v1/query?{query}")
    finally:
        proc.kill()
        proc.wait(timeout=30)
        log.close()
    assert body["status"] == "success" and body["data"]["resultType"] == "matrix"
    got = {Labels(r["metric"]): [(round(float(t) * 1000), _bits(float(v))) for t, v in r["values"]]
           for r in body["data"]["result"]}
    want = {lb: [(int(t), _bits(v)) for t, v in zip(ts, values, strict=True)] for lb, ts, values in series}
    assert got == want
    head_part = {lb: [p for p in pts if p[0] >= persisted_to] for lb, pts in want.items()}
    assert sum(map(len, head_part.values())) > 0 and all(
        p in got[lb] for lb, pts in head_part.items() for p in pts), "head samples (from our WAL) are served"


def _openmetrics(series: list[tuple[Labels, np.ndarray, np.ndarray]]) -> str:
    lines = []
    for metric in sorted({lb.metric_name for lb, _, _ in series}):
        lines.append(f"# TYPE {metric} gauge")
        for lb, ts, values in series:
            if lb.metric_name == metric:
                rest = ",".join(f'{n}="{v}"' for n, v in lb.items() if n != "__name__")
                lines.extend(f"{metric}{{{rest}}} {v!r} {t / 1000:.3f}"
                             for t, v in zip(ts.tolist(), values.tolist(), strict=True))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def test_db_serves_promtool_blocks_merged_with_its_head(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = _workload(2, T0, T0 + 3 * HOUR, 60_000, 4)  # two promtool blocks: [0, 2h) and [2h, 4h)
    new = _workload(5, T0 + 4 * HOUR, T0 + 5 * HOUR, 60_000, 5)  # the head; series 0-3 continue, 4 is new
    with DB.open(data) as db:
        _write(db, new, per_commit=11)
        head_before = _db_dump(db)

    om = tmp_path / "old.om"
    om.write_text(_openmetrics(old))
    made = tmp_path / "made"
    _promtool("tsdb", "create-blocks-from", "openmetrics", str(om), str(made))
    promtool_blocks = list_blocks(made)
    assert len(promtool_blocks) == 2
    for block_dir in promtool_blocks:  # dropped in while the DB is closed
        shutil.move(str(block_dir), str(data / block_dir.name))

    expected: Dump = {}
    for lb, ts, values in old + new:
        expected.setdefault(lb, []).extend(zip(ts.tolist(), values.view(np.uint64).tolist(), strict=True))
    with DB.open(data) as db:
        assert {b.ulid for b in db.blocks} == {d.name for d in promtool_blocks}
        assert _db_dump(db) == expected
        assert _db_dump(db, T0 + 4 * HOUR, 2**62) == head_before
        window = (T0 + 2 * HOUR - 600_000, T0 + 4 * HOUR + 600_000)  # across a block edge and the head
        assert _db_dump(db, *window) == {lb: [p for p in pts if window[0] <= p[0] <= window[1]]
                                         for lb, pts in expected.items()
                                         if any(window[0] <= p[0] <= window[1] for p in pts)}
        samples = sum(len(ts) for _, ts, _ in old)
        assert sum(b.meta.stats.num_samples for b in db.blocks) == samples
