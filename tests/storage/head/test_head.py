"""Tests of the head: kernels against references, series table, postings, select, truncate, delete."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference import head as ref_head
from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels, Matcher, matches_all
from tsdb.storage.head import head_kernels as hk
from tsdb.storage.head.head import Head
from tsdb.storage.head.read import select_refs_local
from tsdb.storage.interfaces import STALE_NAN, Appendable, Querier, Queryable

H = 3600 * 1000


def lb(**kw: str) -> Labels:
    return Labels(kw)


# -- kernels vs references ------------------------------------------------------------------------
_series_samples = st.lists(st.lists(st.integers(-50, 50), max_size=6).map(sorted), max_size=5)


@pytest.mark.kernel
@given(_series_samples, st.data(), st.integers(-60, 60), st.integers(-60, 60))
def test_merge_clip_matches_reference(a_ts: list[list[int]], data: st.DataObject, mint: int, maxt: int) -> None:
    # b's samples come after a's per series, as open samples follow chunk samples
    b_ts = [sorted(data.draw(st.lists(st.integers(60, 90), max_size=4))) for _ in a_ts]
    a = [[(t, t * 0.5) for t in ts] for ts in a_ts]
    b = [[(t, -t * 0.25) for t in ts] for ts in b_ts]
    # a is given as chunks: one chunk per series here, with the chunk -> sample offsets indirection
    seg_a = np.arange(len(a) + 1, dtype=np.int64)
    a_off = np.concatenate(([0], np.cumsum([len(x) for x in a]))).astype(np.int64)
    b_off = np.concatenate(([0], np.cumsum([len(x) for x in b]))).astype(np.int64)
    flat = lambda xs, i: np.array([p[i] for x in xs for p in x], dtype=np.int64 if i == 0 else np.float64)  # noqa: E731
    out_ts, out_values, offsets = hk.merge_clip(seg_a, flat(a, 0), flat(a, 1), a_off, flat(b, 0), flat(b, 1),
                                                b_off, mint, maxt)
    expected = ref_head.merge_clip(a, b, mint, maxt)
    got = [list(zip(out_ts[offsets[k]:offsets[k + 1]].tolist(), out_values[offsets[k]:offsets[k + 1]].tolist(),
                    strict=True)) for k in range(len(a))]
    assert got == expected


class KernelState:
    """Bare arrays for calling head kernels directly."""

    def __init__(self, nseries: int, npages: int) -> None:
        self.series = np.empty((nseries, hk.NFIELDS), dtype=np.int64)
        self.series[:] = -1
        self.series[:, hk.F_LAST_TS] = hk.NO_TS
        self.series[:, hk.F_LAST_BITS] = 0
        self.series[:, hk.F_OPEN_COUNT] = 0
        self.series[:, hk.F_OOO_COUNT] = 0
        self.state = np.zeros(hk.NSTATE, dtype=np.int64)
        self.state[hk.S_MINT] = np.iinfo(np.int64).max
        self.state[hk.S_MAXT] = np.iinfo(np.int64).min
        self.state[hk.S_MIN_VALID] = np.iinfo(np.int64).min
        self.state[hk.S_FREE] = -1
        self.state[hk.S_NPAGES] = npages
        self.page_next = np.full(npages, -1, dtype=np.int64)
        self.page_ts = np.zeros(npages * hk.PAGE, dtype=np.int64)
        self.page_bits = np.zeros(npages * hk.PAGE, dtype=np.int64)

    def chain(self, ref: int, first: int, count: int) -> list[tuple[int, int]]:
        f, c = self.series[ref, first], self.series[ref, count]
        out_ts = np.empty(c, np.int64)
        out_bits = np.empty(c, np.int64)
        hk.gather_chains(np.array([f]), np.array([c]), self.page_next, self.page_ts, self.page_bits, out_ts,
                         out_bits)
        return list(zip(out_ts.tolist(), out_bits.tolist(), strict=True))


batches = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 40), st.sampled_from([0, 1, 2, int(hk.NO_TS) + 1])),
    max_size=40,
)


@pytest.mark.kernel
@given(batch1=batches, batch2=batches, apply1=st.booleans(), window=st.sampled_from([0, 10]),
       chunk_samples=st.sampled_from([1, 2, 5, 120]), chunk_range=st.sampled_from([7, 1000]),
       min_valid=st.sampled_from([-(2**63), 5]))
def test_append_samples_matches_reference(batch1: list[tuple[int, int, int]], batch2: list[tuple[int, int, int]],
                                          apply1: bool, window: int, chunk_samples: int, chunk_range: int,
                                          min_valid: int) -> None:
    ks = KernelState(4, 64)
    ks.state[hk.S_MIN_VALID] = min_valid
    ref = ref_head.RefHead(min_valid=min_valid)
    cuts: list[tuple[int, list[tuple[int, int]]]] = []
    for batch, apply in ((batch1, apply1), (batch2, True)):
        refs = np.array([r for r, _, _ in batch], dtype=np.int64)
        ts = np.array([t for _, t, _ in batch], dtype=np.int64)
        bits = np.array([b for _, _, b in batch], dtype=np.int64)
        status = np.zeros(len(batch), dtype=np.int8)
        n = len(batch)
        pend = [np.zeros(n, np.int64) for _ in range(3)]
        ks.state[hk.S_NPENDING] = 0
        done = hk.append_samples(refs, ts, bits, status, 0, apply, ks.series, ks.state, ks.page_next, ks.page_ts,
                                 ks.page_bits, *pend, window, chunk_samples, chunk_range)
        assert done == n
        expected = ref_head.append_samples(ref, refs.tolist(), ts.tolist(), bits.tolist(), apply, window,
                                           chunk_samples, chunk_range)
        assert status.tolist() == expected
        for k in range(int(ks.state[hk.S_NPENDING])):
            out_ts = np.empty(pend[2][k], np.int64)
            out_bits = np.empty(pend[2][k], np.int64)
            hk.gather_chains(pend[1][k:k + 1], pend[2][k:k + 1], ks.page_next, ks.page_ts, ks.page_bits, out_ts,
                             out_bits)
            cuts.append((int(pend[0][k]), list(zip(out_ts.tolist(), out_bits.tolist(), strict=True))))
    for r in range(1, 4):
        model = ref.series.get(r, ref_head.RefSeries())
        assert ks.series[r, hk.F_LAST_TS] == model.last_ts
        assert ks.chain(r, hk.F_OPEN_FIRST, hk.F_OPEN_COUNT) == model.open
        assert ks.chain(r, hk.F_OOO_FIRST, hk.F_OOO_COUNT) == model.ooo
        assert [c for cr, c in cuts if cr == r] == model.cut
    if ref.series and any(s.open or s.cut or s.ooo for s in ref.series.values()):
        assert ks.state[hk.S_MINT] == ref.mint


@pytest.mark.kernel
def test_append_samples_stops_when_arena_full_and_resumes() -> None:
    ks = KernelState(3, 1)
    refs = np.array([1] * 8 + [2], dtype=np.int64)
    ts = np.arange(9, dtype=np.int64)
    bits = np.zeros(9, dtype=np.int64)
    status = np.zeros(9, dtype=np.int8)
    pend = [np.zeros(9, np.int64) for _ in range(3)]
    done = hk.append_samples(refs, ts, bits, status, 0, True, ks.series, ks.state, ks.page_next, ks.page_ts,
                             ks.page_bits, *pend, 0, 120, 1000)
    assert done == 8  # series 2 needs a second page
    ks2 = KernelState(3, 2)
    ks2.series[:] = ks.series
    ks2.state[:] = ks.state
    ks2.state[hk.S_NPAGES] = 2
    ks2.page_ts[:8] = ks.page_ts
    ks2.page_next[:1] = ks.page_next
    done = hk.append_samples(refs, ts, bits, status, done, True, ks2.series, ks2.state, ks2.page_next, ks2.page_ts,
                             ks2.page_bits, *pend, 0, 120, 1000)
    assert done == 9
    assert ks2.chain(2, hk.F_OPEN_FIRST, hk.F_OPEN_COUNT) == [(8, 0)]
    assert [t for t, _ in ks2.chain(1, hk.F_OPEN_FIRST, hk.F_OPEN_COUNT)] == list(range(8))


@pytest.mark.kernel
@given(chains=st.lists(st.lists(st.tuples(st.integers(-5, 5), st.integers(0, 3)), max_size=20), max_size=5))
def test_chains_append_gather_free_match_reference(chains: list[list[tuple[int, int]]]) -> None:
    ks = KernelState(len(chains) + 1, 16)
    for i, chain in enumerate(chains, start=1):
        ts = np.array([t for t, _ in chain], dtype=np.int64)
        bits = np.array([b for _, b in chain], dtype=np.int64)
        assert hk.append_chain(i, ts, bits, 0, hk.F_OOO_FIRST, hk.F_OOO_LAST, hk.F_OOO_COUNT, ks.series,
                               ks.state, ks.page_next, ks.page_ts, ks.page_bits) == len(chain)
    refs = np.arange(1, len(chains) + 1)
    firsts = np.ascontiguousarray(ks.series[refs, hk.F_OOO_FIRST])
    counts = np.ascontiguousarray(ks.series[refs, hk.F_OOO_COUNT])
    out_ts = np.empty(int(counts.sum()), np.int64)
    out_bits = np.empty(int(counts.sum()), np.int64)
    hk.gather_chains(firsts, counts, ks.page_next, ks.page_ts, ks.page_bits, out_ts, out_bits)
    assert (out_ts.tolist(), out_bits.tolist()) == ref_head.gather_chains(chains)
    used = int(ks.state[hk.S_BUMP])
    hk.free_chains(firsts, counts, ks.page_next, ks.state)
    free, page = 0, ks.state[hk.S_FREE]
    while page >= 0:
        free += 1
        page = ks.page_next[page]
    assert free == used


@pytest.mark.kernel
@given(lists=st.lists(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=4), max_size=4),
       mint=st.integers(0, 60), span=st.integers(0, 60), data=st.binary(min_size=64, max_size=64))
def test_collect_chunks_and_gather_bytes_match_reference(lists: list[list[tuple[int, int]]], mint: int, span: int,
                                                         data: bytes) -> None:
    series = np.full((len(lists) + 1, hk.NFIELDS), -1, dtype=np.int64)
    total = sum(len(chunks) for chunks in lists)
    chunk_next = np.zeros(total, np.int64)
    c_mint = np.zeros(total, np.int64)
    c_maxt = np.zeros(total, np.int64)
    starts = np.array([(7 * i) % 48 for i in range(total)], dtype=np.int64)
    lengths = np.array([i % 16 for i in range(total)], dtype=np.int64)
    ids, owners, ref_lists = [], [], []
    cid = 0
    for r, chunks in enumerate(lists, start=1):
        mine = []
        for lo, width in chunks:
            c_mint[cid], c_maxt[cid] = lo, lo + width
            ids.append(cid)
            owners.append(r)
            mine.append((cid, lo, lo + width))
            cid += 1
        ref_lists.append(mine)
    hk.link_chunks(np.array(ids, dtype=np.int64), np.array(owners, dtype=np.int64), series, chunk_next)
    refs = np.arange(1, len(lists) + 1, dtype=np.int64)
    got_ids, offsets = hk.collect_chunks(refs, series, chunk_next, c_mint, c_maxt, mint, mint + span)
    exp_ids, exp_offsets = ref_head.collect_chunks(ref_lists, mint, mint + span)
    assert got_ids.tolist() == exp_ids and offsets.tolist() == exp_offsets
    buf, boffs = hk.gather_bytes(got_ids, starts, lengths, np.frombuffer(data, dtype=np.uint8))
    exp_buf, exp_boffs = ref_head.gather_bytes(exp_ids, starts.tolist(), lengths.tolist(), data)
    assert buf.tobytes() == exp_buf and boffs.tolist() == exp_boffs


# -- the head ---------------------------------------------------------------------------------------
def fill(head: Head, series: dict[Labels, tuple[list[int], list[float]]]) -> None:
    app = head.appender()
    for labels, (ts, values) in series.items():
        app.append(labels, np.array(ts, dtype=np.int64), np.array(values, dtype=np.float64))
    result = app.commit()
    assert not result.rejected, result.summary()


def read_all(head: Head, mint: int = -(2**62), maxt: int = 2**62,
             matchers: list[Matcher] | None = None) -> dict[Labels, tuple[list[int], list[float]]]:
    out = {}
    for s in head.querier(mint, maxt).select(matchers or [Matcher("=~", "__name__", ".+")]):
        ts, values = s.samples()
        out[s.labels] = (ts.tolist(), values.tolist())
    return out


def test_head_satisfies_protocols() -> None:
    head = Head()
    assert isinstance(head, Appendable) and isinstance(head, Queryable)
    assert isinstance(head.querier(0, 1), Querier)


def test_invalid_options() -> None:
    with pytest.raises(InvalidArgumentError):
        Head(chunk_range=0)
    with pytest.raises(InvalidArgumentError):
        Head(out_of_order_window=-1)


def test_chunks_cut_at_120_samples_and_read_back() -> None:
    head = Head()
    ts = np.arange(1000, dtype=np.int64) * 15_000  # 480 samples per 2h block range
    fill(head, {lb(__name__="a"): (ts.tolist(), (ts * 0.5).tolist())})
    ref = head.get_ref(lb(__name__="a"))
    counts = head.chunk_count[: head.num_chunks].tolist()
    assert counts == [120] * 8
    assert head.series[ref, hk.F_OPEN_COUNT] == 40
    got = read_all(head)[lb(__name__="a")]
    assert got == (ts.tolist(), (ts * 0.5).tolist())
    part = read_all(head, 150_500, 4_000_000)[lb(__name__="a")]
    assert part[0] == list(range(165_000, 4_000_001, 15_000))


def test_chunk_end_time_is_predicted_and_capped_at_twice_the_target() -> None:
    head = Head()
    slow = list(range(0, 30_000, 1000))  # 30 samples at 1/s predict an end near 116 s
    fast = list(range(30_000, 30_500))  # then 1/ms: the 240 cap cuts first
    fill(head, {lb(__name__="a"): (slow + fast, [1.0] * 530)})
    assert head.chunk_count[: head.num_chunks].tolist() == [240, 120, 120]  # then the rate is steady
    regular = Head()
    fill(regular, {lb(__name__="a"): (list(range(0, 500_000, 1000)), [1.0] * 500)})
    assert regular.chunk_count[: regular.num_chunks].tolist() == [117, 117, 117, 117]


def test_chunks_cut_at_block_boundary() -> None:
    head = Head(chunk_range=2 * H)
    ts = [2 * H - 2000, 2 * H - 1000, 2 * H, 2 * H + 1000, 4 * H + 5]
    fill(head, {lb(__name__="a"): (ts, [1.0] * 5)})
    n = head.num_chunks
    assert list(zip(head.chunk_mint[:n].tolist(), head.chunk_maxt[:n].tolist(), strict=True)) == [
        (2 * H - 2000, 2 * H - 1000), (2 * H, 2 * H + 1000)]
    assert read_all(head)[lb(__name__="a")][0] == ts


def test_chunk_cut_respects_chunk_samples_option() -> None:
    head = Head(chunk_samples=240)
    fill(head, {lb(__name__="a"): (list(range(500)), [0.0] * 500)})
    assert head.chunk_count[: head.num_chunks].tolist() == [240, 240]


def test_chunks_over_max_bytes_are_split() -> None:
    head = Head(max_chunk_bytes=1)
    fill(head, {lb(__name__="a"): (list(range(0, 300_000, 1000)), list(np.random.default_rng(0).random(300)))})
    assert head.chunk_count[: head.num_chunks].tolist() == [1] * 234
    assert read_all(head)[lb(__name__="a")][0] == list(range(0, 300_000, 1000))
    head = Head(max_chunk_bytes=2**62)
    fill(head, {lb(__name__="a"): (list(range(0, 300_000, 1000)), [1.0] * 300)})
    assert head.chunk_count[: head.num_chunks].tolist() == [117, 117]
    assert read_all(head)[lb(__name__="a")][0] == list(range(0, 300_000, 1000))


def test_default_chunks_stay_within_1kib() -> None:
    head = Head(chunk_samples=240)  # ~240-sample chunks of ~8 bytes per sample must be split
    bits = np.random.default_rng(1).integers(0, 2**62, 1000, dtype=np.int64)  # incompressible values
    values = bits.view(np.float64)
    app = head.appender()
    app.append(lb(__name__="a"), np.arange(0, 1_000_000, 1000), values)
    assert app.commit().accepted == 1000
    n = head.num_chunks
    assert n and int(head.chunk_len[:n].max()) <= 1024 and int(head.chunk_count[:n].max()) < 200
    _, got = next(iter(head.querier(0, 10**7).select([Matcher("=", "__name__", "a")]))).samples()
    assert got.view(np.int64).tolist() == bits.tolist()


def test_stale_nan_bits_survive() -> None:
    head = Head()
    fill(head, {lb(__name__="a"): ([1, 2], [STALE_NAN, float("nan")])})
    _, values = next(iter(head.querier(0, 10).select([Matcher("=", "__name__", "a")]))).samples()
    assert values.view(np.uint64)[0] == 0x7FF0000000000002
    assert values.view(np.uint64)[1] != 0x7FF0000000000002


SERIES = [lb(__name__="up", job="a", instance="x"), lb(__name__="up", job="b", instance="y"),
          lb(__name__="cpu", job="a", mode="idle"), lb(__name__="cpu", job="a", mode="user"),
          lb(__name__="cpu", job="c"), lb(__name__="mem\nx", job="b")]
MATCHERS = [
    [Matcher("=", "__name__", "up")], [Matcher("!=", "job", "a")], [Matcher("=~", "job", "a|b")],
    [Matcher("!~", "mode", "id.*")], [Matcher("=", "mode", "")], [Matcher("!=", "mode", "")],
    [Matcher("=~", "__name__", ".+"), Matcher("=~", "job", "")], [Matcher("=~", "job", ".*")],
    [Matcher("=", "__name__", "cpu"), Matcher("!~", "mode", "user|")], [Matcher("=", "nope", "x")],
    [Matcher("=~", "__name__", "mem.x")], [Matcher("=~", "job", "(?i)A")],
]


@pytest.mark.parametrize("matchers", MATCHERS, ids=[",".join(map(str, m)) for m in MATCHERS])
def test_select_matches_brute_force(matchers: list[Matcher]) -> None:
    head = Head()
    fill(head, {s: ([i * 10, i * 10 + 5], [float(i), 1.0]) for i, s in enumerate(SERIES)})
    got = [s.labels for s in head.querier(0, 1000).select(matchers)]
    assert got == sorted(s for s in SERIES if matches_all(matchers, s))
    local = [head.labels_of(r) for r in select_refs_local(head, matchers).tolist()]
    assert sorted(local) == got  # type: ignore[type-var]
    # a range without data excludes every series
    assert list(head.querier(100, 200).select(matchers)) == []


def test_label_names_and_values() -> None:
    head = Head()
    fill(head, {s: ([i * 10], [1.0]) for i, s in enumerate(SERIES)})
    q = head.querier(0, 1000)
    assert q.label_names() == ["__name__", "instance", "job", "mode"]
    assert q.label_values("job") == ["a", "b", "c"]
    assert q.label_values("job", [Matcher("=", "__name__", "cpu")]) == ["a", "c"]
    assert q.label_names([Matcher("=", "__name__", "up")]) == ["__name__", "instance", "job"]
    assert q.label_values("nope") == []
    # range restricted: only series with samples in [15, 25]
    assert head.querier(15, 25).label_values("__name__") == ["cpu"]
    assert head.querier(15, 25).label_names() == ["__name__", "job", "mode"]
    assert head.label_values("job") == ["a", "b", "c"] and head.all_postings().tolist() == [1, 2, 3, 4, 5, 6]


def test_postings_stay_sorted_and_cached() -> None:
    head = Head()
    fill(head, {lb(__name__="a", i=str(i)): ([1], [1.0]) for i in range(5)})
    first = head.postings("__name__", "a")
    assert first.tolist() == [1, 2, 3, 4, 5]
    assert head.postings("__name__", "a") is first
    fill(head, {lb(__name__="a", i="new"): ([1], [1.0])})
    assert head.postings("__name__", "a").tolist() == [1, 2, 3, 4, 5, 6]
    head.replay_series([3, 10], [lb(__name__="a", i="2"), lb(__name__="b")])  # 3 known: no-op
    assert head.postings("__name__", "b").tolist() == [10]
    assert head.postings("", "").tolist() == [1, 2, 3, 4, 5, 6, 10]


def test_delete_hides_samples_in_range() -> None:
    head = Head()
    fill(head, {lb(__name__="a", k="1"): (list(range(10)), [1.0] * 10),
                lb(__name__="a", k="2"): (list(range(10)), [2.0] * 10)})
    assert head.delete([Matcher("=", "k", "1")], 3, 5) == [head.get_ref(lb(__name__="a", k="1"))]
    got = read_all(head)
    assert got[lb(__name__="a", k="1")][0] == [0, 1, 2, 6, 7, 8, 9]
    assert got[lb(__name__="a", k="2")][0] == list(range(10))
    ref2 = head.get_ref(lb(__name__="a", k="2"))
    assert head.select_refs([Matcher("=", "k", "2")]).tolist() == [ref2]
    head.add_tombstones([ref2, 999], -100, 100)  # unknown refs ignored (replay of a collected series)
    assert lb(__name__="a", k="2") not in read_all(head)
    assert head.querier(0, 100).label_values("k") == ["1"]
    assert head.has_series(ref2) and not head.has_series(999) and not head.has_series(0)


def test_truncate_drops_old_data_collects_series_and_raises_bound() -> None:
    head = Head(chunk_range=1000, chunk_samples=120)
    fill(head, {lb(__name__="old"): (list(range(0, 1000, 10)), [1.0] * 100),
                lb(__name__="both"): (list(range(0, 3000, 10)), [2.0] * 300)})
    old_ref = head.get_ref(lb(__name__="old"))
    removed = head.truncate(2000)
    assert removed == [old_ref]
    assert head.num_series == 1 and head.get_ref(lb(__name__="old")) == 0
    assert head.postings("__name__", "old").tolist() == []
    got = read_all(head)
    assert list(got) == [lb(__name__="both")]
    assert got[lb(__name__="both")][0] == list(range(2000, 3000, 10))
    assert head.min_time == 2000 and head.max_time == 2990
    app = head.appender()
    app.append(lb(__name__="new"), np.array([1999, 2000]), np.array([1.0, 2.0]))
    result = app.commit()
    assert result.accepted == 1 and result.rejected["out_of_bounds"].count == 1
    # a series recreated after collection gets a fresh ref
    assert head.get_ref(lb(__name__="new")) > old_ref


def test_truncate_within_open_and_ooo_chains() -> None:
    head = Head(out_of_order_window=10_000)
    fill(head, {lb(__name__="a"): (list(range(100, 200)), [1.0] * 100)})
    app = head.appender()
    app.append(lb(__name__="a"), np.array([50, 150, 60]), np.array([5.0, 6.0, 7.0]))
    assert app.commit().accepted == 2  # 150 exists already with another value
    head.truncate(55)
    ts, values = read_all(head)[lb(__name__="a")]
    assert ts == [60, *range(100, 200)] and values[0] == 7.0
    head.truncate(150)
    assert read_all(head)[lb(__name__="a")][0] == list(range(150, 200))
    assert head.stats().num_samples == 50
    assert head.truncate(10_000) == [1] and head.num_series == 0 and head.stats().num_samples == 0


def test_series_for_block_is_sorted_and_half_open() -> None:
    head = Head()
    fill(head, {lb(__name__="b"): ([0, 5, 10], [1.0, 2.0, 3.0]), lb(__name__="a"): ([10, 11], [1.0, 2.0]),
                lb(__name__="c"): ([20], [1.0])})
    out = list(head.series_for_block(0, 11))
    assert [s.labels for s in out] == [lb(__name__="a"), lb(__name__="b")]
    assert out[0].ts.tolist() == [10] and out[1].ts.tolist() == [0, 5, 10]


def test_replay_applies_samples_and_drops_bad_ones() -> None:
    head = Head()
    head.replay_series([5, 7], [lb(__name__="a"), lb(__name__="b")])
    result = head.replay_samples(np.array([5, 5, 7, 5, 99]), np.array([1, 2, 1, 1, 1]),
                                 np.array([1.0, 2.0, 3.0, 9.0, 1.0]))
    assert result.accepted == 3
    assert result.rejected["out_of_order"].count == 1 and result.rejected["unknown_series"].count == 1
    assert head.replay_dropped == 2
    assert read_all(head) == {lb(__name__="a"): ([1, 2], [1.0, 2.0]), lb(__name__="b"): ([1], [3.0])}
    # new series continue after the highest replayed ref
    fill(head, {lb(__name__="c"): ([1], [1.0])})
    assert head.get_ref(lb(__name__="c")) == 8
    # a duplicate series record under another ref aliases the first one
    head.replay_series([9], [lb(__name__="a")])
    head.replay_samples(np.array([9]), np.array([3]), np.array([4.0]))
    assert read_all(head)[lb(__name__="a")][0] == [1, 2, 3]
    with pytest.raises(InvalidArgumentError, match="ref 5"):
        head.replay_series([5], [lb(__name__="other")])
    # refs beyond the table and aliases beyond it are handled without growing it per sample
    head.replay_series([5000], [lb(__name__="b")])
    result = head.replay_samples(np.array([5000, 10**9]), np.array([9, 9]), np.array([1.0, 1.0]))
    assert result.accepted == 1 and result.rejected["unknown_series"].count == 1
    fill(head, {lb(__name__="d"): ([1], [1.0])})
    assert head.get_ref(lb(__name__="d")) == 5001


def test_many_series_grow_arrays() -> None:
    head = Head(initial_series=4, initial_pages=2)
    series = {lb(__name__="m", i=str(i)): (list(range(i, i + 30)), [float(i)] * 30) for i in range(50)}
    fill(head, series)
    assert read_all(head) == series
    assert head.stats().num_series == 50 and head.stats().num_samples == 1500
