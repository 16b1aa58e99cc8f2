"""Graphite plaintext decoding: names, tags, timestamps and bad lines."""

from __future__ import annotations

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
