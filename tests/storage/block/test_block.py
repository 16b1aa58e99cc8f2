"""Blocks: write/open round trips through the querier, meta.json, ULIDs, atomicity, ref counting,
tombstones and corruption isolation."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.errors import CorruptionError, InvalidArgumentError, StorageError
from tsdb.labels import Labels, Matcher, matches_all
from tsdb.storage.block.meta import BlockDesc, BlockMeta, list_blocks, read_meta
from tsdb.storage.block.reader import Block
from tsdb.storage.block.writer import SeriesChunks, write_block, write_block_from_samples
from tsdb.storage.chunks.xor import chunk_offsets, encode_chunks
from tsdb.storage.interfaces import Querier, Queryable
from tsdb.storage.ulid import is_ulid, new_ulid, ulid_time_ms

T0 = 1_700_000_000_000


def _series(n: int, samples: int, seed: int = 0, step: int = 15_000) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        ts = T0 + np.cumsum(rng.integers(1, 2 * step, samples)).astype(np.int64)
        out.append((Labels({"__name__": "m", "i": str(i), "job": "even" if i % 2 == 0 else "odd"}), ts,
                    rng.normal(size=samples)))
    return out


def _read_all(block: Block, mint: int, maxt: int, matchers: list[Matcher] | None = None
              ) -> dict[Labels, tuple[np.ndarray, np.ndarray]]:
    with block.querier(mint, maxt) as q:
        return {s.labels: s.samples() for s in q.select(matchers or [])}


# -- ULIDs -------------------------------------------------------------------------------------------
def test_ulid_format_and_monotonic() -> None:
    ids = [new_ulid(ms=T0) for _ in range(50)] + [new_ulid()]
    assert all(is_ulid(u) for u in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert ulid_time_ms(ids[0]) == T0
    assert new_ulid(ms=0)[:10] == "0000000000"
    assert not is_ulid("01M8562CGEY33N8RXZC9E05JG") and not is_ulid("01M8562CGEY33N8RXZC9E05JGU")
    with pytest.raises(InvalidArgumentError):
        new_ulid(ms=-1)


# -- writing and reading -------------------------------------------------------------------------------
def test_round_trip(tmp_path: Path) -> None:
    series = _series(7, 500)
    ulid = write_block_from_samples(tmp_path, series)
    assert list_blocks(tmp_path) == [tmp_path / ulid]
    with Block.open(tmp_path / ulid) as block:
        meta = block.meta
        assert meta.ulid == ulid and meta.level == 1 and meta.sources == [ulid]
        assert meta.min_time == min(int(ts[0]) for _, ts, _ in series)
        assert meta.max_time == max(int(ts[-1]) for _, ts, _ in series) + 1  # exclusive, as Prometheus
        assert meta.stats.num_samples == 3500 and meta.stats.num_series == 7
        assert meta.stats.num_chunks == sum(len(chunk_offsets(ts, v)) - 1 for _, ts, v in series)
        assert meta.stats.num_chunks >= 7 * 5  # 120 samples per chunk at most (fewer when 1 KiB is reached)
        got = _read_all(block, -(2**62), 2**62)
        assert list(got) == sorted(lb for lb, _, _ in series)
        for lb, ts, values in series:
            assert np.array_equal(got[lb][0], ts)
            assert np.array_equal(got[lb][1].view(np.uint64), values.view(np.uint64))
        assert isinstance(block, Queryable)
        q = block.querier(0, 1)
        assert isinstance(q, Querier)
        q.close()


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), lo=st.integers(-10, 400), width=st.integers(0, 400),
       job=st.sampled_from(["", "even", "odd"]))
def test_query_range_and_matchers(tmp_path_factory: pytest.TempPathFactory, seed: int, lo: int, width: int,
                                  job: str) -> None:
    d = tmp_path_factory.mktemp("blocks")
    series = _series(4, 300, seed, step=10)
    ulid = write_block_from_samples(d, series)
    mint, maxt = T0 + lo * 10, T0 + (lo + width) * 10
    matchers = [Matcher("=~", "job", job)] if job else [Matcher("=", "__name__", "m")]
    with Block.open(d / ulid) as block:
        got = _read_all(block, mint, maxt, matchers)
    expected = {}
    for lb, ts, values in sorted(series, key=lambda s: s[0]):
        keep = (ts >= mint) & (ts <= maxt)
        if matches_all(matchers, lb) and keep.any():
            expected[lb] = (ts[keep], values[keep])
    # a series whose chunks overlap the range may still have no sample in it (as in Prometheus)
    assert all(matches_all(matchers, lb) for lb in got)
    assert [lb for lb, (ts, _) in got.items() if len(ts)] == list(expected)
    for lb, (ts, values) in expected.items():
        assert np.array_equal(got[lb][0], ts) and np.array_equal(got[lb][1], values)


def test_write_block_from_chunks_many_segments(tmp_path: Path) -> None:
    items = []
    for i, (lb, ts, values) in enumerate(_series(30, 250, seed=3)):
        offs = np.array([0, 100, 250])
        data, byte_offs = encode_chunks(ts, values, offs)
        items.append((lb, SeriesChunks(lb, data, byte_offs, ts[offs[:-1]], ts[offs[1:] - 1], 250), ts, values, i))
    items.sort(key=lambda it: it[0])
    ulid = write_block(tmp_path, [it[1] for it in items], T0, T0 + 10**9, segment_size=4096,
                       level=2, sources=["A", "B"], parents=[BlockDesc("A", 0, 10)])
    assert len(list((tmp_path / ulid / "chunks").iterdir())) > 3
    meta = json.loads((tmp_path / ulid / "meta.json").read_text())
    assert meta["compaction"] == {"level": 2, "sources": ["A", "B"],
                                  "parents": [{"ulid": "A", "minTime": 0, "maxTime": 10}]}
    assert meta["maxTime"] == T0 + 10**9 + 1 and meta["version"] == 1
    assert read_meta(tmp_path / ulid) == BlockMeta.from_dict(meta)
    with Block.open(tmp_path / ulid) as block:
        got = _read_all(block, T0, T0 + 10**9)
    for lb, _, ts, values, _ in items:
        assert np.array_equal(got[lb][0], ts) and np.array_equal(got[lb][1], values)


def test_rejects_bad_input(tmp_path: Path) -> None:
    (lb, ts, values), *_ = _series(1, 10)
    with pytest.raises(InvalidArgumentError, match="outside"):
        write_block_from_samples(tmp_path, [(lb, ts, values)], int(ts[1]), int(ts[-1]))
    with pytest.raises(InvalidArgumentError, match="strictly increasing"):
        write_block_from_samples(tmp_path, [(lb, ts[::-1].copy(), values)])
    with pytest.raises(InvalidArgumentError, match="twice"):
        write_block_from_samples(tmp_path, [(lb, ts, values), (lb, ts, values)])
    data, offs = encode_chunks(ts, values, np.array([0, 10]))
    chunk = SeriesChunks(lb, data, offs, ts[:1], ts[-1:], 10)
    with pytest.raises(InvalidArgumentError, match="sorted"):
        write_block(tmp_path, [chunk, chunk], T0, 2 * T0)
    assert list(tmp_path.iterdir()) == []  # nothing left behind, not even the .tmp dir


def test_sorted_series_are_written_in_bounded_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``presorted`` streams: the block is the one the gathering path writes, chunk for chunk, while
    at most one batch of decoded samples (plus one series) is held at a time."""
    import tsdb.storage.block.writer as writer
    monkeypatch.setattr(writer, "SAMPLE_BATCH", 500)
    series = sorted(_series(40, 120, seed=3), key=lambda it: tuple.__getitem__(it[0], slice(None)))
    mint = min(int(ts[0]) for _, ts, _ in series)
    maxt = max(int(ts[-1]) for _, ts, _ in series)
    held = []

    def lazily() -> object:
        for k, item in enumerate(series):
            held.append(k)
            yield item
    streamed = write_block_from_samples(tmp_path / "a", lazily(), mint, maxt, presorted=True)
    gathered = write_block_from_samples(tmp_path / "b", series, mint, maxt)
    with Block.open(tmp_path / "a" / streamed) as a, Block.open(tmp_path / "b" / gathered) as b:
        assert a.meta.stats == b.meta.stats and a.meta.stats.num_series == 40
        got, want = _read_all(a, mint, maxt), _read_all(b, mint, maxt)
    assert got.keys() == want.keys()
    for lb, (ts, values) in want.items():
        assert np.array_equal(got[lb][0], ts) and np.array_equal(got[lb][1], values)
    assert held == list(range(40))
    with pytest.raises(InvalidArgumentError, match="sorted"):
        write_block_from_samples(tmp_path / "c", series[::-1], mint, maxt, presorted=True)
    with pytest.raises(InvalidArgumentError, match="range"):
        write_block_from_samples(tmp_path / "c", series, presorted=True)
    assert list((tmp_path / "c").iterdir()) == []


def test_head_persistence_memory_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Persisting a head range holds one batch of decoded samples, not the whole range."""
    import tracemalloc

    import tsdb.storage.block.writer as writer
    import tsdb.storage.head.read as head_read
    from tsdb.storage.compact.compactor import persist_head_range
    from tsdb.storage.head.head import Head
    monkeypatch.setattr(writer, "SAMPLE_BATCH", 20_000)
    monkeypatch.setattr(head_read, "BATCH", 16)  # series read from the head at a time
    monkeypatch.setattr(writer, "_BATCH_CHUNKS", 256)  # chunks written to the segment files at a time
    head = Head()
    n_series, n_samples = 200, 2_000  # 400,000 samples: 6.4 MB decoded
    app = head.appender()
    for i in range(n_series):
        ts = T0 + np.arange(n_samples, dtype=np.int64) * 1000
        app.append(Labels({"__name__": "m", "i": str(i)}), ts, (np.arange(n_samples) % 7).astype(np.float64))
    app.commit()
    persist_head_range(tmp_path / "warm-up", head, T0, T0 + 1000)  # loads the compiled kernels
    tracemalloc.start()
    try:
        ulid = persist_head_range(tmp_path, head, T0, T0 + n_samples * 1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ulid is not None
    assert peak < 6_400_000 / 2, peak
    with Block.open(tmp_path / ulid) as block:
        assert block.meta.stats.num_samples == n_series * n_samples


def test_empty_block(tmp_path: Path) -> None:
    ulid = write_block_from_samples(tmp_path, [], 0, 99)
    with Block.open(tmp_path / ulid) as block:
        assert block.meta.max_time == 100 and block.meta.maxt == 99
        assert _read_all(block, 0, 99) == {}


# -- atomicity -----------------------------------------------------------------------------------------
def test_tmp_dirs_are_not_blocks(tmp_path: Path) -> None:
    ulid = write_block_from_samples(tmp_path, _series(2, 10))
    leftover = tmp_path / f"{new_ulid()}.tmp"
    leftover.mkdir()
    (leftover / "meta.json").write_text("{}")
    prometheus_leftover = tmp_path / f"{new_ulid()}.tmp-for-deletion"
    prometheus_leftover.mkdir()
    (tmp_path / "wal").mkdir()
    (tmp_path / "not-a-ulid").mkdir()
    (tmp_path / "not-a-ulid.tmp").mkdir()
    assert list_blocks(tmp_path) == [tmp_path / ulid]
    assert leftover.exists()
    assert list_blocks(tmp_path, remove_tmp=True) == [tmp_path / ulid]
    assert not leftover.exists() and not prometheus_leftover.exists()
    assert (tmp_path / "not-a-ulid.tmp").exists()  # only ULID-named leftovers are ours to remove
    assert list_blocks(tmp_path / "missing") == []


# -- reference counting ------------------------------------------------------------------------------
def test_close_waits_for_queriers(tmp_path: Path) -> None:
    ulid = write_block_from_samples(tmp_path, _series(3, 50))
    block = Block.open(tmp_path / ulid)
    q = block.querier(0, 2**62)
    series = list(q.select([]))
    assert block.pending_readers == 1
    block.close()
    with pytest.raises(StorageError, match="closed"):
        block.querier(0, 1)
    ts, _ = series[0].samples()  # still readable: the open querier holds the files
    assert len(ts) == 50
    q.close()
    q.close()  # idempotent
    assert block.pending_readers == 0 and block.released
    with pytest.raises(StorageError):
        list(q.select([]))
    with pytest.raises(StorageError, match="closed"):
        series[0].samples()


def test_concurrent_queriers(tmp_path: Path) -> None:
    ulid = write_block_from_samples(tmp_path, _series(5, 300))
    block = Block.open(tmp_path / ulid)
    expected = _read_all(block, 0, 2**62)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                got = _read_all(block, 0, 2**62)
                assert all(np.array_equal(got[k][0], v[0]) for k, v in expected.items())
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    block.close()
    assert not errors and block.pending_readers == 0


# -- labels ------------------------------------------------------------------------------------------------
def test_label_names_and_values(tmp_path: Path) -> None:
    series = _series(4, 20)
    series.append((Labels({"__name__": "other", "extra": "1"}), series[0][1], series[0][2]))
    ulid = write_block_from_samples(tmp_path, series)
    with Block.open(tmp_path / ulid) as block, block.querier(0, 2**62) as q:
        assert q.label_names() == ["__name__", "extra", "i", "job"]
        assert q.label_names([Matcher("=", "__name__", "m")]) == ["__name__", "i", "job"]
        assert q.label_values("job") == ["even", "odd"]
        assert q.label_values("i", [Matcher("=", "job", "odd")]) == ["1", "3"]
        assert q.label_values("extra", [Matcher("=", "job", "odd")]) == []
        assert block.index().label_values("__name__") == ["m", "other"]


# -- tombstones ------------------------------------------------------------------------------------------
def test_delete_applies_tombstones(tmp_path: Path) -> None:
    series = _series(2, 400, step=10)
    ulid = write_block_from_samples(tmp_path, series)
    (lb0, ts0, _), (lb1, ts1, _) = sorted(series, key=lambda s: s[0])
    cut_lo, cut_hi = int(ts0[10]), int(ts0[300])
    with Block.open(tmp_path / ulid) as block:
        assert block.delete([Matcher("=", "i", "0")], cut_lo, cut_hi) == 1
        got = _read_all(block, 0, 2**62)
    keep = (ts0 < cut_lo) | (ts0 > cut_hi)
    assert np.array_equal(got[lb0][0], ts0[keep])
    assert np.array_equal(got[lb1][0], ts1)
    with Block.open(tmp_path / ulid) as block:  # persisted
        assert block.meta.stats.num_tombstones == 1
        assert np.array_equal(_read_all(block, 0, 2**62)[lb0][0], ts0[keep])
        block.delete([Matcher("=", "i", "1")], 0, 2**62)
        assert lb1 not in _read_all(block, 0, 2**62)  # fully deleted series are not returned


# -- corruption ------------------------------------------------------------------------------------------
def test_corrupt_chunk_fails_only_its_series(tmp_path: Path) -> None:
    series = sorted(_series(3, 100), key=lambda s: s[0])
    ulid = write_block_from_samples(tmp_path, series)
    with Block.open(tmp_path / ulid) as block:
        _, (_, _, refs) = block.index().series(int(block.index().postings("i", "1")[0]))
    offset = int(refs[0]) & 0xFFFFFFFF
    seg = tmp_path / ulid / "chunks" / "000001"
    raw = bytearray(seg.read_bytes())
    raw[offset + 10] ^= 0xFF
    seg.write_bytes(bytes(raw))
    with Block.open(tmp_path / ulid) as block, block.querier(0, 2**62) as q:
        results = {}
        for s in q.select([]):
            try:
                results[s.labels["i"]] = len(s.samples()[0])
            except CorruptionError as err:
                results[s.labels["i"]] = str(err)
    assert results["0"] == 100 and results["2"] == 100
    assert ulid in results["1"] and 'i="1"' in results["1"] and "checksum" in results["1"]


def test_missing_meta(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"meta\.json"):
        Block.open(tmp_path)
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(CorruptionError, match=r"meta\.json"):
        Block.open(tmp_path)


def test_many_series_batches_and_tombstones(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    series = []
    for i in range(1100):  # more than one decode batch of the querier
        ts = T0 + np.sort(rng.choice(5000, size=int(rng.integers(1, 300)), replace=False)).astype(np.int64) * 10
        series.append((Labels({"__name__": "x", "i": f"{i:04d}"}), ts, rng.normal(size=len(ts))))
    ulid = write_block_from_samples(tmp_path, series)
    deleted = {f"{i:04d}" for i in range(0, 1100, 7)}
    lo, hi = T0 + 10_000, T0 + 30_000
    mint, maxt = T0 + 5_000, T0 + 40_000
    with Block.open(tmp_path / ulid) as block:
        assert block.delete([Matcher("=~", "i", "|".join(sorted(deleted)))], lo, hi) > 0
        got = _read_all(block, mint, maxt)
    for lb, ts, values in series:
        keep = (ts >= mint) & (ts <= maxt)
        if lb["i"] in deleted:
            keep &= (ts < lo) | (ts > hi)
        if keep.any():
            assert np.array_equal(got[lb][0], ts[keep]) and np.array_equal(got[lb][1], values[keep])
        else:
            assert len(got.get(lb, (np.zeros(0),))[0]) == 0
