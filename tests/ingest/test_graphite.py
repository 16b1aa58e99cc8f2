"""Graphite plaintext decoding: names, tags, timestamps and bad lines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference.graphite import parse_ref, tokenize_ref
from tsdb.ingest import graphite_kernels as k
from tsdb.ingest.graphite import parse
from tsdb.labels import Labels, LabelsCache


def test_lines_tags_and_timestamps() -> None:
    body = (b"a.b.c 1.5 1700000000\n"
            b"a.b.c;dc=eu;x-y=1 2\n"
            b"a.b.c 3 1700000001.25\n"
            b"  \n"
            b"d.e 4 -1\r\n")
    batch = parse(body, now_ms=99, cache=LabelsCache())
    assert batch.labels == [Labels({"__name__": "a.b.c"}), Labels({"__name__": "a.b.c", "dc": "eu", "x_y": "1"}),
                            Labels({"__name__": "d.e"})]
    assert batch.offsets.tolist() == [0, 2, 3, 4]
    assert batch.ts.tolist() == [1700000000000, 1700000001250, 99, 99]
    assert batch.values.tolist() == [1.5, 3.0, 2.0, 4.0]
    assert not batch.errors


def test_bad_lines_are_named_and_the_rest_kept() -> None:
    body = b"ok 1 10\nonly_name\nx notnum 10\ny 1 nan\n;t=v 1\nz;novalue 1\nok 2 11\n"
    batch = parse(body, now_ms=0)
    assert [e.line for e in batch.errors] == [2, 3, 4, 5, 6]
    assert "empty metric name" in str(batch.errors[3]) and "not name=value" in str(batch.errors[4])
    assert batch.values.tolist() == [1.0, 2.0] and batch.bad_lines == 5


def test_cache_reuses_labels() -> None:
    cache = LabelsCache()
    first = parse(b"m;a=b 1 1", 0, cache)
    assert parse(b"m;a=b 2 2", 0, cache).labels[0] is first.labels[0]
    assert parse(b"", 0, cache).num_samples == 0


# -- the numba tokenizer against the references ---------------------------------------------------------
_TOKENS = st.sampled_from([b"a.b", b"x;t=v", b";t=v", b"m;bad", b"1", b"-2.5", b"1e3", b".5", b"5.", b"nan", b"-Inf",
                           b"infinity", b"1_0", b"0x1", b"e5", b"1e", b"+", b"-1", b"1700000000", b"1e300", b"\xff"])
_SEPARATORS = st.sampled_from([b" ", b"  ", b"\t", b" \r", b"\x0b"])


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        tokens = draw(st.lists(_TOKENS, max_size=4))
        seps = draw(st.lists(_SEPARATORS, min_size=len(tokens) + 1, max_size=len(tokens) + 1))
        lines.append(seps[0] + b"".join(t + s for t, s in zip(tokens, seps[1:], strict=True)))
    return b"\n".join(lines)


def _kernel_rows(body: bytes) -> list[tuple[int, int, bytes, int, list[bytes]]]:
    buf = np.frombuffer(body, np.uint8)
    n_rows = body.count(b"\n") + 1
    lines = np.empty((n_rows, k.LINE_COLUMNS), np.int64)
    numbuf = np.empty(len(body) + 3 * n_rows + 4, np.uint8)
    rows, n_num = k.tokenize(buf, lines, numbuf)
    texts = numbuf[:n_num].tobytes().split()
    out = []
    for no, status, ps, pe, fields in lines[:rows].tolist():
        pair = [texts.pop(0), texts.pop(0)] if status == k.OK else []
        out.append((no, status, body[ps:pe], fields, pair))
    assert not texts
    return out


@pytest.mark.kernel
@settings(max_examples=300, deadline=None)
@given(_bodies() | st.binary(max_size=80))
def test_tokenizer_and_parser_match_the_references(body: bytes) -> None:
    assert _kernel_rows(body) == tokenize_ref(body)
    got, want = parse(body, now_ms=7, cache=LabelsCache()), parse_ref(body, now_ms=7)
    assert got.labels == want.labels and got.offsets.tolist() == want.offsets.tolist()
    assert got.ts.tolist() == want.ts.tolist()
    np.testing.assert_array_equal(got.values, want.values)
    assert got.errors == want.errors and got.bad_lines == want.bad_lines


def test_timestamps_beyond_int64_milliseconds_are_bad_lines_not_crashes() -> None:
    batch = parse(b"a 1 1e300\nb 2 -9.3e15\nc 3 9.1e15\n", now_ms=0)
    assert [e.line for e in batch.errors] == [1, 2] and batch.ts.tolist() == [9_100_000_000_000_000_000]
