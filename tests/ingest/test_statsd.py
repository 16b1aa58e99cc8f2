"""StatsD / DogStatsD parsing and aggregation: the kernels against their references, and the mapping to series."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference.statsd import apply_gauges_ref, fnv1a64_ref, series_key_ref, tokenize_ref
from tsdb.errors import TsdbError
from tsdb.ingest.names import label_name
from tsdb.ingest.statsd import StatsdAggregator, StatsdListener, parse_tags
from tsdb.ingest.statsd_kernels import E_OK, F_ERR, apply_gauges, line_keys, match_keys, tokenize
from tsdb.labels import Labels

PIECES = [b"a", b"x.y-z", b":", b"|", b"1", b"2.5", b"-", b"+", b"e3", b".", b"c", b"g", b"ms", b"h", b"d", b"s",
          b"@0.5", b"@", b"#", b"k:v", b",", b"c:abc", b"T1700000000", b"T", b"\n", b"\r\n", b"_e{", b"_sc|", b"q"]
lines = st.lists(st.sampled_from(PIECES), max_size=30).map(b"".join)
structured = st.builds(
    lambda name, values, kind, rest: b"%b:%b|%b%b" % (name, b":".join(values), kind, b"".join(rest)),
    st.sampled_from([b"a", b"a.b", b"9x", b""]),
    st.lists(st.sampled_from([b"1", b"-2", b"+3.5", b".5", b"1e3", b"x", b"1.", b""]), min_size=1, max_size=3),
    st.sampled_from([b"c", b"g", b"ms", b"h", b"d", b"s", b"x"]),
    st.lists(st.sampled_from([b"|@0.1", b"|#env:prod,bare", b"|c:ctr", b"|T12", b"|", b"|zz", b"|@x"]), max_size=3))
datagrams = st.one_of(lines, st.lists(structured, max_size=5).map(b"\n".join))


@pytest.mark.kernel
@settings(deadline=None)
@given(datagrams)
def test_tokenize_matches_reference(data: bytes) -> None:
    fields, tokens = tokenize(np.frombuffer(data, np.uint8))
    rows, ref_tokens = tokenize_ref(data)
    assert fields.tolist() == rows
    assert [tuple(t) for t in tokens.tolist()] == ref_tokens


@pytest.mark.kernel
@settings(deadline=None)
@given(datagrams, st.data())
def test_series_keys_match_reference(data: bytes, draw: st.DataObject) -> None:
    buf = np.frombuffer(data, np.uint8)
    fields, _ = tokenize(buf)
    rows = fields[fields[:, F_ERR] == E_OK]
    keys = [series_key_ref(data, row) for row in rows.tolist()]
    hashes = line_keys(buf, rows)
    assert hashes.tolist() == [fnv1a64_ref(k) for k in keys]
    # a table holding some of the keys (and a colliding hash with other bytes) finds exactly those
    known = sorted(set(draw.draw(st.lists(st.sampled_from(keys)))) if keys else [])
    entries = [(fnv1a64_ref(k), k) for k in known] + [(fnv1a64_ref(k), b"other") for k in keys[:1]]
    entries.sort(key=lambda e: e[0])
    arena = b"".join(k for _, k in entries)
    ends = np.cumsum([len(k) for _, k in entries], dtype=np.int64)
    found = match_keys(buf, rows, hashes, np.array([h for h, _ in entries], np.uint64),
                       np.frombuffer(arena, np.uint8).copy() if arena else np.zeros(0, np.uint8),
                       ends - np.array([len(k) for _, k in entries], np.int64), ends)
    assert [entries[i][1] if i >= 0 else None for i in found.tolist()] == [k if k in known else None for k in keys]


@pytest.mark.kernel
@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(-1e6, 1e6), st.booleans()), max_size=40))
def test_apply_gauges_matches_reference(updates: list[tuple[int, float, bool]]) -> None:
    current = np.zeros(5)
    ids = np.array([u[0] for u in updates], np.int64)
    values = np.array([u[1] for u in updates], np.float64)
    relative = np.array([u[2] for u in updates], np.bool_)
    expected = apply_gauges_ref(current.tolist(), ids.tolist(), values.tolist(), relative.tolist())
    apply_gauges(current, ids, values, relative)
    assert current.tolist() == expected


@pytest.mark.kernel
@settings(deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_values_parse_as_python_floats(value: float) -> None:
    agg = StatsdAggregator()
    text = repr(value).encode()
    assert agg.ingest(b"g:%b|g" % text.lstrip(b"-")).accepted == 1
    ((_, _, got),) = agg.flush(0)
    assert got == float(text.lstrip(b"-"))


def _by_name(samples: list[tuple[Labels, int, float]]) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(lb.items())): v for lb, _, v in samples}


@pytest.mark.kernel
def test_mapping_of_every_type() -> None:
    agg = StatsdAggregator()
    result = agg.ingest(b"req.count:1|c|@0.5|#env:prod,bare,:x\nreq.count:2|c|#env:prod\n"
                        b"temp:5|g\ntemp:+3|g\ntemp:-1|g\nlat:100:200:300|ms\nsize:4|h|@0.5\nd:1|d\n"
                        b"users:alice|s\nusers:bob|s\nusers:alice|s\nc1:1|c|c:abc123\n")
    assert result.accepted == 12 and result.rejected == {} and result.tag_errors == 2
    got = _by_name(agg.flush(1000))
    assert got[(("__name__", "req_count"), ("env", "prod"))] == 4.0  # 1/0.5 + 2
    assert got[(("__name__", "temp"),)] == 7.0
    assert got[(("__name__", "lat_count"),)] == 3.0
    assert got[(("__name__", "lat_sum"),)] == pytest.approx(0.6)  # ms -> s
    assert got[(("__name__", "lat"), ("quantile", "0.5"))] == pytest.approx(0.2)
    assert got[(("__name__", "size_count"),)] == 2.0 and got[(("__name__", "size_sum"),)] == 8.0  # weighted 1/rate
    assert got[(("__name__", "users"),)] == 2.0
    assert got[(("__name__", "c1"), ("container_id", "abc123"))] == 1.0
    # counters stay cumulative, summaries keep _sum/_count, per-interval series go
    agg.ingest(b"req.count:1|c|#env:prod")
    again = _by_name(agg.flush(2000))
    assert again[(("__name__", "req_count"), ("env", "prod"))] == 5.0
    assert again[(("__name__", "lat_count"),)] == 3.0
    assert (("__name__", "users"),) not in again and (("__name__", "lat"), ("quantile", "0.5")) not in again


@pytest.mark.kernel
def test_bad_lines_are_counted_and_valid_ones_kept() -> None:
    agg = StatsdAggregator()
    result = agg.ingest(b"ok:1|c\nnocolon\nx:1|q\nx:abc|c\nx:1|c|@2\nx:1|c|@y\nx:1|c|T12x\nx:1|c||\n"
                        b"_e{5,4}:title|text\n_sc|svc|0\nok:1|g\n\n")
    assert result.accepted == 1
    assert result.ignored == 2
    assert result.rejected == {"malformed_line": 1, "bad_type": 1, "bad_value": 1, "bad_sample_rate": 2,
                               "bad_timestamp": 1, "bad_component": 1, "type_conflict": 1}
    assert _by_name(agg.flush(0)) == {(("__name__", "ok"),): 1.0}


def test_timestamp_and_tag_order() -> None:
    agg = StatsdAggregator()
    agg.ingest(b"g:1|g|#a:1,b:2|T1700000000\ng:2|g|#b:2,a:1")
    (sample,) = agg.flush(5)
    assert sample == (Labels({"__name__": "g", "a": "1", "b": "2"}), 1_700_000_000_000, 2.0)


def test_names_and_tags() -> None:
    assert label_name("a.b-c/d") == "a_b_c_d"
    assert label_name("1x") == "_1x"
    assert parse_tags("host:web-1,url:http://x,bare,k:,:v,__x:1") == ({"host": "web-1", "url": "http://x"}, 4)


def test_ingest_many_names_the_invalid_datagrams() -> None:
    agg = StatsdAggregator()
    result = agg.ingest_many([b"a:1|c", b"bad", b"b:1|c\nx\n", b"c:1|c\n", b"d:1|q"])
    assert (result.accepted, result.invalid_datagrams) == (3, 3)
    assert result.rejected == {"malformed_line": 2, "bad_type": 1}


def test_many_series_over_many_batches() -> None:
    agg = StatsdAggregator()
    for round_ in range(3):
        for start in range(0, 3000, 500):
            agg.ingest_many([b"m.%d:1|c|#k:%d" % (i, i % 7) for i in range(start, start + 500)])
        got = _by_name(agg.flush(round_))
        assert len(got) == 3000
        assert all(v == round_ + 1 for v in got.values())
    assert got[(("__name__", "m_42"), ("k", "0"))] == 3.0


def test_name_not_utf8_is_malformed() -> None:
    agg = StatsdAggregator()
    result = agg.ingest(b"caf\xe9:1|c\nok:1|c")
    assert result.rejected == {"malformed_line": 1} and result.accepted == 1


def test_listener_refuses_a_busy_port_and_survives_a_failing_store() -> None:
    class Broken:
        def appender(self) -> Any:
            raise OSError("disk full")

    async def scenario() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
            busy.bind(("127.0.0.1", 0))
            taken = StatsdListener(Broken(), udp=f"127.0.0.1:{busy.getsockname()[1]}")
            with pytest.raises(TsdbError, match="statsd: cannot listen on"):
                await taken.start()
        listener = StatsdListener(Broken(), udp="127.0.0.1:0", flush_interval_s=0.05)
        await listener.start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"a:1|c", ("127.0.0.1", listener.udp_port))
        for _ in range(100):  # the loop logs the failing flushes and goes on
            await asyncio.sleep(0.02)
            if listener.aggregator.series:
                break
        await asyncio.sleep(0.1)
        with pytest.raises(OSError, match="disk full"):
            await listener.stop()

    asyncio.run(scenario())
