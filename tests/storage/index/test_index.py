"""Index v2: write/read round trips of random label sets and chunk metas, layout, corruption."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference.crc import crc32c_ref
from tsdb.errors import CorruptionError, InvalidArgumentError
from tsdb.labels import Labels
from tsdb.storage.index.format import INDEX_MAGIC
from tsdb.storage.index.reader import IndexReader
from tsdb.storage.index.writer import IndexWriter, write_index

names = st.sampled_from(["__name__", "a", "b", "job", "instance", "ü"])
values = st.text(alphabet="xyz01é\n\"", min_size=1, max_size=4)
label_sets = st.lists(st.dictionaries(names, values, min_size=1, max_size=4), min_size=0, max_size=25)


def _metas(rng: np.random.Generator, n: int, ref_base: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mint = np.cumsum(rng.integers(1, 10**9, n)) - 10**9 * 3
    maxt = mint + rng.integers(0, 10**6, n)
    mint[1:] = np.maximum(mint[1:], maxt[:-1] + 1)
    maxt = np.maximum(maxt, mint)
    refs = ref_base + np.cumsum(rng.integers(0, 2**33, n)).astype(np.uint64)
    return mint.astype(np.int64), maxt.astype(np.int64), refs


@settings(max_examples=60)
@given(sets=label_sets, seed=st.integers(0, 2**32 - 1))
def test_round_trip(tmp_path_factory: pytest.TempPathFactory, sets: list[dict[str, str]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = sorted({Labels(s) for s in sets})
    entries = []
    ref_base = 0
    for lb in labels:
        mint, maxt, refs = _metas(rng, int(rng.integers(0, 5)), ref_base)
        if len(refs):
            ref_base = int(refs[-1])
        entries.append((lb, mint, maxt, refs))
    path = tmp_path_factory.mktemp("idx") / "index"
    series_refs = write_index(path, entries)
    with IndexReader(path) as r:
        # "" is always a symbol, as in Prometheus's indexes
        assert r.symbols() == sorted({"", *(s for lb in labels for s in tuple.__getitem__(lb, slice(None)))})
        assert list(r.all_postings()) == series_refs
        assert r.all_postings().dtype == np.uint64
        for ref, (lb, mint, maxt, crefs) in zip(series_refs, entries, strict=True):
            got_labels, (gmint, gmaxt, grefs) = r.series(ref)
            assert got_labels == lb
            assert np.array_equal(gmint, mint) and np.array_equal(gmaxt, maxt) and np.array_equal(grefs, crefs)
        expected: dict[tuple[str, str], list[int]] = {}
        for ref, lb in zip(series_refs, labels, strict=True):
            for pair in lb.items():
                expected.setdefault(pair, []).append(ref)
        assert r.label_names() == sorted({n for n, _ in expected})
        for name in r.label_names():
            assert r.label_values(name) == sorted(v for n, v in expected if n == name)
        for (name, value), refs in expected.items():
            assert list(r.postings(name, value)) == refs
        assert len(r.postings("a", "nope")) == 0
        assert len(r.postings("nope", "x")) == 0
        assert r.label_values("nope") == []
        order = list(rng.permutation(len(series_refs))) + list(rng.integers(0, max(len(series_refs), 1), 3))
        wanted = [series_refs[int(i)] for i in order if len(series_refs)]
        for ref, (got_labels, metas) in zip(wanted, r.series_many(np.array(wanted, np.int64)), strict=True):
            exp_labels, exp_metas = r.series(ref)
            assert got_labels == exp_labels
            assert all(np.array_equal(g, e) and g.dtype == e.dtype for g, e in zip(metas, exp_metas, strict=True))


def test_layout(tmp_path: Path) -> None:
    path = tmp_path / "index"
    lbs = [Labels({"__name__": "up", "job": "a"}), Labels({"__name__": "up", "job": "b"})]
    refs = write_index(path, [(lb, np.array([0]), np.array([10]), np.array([8 + i * 30], np.uint64))
                              for i, lb in enumerate(lbs)])
    raw = path.read_bytes()
    assert struct.unpack(">IB", raw[:5]) == (INDEX_MAGIC, 2)
    toc = struct.unpack(">6Q", raw[-52:-4])
    assert struct.unpack(">I", raw[-4:])[0] == crc32c_ref(raw[-52:-4])
    symbols, series, label_indices, label_table, postings, postings_table = toc
    assert symbols == 5  # right after the header; series entries are then padded to 16 bytes
    assert refs[0] == -(-series // 16) and all(r * 16 >= series for r in refs)
    assert symbols < series < label_indices <= postings < label_table < postings_table
    length = struct.unpack(">I", raw[symbols:symbols + 4])[0]
    body = raw[symbols + 4:symbols + 4 + length]
    assert struct.unpack(">I", raw[symbols + 4 + length:symbols + 8 + length])[0] == crc32c_ref(body)
    assert struct.unpack(">I", body[:4])[0] == 6  # "", a, b, job, up, __name__
    # label index of "__name__": one name, one value (symbol ref of "up")
    first = -(-label_indices // 4) * 4  # the TOC points before the 4-byte alignment padding (as Prometheus)
    n, e, v = struct.unpack(">III", raw[first + 4:first + 16])
    assert (n, e) == (1, 1)
    with IndexReader(path) as r:
        assert r.symbols()[v] == "up"
        assert r.lookup_symbol(v) == "up"
        assert r.toc == toc


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    a, b = Labels({"a": "1"}), Labels({"a": "2"})
    one = (np.array([0]), np.array([5]), np.array([8], np.uint64))
    w = IndexWriter(tmp_path / "i1", ["a", "1", "2"])
    w.add_series(b, *one)
    with pytest.raises(InvalidArgumentError, match="out of order"):
        w.add_series(a, *one)
    with pytest.raises(InvalidArgumentError, match="overlapping"):
        w.add_series(Labels({"a": "3"}), np.array([0, 5]), np.array([5, 9]), np.array([9, 10], np.uint64))
    w.abort()
    w = IndexWriter(tmp_path / "i2", ["a", "1"])
    with pytest.raises(InvalidArgumentError, match="symbol"):
        w.add_series(b, *one)
    with pytest.raises(InvalidArgumentError, match="chunk ref"):
        w.add_series(a, np.array([0, 6]), np.array([5, 9]), np.array([9, 8], np.uint64))
    w.abort()


def _index(tmp_path: Path) -> tuple[Path, list[int]]:
    path = tmp_path / "index"
    lbs = [Labels({"__name__": "m", "i": str(i)}) for i in range(10)]
    refs = write_index(path, [(lb, np.array([0]), np.array([10]), np.array([8 + i], np.uint64))
                              for i, lb in enumerate(lbs)])
    return path, refs


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x55
    path.write_bytes(bytes(raw))


def test_corrupt_toc(tmp_path: Path) -> None:
    path, _ = _index(tmp_path)
    _flip(path, path.stat().st_size - 10)
    with pytest.raises(CorruptionError, match="TOC") as info:
        IndexReader(path)
    assert info.value.path == str(path)


def test_corrupt_series_is_reported_on_read(tmp_path: Path) -> None:
    path, refs = _index(tmp_path)
    _flip(path, refs[3] * 16 + 3)
    with IndexReader(path) as r:
        r.series(refs[2])
        with pytest.raises(CorruptionError, match="series") as info:
            r.series(refs[3])
        assert info.value.offset == refs[3] * 16


def test_corrupt_symbols_and_magic(tmp_path: Path) -> None:
    path, _ = _index(tmp_path)
    _flip(path, 12)
    with pytest.raises(CorruptionError, match="symbol table"):
        IndexReader(path)
    path.write_bytes(b"xx")
    with pytest.raises(CorruptionError, match="too short"):
        IndexReader(path)
    (tmp_path / "other").mkdir()
    path2, _ = _index(tmp_path / "other")
    _flip(path2, 0)
    with pytest.raises(CorruptionError, match="magic"):
        IndexReader(path2)


def test_corrupt_postings(tmp_path: Path) -> None:
    path, _ = _index(tmp_path)
    with IndexReader(path) as r:
        postings_start = r.toc[4]
    _flip(path, postings_start + 9)
    with IndexReader(path) as r, pytest.raises(CorruptionError, match="postings"):
        r.all_postings()


def test_empty_index(tmp_path: Path) -> None:
    write_index(tmp_path / "index", [])
    with IndexReader(tmp_path / "index") as r:
        assert r.label_names() == [] and len(r.all_postings()) == 0 and r.symbols() == [""]


def test_series_many_extremes_and_corruption(tmp_path: Path) -> None:
    path = tmp_path / "index"
    big = 2**62
    entries = [
        (Labels({"a": str(i)}), np.array([-big + i, 0, big - 10]), np.array([-big + i + 5, 100, big]),
         np.array([i * 2**40, i * 2**40 + 7, i * 2**40 + 2**39], np.uint64))
        for i in range(6)
    ]
    entries.append((Labels({"b": "empty"}), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64)))
    refs = write_index(path, entries)
    with IndexReader(path) as r:
        got = r.series_many(refs)
    for (lb, mint, maxt, crefs), (glb, (gmint, gmaxt, grefs)) in zip(entries, got, strict=True):
        assert glb == lb
        assert gmint.tolist() == mint.tolist() and gmaxt.tolist() == maxt.tolist() and grefs.tolist() == crefs.tolist()
    _flip(path, refs[4] * 16 + 2)
    with IndexReader(path) as r, pytest.raises(CorruptionError) as info:
        r.series_many(refs)
    assert info.value.offset == refs[4] * 16


def test_versions(tmp_path: Path) -> None:
    path, refs = _index(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[4] = 3  # reserved by Prometheus, read like v2
    path.write_bytes(bytes(raw))
    with IndexReader(path) as r:
        assert r.version == 3 and r.series(refs[0])[0]["i"] == "0"
    raw[4] = 1
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptionError, match="version 1") as info:
        IndexReader(path)
    assert info.value.offset == 4


@settings(max_examples=40)
@given(sets=label_sets, seed=st.integers(0, 2**32 - 1), split=st.integers(0, 30))
def test_batch_writer_matches_scalar_writer(tmp_path_factory: pytest.TempPathFactory, sets: list[dict[str, str]],
                                            seed: int, split: int) -> None:
    """add_series_batch (numpy) writes exactly the bytes of add_series (one varint at a time)."""
    rng = np.random.default_rng(seed)
    labels = sorted({Labels(s) for s in sets})
    entries = []
    ref_base = 0
    for lb in labels:
        mint, maxt, refs = _metas(rng, int(rng.integers(0, 5)), ref_base)
        if len(refs):
            ref_base = int(refs[-1])
        entries.append((lb, mint, maxt, refs))
    symbols = {x for lb in labels for x in tuple.__getitem__(lb, slice(None))}
    d = tmp_path_factory.mktemp("idx")
    scalar = IndexWriter(d / "scalar", symbols)
    expected_refs = [scalar.add_series(*e) for e in entries]
    scalar.close()
    batch = IndexWriter(d / "batch", symbols)
    got_refs: list[int] = []
    for part in (entries[:split], entries[split:]):  # two batches: state carries over between them
        starts = np.zeros(len(part) + 1, dtype=np.int64)
        np.cumsum([len(e[1]) for e in part], out=starts[1:])
        cat = [np.concatenate([np.zeros(0, dt), *(e[k] for e in part)]).astype(dt)
               for k, dt in ((1, np.int64), (2, np.int64), (3, np.uint64))]
        got_refs.extend(batch.add_series_batch([e[0] for e in part], starts, *cat).tolist())
    batch.close()
    assert got_refs == expected_refs
    assert (d / "batch").read_bytes() == (d / "scalar").read_bytes()


def test_batch_writer_rejects_bad_input(tmp_path: Path) -> None:
    a, b, c = Labels({"a": "1"}), Labels({"a": "2"}), Labels({"a": "3"})
    w = IndexWriter(tmp_path / "i", ["a", "1", "2", "3"])

    def add(lbs: list[Labels], mint: list[int], maxt: list[int], refs: list[int], starts: list[int]) -> None:
        w.add_series_batch(lbs, np.array(starts), np.array(mint), np.array(maxt), np.array(refs, np.uint64))

    with pytest.raises(InvalidArgumentError, match="out of order"):
        add([b, a], [], [], [], [0, 0, 0])
    with pytest.raises(InvalidArgumentError, match="overlapping"):
        add([a], [0, 5], [5, 9], [8, 9], [0, 2])
    with pytest.raises(InvalidArgumentError, match="below the previous"):
        add([a, b], [0, 0], [5, 5], [9, 8], [0, 1, 2])
    with pytest.raises(InvalidArgumentError, match="do not fit"):
        add([a], [0], [5], [8], [0, 2])
    add([b], [0], [5], [8], [0, 1])
    with pytest.raises(InvalidArgumentError, match="out of order"):
        add([a], [], [], [], [0, 0])
    with pytest.raises(InvalidArgumentError, match="symbol"):
        add([Labels({"zz": "1"})], [], [], [], [0, 0])
    add([c], [], [], [], [0, 0])
    w.close()
    with IndexReader(tmp_path / "i") as r:
        assert [r.series(int(x))[0] for x in r.all_postings()] == [b, c]
