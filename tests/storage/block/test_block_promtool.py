"""Blocks against the real promtool (Prometheus 2.42): it reads ours, and we read its."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.needs import needs_binary
from tsdb.labels import Labels, Matcher
from tsdb.storage.block.meta import list_blocks
from tsdb.storage.block.reader import Block
from tsdb.storage.block.writer import SeriesChunks, write_block, write_block_from_samples

pytestmark = [
    pytest.mark.external,
    needs_binary("promtool", package="prometheus"),
]

T0 = 1_700_000_000_000
_DUMP_LINE = re.compile(r"^(\{.*\}) (\S+) (-?\d+)$")
_LABEL = re.compile(r'([^\s=,{}"]+|"(?:[^"\\]|\\.)*")="((?:[^"\\]|\\.)*)"')


def _promtool(*args: str) -> str:
    exe = shutil.which("promtool")
    assert exe is not None
    proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"promtool {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def _unescape(s: str) -> str:
    return s.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def _parse_dump(text: str) -> dict[Labels, list[tuple[int, float]]]:
    out: dict[Labels, list[tuple[int, float]]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _DUMP_LINE.match(line)
        assert m, f"unexpected dump line {line!r}"
        labels = Labels((n.strip('"'), _unescape(v)) for n, v in _LABEL.findall(m.group(1)))
        out.setdefault(labels, []).append((int(m.group(3)), float(m.group(2))))
    return out


def _samples(seed: int) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(12):
        n = int(rng.integers(1, 400))
        ts = T0 + np.cumsum(rng.integers(1, 30_000, n)).astype(np.int64)
        values = rng.normal(size=n) * 10.0 ** int(rng.integers(-3, 6))
        if i % 4 == 0:
            values = np.round(values)  # integers compress differently
        if i == 5:
            values[::7] = np.inf
        labels = {"__name__": f"metric_{i % 3}", "instance": f"host-{i}:9100", "job": "node" if i % 2 else "api"}
        if i == 7:
            labels["path"] = 'a "quoted" \\ value'
        out.append((Labels(labels), ts, values))
    return out


def test_promtool_reads_our_block(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    series = _samples(1)
    ulid = write_block_from_samples(data_dir, series)
    (data_dir / "wal").mkdir()  # promtool opens the directory as a (read-only) DB
    listing = _promtool("tsdb", "list", str(data_dir))
    row = next(line.split() for line in listing.splitlines() if line.startswith(ulid))
    total = sum(len(ts) for _, ts, _ in series)
    assert int(row[1]) == min(int(ts[0]) for _, ts, _ in series)
    assert int(row[2]) == max(int(ts[-1]) for _, ts, _ in series) + 1
    assert int(row[4]) == total and int(row[6]) == len(series)
    analysis = _promtool("tsdb", "analyze", str(data_dir), ulid)
    assert f"Series: {len(series)}" in analysis
    dump = _parse_dump(_promtool("tsdb", "dump", str(data_dir)))
    assert set(dump) == {lb for lb, _, _ in series}
    for lb, ts, values in series:
        got = dump[lb]
        assert [t for t, _ in got] == ts.tolist()
        for (_, g), v in zip(got, values.tolist(), strict=True):
            assert g == v or (math.isnan(g) and math.isnan(v))


def test_we_read_promtool_blocks(tmp_path: Path) -> None:
    series = _samples(2)
    lines = []
    for lb, ts, values in series:
        name = lb.metric_name
        rest = ",".join(f'{n}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                        for n, v in lb.items() if n != "__name__")
        lines.append((name, rest, ts, values))
    text = []
    for metric in sorted({name for name, *_ in lines}):
        text.append(f"# TYPE {metric} gauge")
        for name, rest, ts, values in lines:
            if name == metric:
                text.extend(f"{name}{{{rest}}} {v!r} {t / 1000:.3f}" for t, v in zip(ts.tolist(), values.tolist(),
                                                                                     strict=True))
    text.append("# EOF")
    om = tmp_path / "input.om"
    om.write_text("\n".join(text).replace("inf", "+Inf") + "\n")
    out = tmp_path / "out"
    _promtool("tsdb", "create-blocks-from", "openmetrics", str(om), str(out))
    blocks = list_blocks(out)
    assert blocks
    got: dict[Labels, list[tuple[np.ndarray, np.ndarray]]] = {}
    for d in blocks:
        with Block.open(d) as block, block.querier(-(2**62), 2**62) as q:
            assert block.meta.version == 1 and block.meta.stats.num_series > 0
            for s in q.select([]):
                got.setdefault(s.labels, []).append(s.samples())
    assert set(got) == {lb for lb, _, _ in series}
    for lb, ts, values in series:
        parts = sorted(got[lb], key=lambda p: int(p[0][0]))
        got_ts = np.concatenate([p[0] for p in parts])
        got_values = np.concatenate([p[1] for p in parts])
        assert np.array_equal(got_ts, ts)
        assert np.array_equal(got_values.view(np.uint64), values.view(np.uint64))


def test_promtool_honours_our_tombstones(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    series = _samples(3)
    ulid = write_block_from_samples(data_dir, series)
    (data_dir / "wal").mkdir()
    victim, ts, _ = series[4]
    lo, hi = int(ts[len(ts) // 4]), int(ts[len(ts) // 2])
    with Block.open(data_dir / ulid) as block:
        assert block.delete([Matcher("=", "instance", victim["instance"])], lo, hi) == 1
    dump = _parse_dump(_promtool("tsdb", "dump", str(data_dir)))
    expected = [t for t in ts.tolist() if t < lo or t > hi]
    assert [t for t, _ in dump.get(victim, [])] == expected
    for lb, other_ts, _ in series:
        if lb != victim:
            assert [t for t, _ in dump[lb]] == other_ts.tolist()


def test_our_writer_is_byte_identical_to_prometheus(tmp_path: Path) -> None:
    """Rewriting a promtool-made block's series and chunks with our writer reproduces every file exactly."""
    series = _samples(4)
    om = tmp_path / "input.om"
    lines = []
    for metric in sorted({lb.metric_name for lb, _, _ in series}):
        lines.append(f"# TYPE {metric} gauge")
        for lb, ts, values in series:
            if lb.metric_name == metric:
                rest = ",".join(f'{n}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                                for n, v in lb.items() if n != "__name__")
                lines.extend(f"{metric}{{{rest}}} {v!r} {t / 1000:.3f}"
                             for t, v in zip(ts.tolist(), values.tolist(), strict=True))
    lines.append("# EOF")
    om.write_text("\n".join(lines).replace("inf", "+Inf") + "\n")
    theirs = tmp_path / "theirs"
    _promtool("tsdb", "create-blocks-from", "openmetrics", str(om), str(theirs))
    ours = tmp_path / "ours"
    for d in list_blocks(theirs):
        with Block.open(d) as block:
            index, chunks = block.index(), block.chunks()
            items = []
            for ref in index.all_postings().tolist():
                labels, (mint, maxt, crefs) = index.series(ref)
                data, offsets = chunks.read(crefs)
                count = int(sum((int(data[o]) << 8) | int(data[o + 1]) for o in offsets[:-1].tolist()))
                items.append(SeriesChunks(labels, data, offsets, mint, maxt, count))
            meta = block.meta
        write_block(ours, items, meta.min_time, meta.max_time - 1, ulid=meta.ulid, sources=meta.sources,
                    level=meta.level)
        for name in ["index", "chunks/000001", "tombstones", "meta.json"]:
            assert (ours / d.name / name).read_bytes() == (d / name).read_bytes(), f"{name} of {d.name} differs"
