"""The line-protocol tokenizer kernel against its plain-Python reference (tests/reference/influx.py), and
the decoder's mapping to series."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference import influx as reference
from tsdb.ingest import influx_kernels as k
from tsdb.ingest.influx import parse, precision_factor
from tsdb.labels import Labels, LabelsCache

pytestmark = pytest.mark.kernel


def kernel_tokens(body: bytes) -> list[tuple[Any, ...]]:
    """The kernel's output in the reference's shape."""
    buf = np.frombuffer(body, np.uint8)
    lines = np.empty((body.count(b"\n") + 1, k.LINE_COLUMNS), np.int64)
    tags = np.empty((len(body) // 2 + 2, k.TAG_COLUMNS), np.int64)
    fields = np.empty((len(body) // 2 + 2, k.FIELD_COLUMNS), np.int64)
    numbuf = np.empty(len(body) + 2, np.uint8)
    counts = np.zeros(4, np.int64)
    k.tokenize(buf, lines, tags, fields, numbuf, counts)
    out: list[tuple[Any, ...]] = []
    for row in lines[:counts[0]].tolist():
        if row[k.L_STATUS] != k.OK:
            out.append((row[k.L_NO], row[k.L_STATUS]))
            continue
        t0, f0 = row[k.L_TAG_FIRST], row[k.L_FIELD_FIRST]
        tag_list = [(body[a:b], body[c:d]) for a, b, c, d in tags[t0:t0 + row[k.L_TAG_COUNT]].tolist()]
        field_list = [(body[ks:ke], kind, None if kind == k.KIND_STRING else numbuf[ns:ne].tobytes())
                      for ks, ke, kind, ns, ne in fields[f0:f0 + row[k.L_FIELD_COUNT]].tolist()]
        out.append((row[k.L_NO], k.OK, body[row[k.L_KEY_S]:row[k.L_KEY_E]], body[row[k.L_KEY_S]:row[k.L_MEAS_E]],
                    tag_list, field_list, row[k.L_TS] if row[k.L_HAS_TS] else None))
    return out


CASES = [
    b"cpu,host=a usage=1.5,idle=2i,up=true,n=3u,s=\"a b\" 1700000000000000000",
    b"m v=1\n\n# comment\n  m2,a=b v=-2.5e3 -5\r\nm3 v=.5",
    b"esc\\ m\\,x,t\\ k=v\\,a\\=l f\\=k=1",
    b"m,a= v=1\nm,=b v=1\nm,a v=1\nm\nm \nm v\nm v=\nm v=x\nm v=\"open\nm v=1 12a\nm v=1 99999999999999999999",
    b",a=b v=1\nm v=1,\nm v=\"a\"x\nm v=1i2 3\nm v=-i\nm v=1u 1\nm v=T,w=FALSE,x=False 0",
    b"m v=\"q \\\" x\" 1\nm v=\"back\\\\\" 2\nm\\ v=1",
]


@pytest.mark.parametrize("body", CASES)
def test_kernel_matches_reference_on_examples(body: bytes) -> None:
    assert kernel_tokens(body) == reference.tokenize(body)


_PIECES = [b"m", b"cpu", b",", b"=", b" ", b"\\", b"\"", b"\n", b"\r", b"#", b"-", b".", b"1", b"23", b"e",
           b"i", b"u", b"t", b"true", b"F", b"x", b"\t", b"a=b", b" v=1", b" 17"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map(b"".join))
def test_kernel_matches_reference_on_noise(body: bytes) -> None:
    assert kernel_tokens(body) == reference.tokenize(body)


_name = st.text("abcXY_ ,=\\.-9", min_size=1, max_size=6).map(lambda s: s.encode())
_value = st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode()),
                   st.integers(-2**63, 2**63 - 1).map(lambda i: f"{i}i".encode()),
                   st.sampled_from([b"true", b"f", b"\"s, =x\"", b"1u"]))


@st.composite
def _lines(draw: st.DrawFn) -> bytes:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        line = draw(_name)
        for _ in range(draw(st.integers(0, 2))):
            line += b"," + draw(_name) + b"=" + draw(_name)
        fields = [draw(_name) + b"=" + draw(_value) for _ in range(draw(st.integers(1, 3)))]
        line += b" " + b",".join(fields)
        if draw(st.booleans()):
            line += b" " + str(draw(st.integers(-2**63, 2**63 - 1))).encode()
        out.append(line)
    return b"\n".join(out)


@settings(max_examples=300, deadline=None)
@given(_lines())
def test_kernel_matches_reference_on_line_protocol(body: bytes) -> None:
    assert kernel_tokens(body) == reference.tokenize(body)


def test_parse_maps_fields_to_series() -> None:
    body = (b"cpu,host=a usage=1.5,idle=2i,s=\"x\" 1700000000000000000\n"
            b"cpu,host=a usage=3 1700000001000000000\n"
            b"bad\n"
            b",x=y v=1\n"
            b"mem free=5u")
    batch = parse(body, now_ms=123, db="tel", cache=LabelsCache())
    by_name = {lb["__name__"]: (lb, batch.ts[a:b].tolist(), batch.values[a:b].tolist())
               for lb, a, b in zip(batch.labels, batch.offsets[:-1].tolist(), batch.offsets[1:].tolist(), strict=True)}
    assert by_name["cpu_usage"] == (Labels({"__name__": "cpu_usage", "host": "a", "db": "tel"}),
                                    [1700000000000, 1700000001000], [1.5, 3.0])
    assert by_name["cpu_idle"][2] == [2.0]
    assert by_name["mem_free"][1:] == ([123], [5.0])
    assert [str(e) for e in batch.errors] == ["line 3: missing fields", "line 4: missing measurement"]
    assert batch.skipped_strings == 1


def test_parse_caches_labels_and_precision() -> None:
    cache = LabelsCache()
    first = parse(b"m v=1 2", 0, precision_factor("s"), cache=cache)
    again = parse(b"m v=2 3", 0, precision_factor("s"), cache=cache)
    assert first.labels[0] is again.labels[0] and again.ts.tolist() == [3000]
    assert parse(b"m v=1 -1500", 0, precision_factor("us")).ts.tolist() == [-2]  # floor to ms
    with pytest.raises(ValueError, match="precision"):
        precision_factor("m", v2=True)


def test_timestamps_past_int64_in_ms_are_invalid_lines() -> None:
    body = b"a v=1 100\nb v=2,s=\"x\",w=3 9223372036854775\nc v=4 -9223372036854775\n1st v=5 1"
    batch = parse(body, 0, precision_factor("h"))
    assert [str(e) for e in batch.errors] == ["line 2: invalid timestamp", "line 3: invalid timestamp"]
    assert [lb["__name__"] for lb in batch.labels] == ["a_v", "_1st_v"]
    assert batch.values.tolist() == [1.0, 5.0] and batch.ts.tolist() == [360_000_000, 3_600_000]
