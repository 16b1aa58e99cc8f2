"""The remote-write disk queue: batch encoding round-trip, torn tails, positions, the disk bound."""

from __future__ import annotations

import string
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.labels import Labels
from tsdb.remote.queue import Batch, DiskQueue, decode_batch, encode_batch, frame, read_records

_names = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=8)
_values = st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]),
                  min_size=1, max_size=12)


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    n = draw(st.integers(0, 5))
    labels = [Labels(draw(st.dictionaries(_names, _values, min_size=1, max_size=4))) for _ in range(n)]
    counts = [draw(st.integers(0, 6)) for _ in range(n)]
    total = sum(counts)
    ts = np.array(draw(st.lists(st.integers(-(2**62), 2**62), min_size=total, max_size=total)), dtype=np.int64)
    values = np.array(draw(st.lists(st.floats(allow_nan=False), min_size=total, max_size=total)),
                      dtype=np.float64)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return Batch(labels, offsets, ts, values)


def _equal(a: Batch, b: Batch) -> bool:
    return (a.labels == b.labels and np.array_equal(a.offsets, b.offsets) and np.array_equal(a.ts, b.ts)
            and np.array_equal(a.values, b.values))


@given(batches())
def test_encoding_round_trip(batch: Batch) -> None:
    assert _equal(decode_batch(encode_batch(batch)), batch)


@settings(max_examples=50, deadline=None)
@given(st.lists(batches(), min_size=1, max_size=4), st.data())
def test_torn_tail_is_ignored(batch_list: list[Batch], data: st.DataObject) -> None:
    stream = b"".join(frame(encode_batch(b)) for b in batch_list)
    last = len(frame(encode_batch(batch_list[-1])))
    cut = data.draw(st.integers(1, last))  # bytes missing from the last record
    records, end, corrupt = read_records(stream[:len(stream) - cut])
    assert not corrupt
    assert len(records) == len(batch_list) - 1
    assert end == len(stream) - last
    for (payload, _), batch in zip(records, batch_list, strict=False):
        assert _equal(decode_batch(payload), batch)


def _batch(name: str, n: int, start: int = 0) -> Batch:
    return Batch([Labels({"__name__": name})], np.array([0, n], dtype=np.int64),
                 np.arange(start, start + n, dtype=np.int64), np.ones(n))


def test_torn_tail_cut_at_open_and_position_persisted(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path, 1 << 30)
    for i in range(3):
        q.append(encode_batch(_batch("m", 10, i * 10)))
    records, pos = q.read(10)
    assert len(records) == 1
    q.ack(pos)
    q.close()
    segment = tmp_path / "00000000"
    with segment.open("ab") as f:
        f.write(b"\x10\x00\x00")  # a torn record header
    q = DiskQueue(tmp_path, 1 << 30)
    assert q.pending_samples == 20
    records, pos = q.read(1000)
    assert [decode_batch(r).ts[0] for r in records] == [10, 20]
    q.append(encode_batch(_batch("m", 5, 30)))  # appended after the cut tail, readable
    records, _ = q.read(1000)
    assert [decode_batch(r).ts[0] for r in records] == [30]
    q.rewind()
    records, _ = q.read(1000)
    assert len(records) == 3
    q.close()


def test_corrupt_record_skips_rest_of_segment(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path, 1 << 30, segment_bytes=1 << 20)
    q.append(encode_batch(_batch("m", 4)))
    q.append(encode_batch(_batch("m", 4, 4)))
    q.close()
    data = bytearray((tmp_path / "00000000").read_bytes())
    data[12] ^= 0xFF  # inside the first record's payload
    (tmp_path / "00000000").write_bytes(bytes(data))
    q = DiskQueue(tmp_path, 1 << 30)  # the whole segment is the (corrupt) tail: cut at open
    assert q.read(100)[0] == []
    q.close()


def test_segments_rotate_and_full_queue_drops_oldest(tmp_path: Path) -> None:
    record = len(frame(encode_batch(_batch("m", 100))))
    q = DiskQueue(tmp_path, max_bytes=record * 4, fsync="always", segment_bytes=record * 2)
    for i in range(10):
        q.append(encode_batch(_batch("m", 100, i * 100)))
    assert q.size_bytes <= record * 4
    assert q.dropped == 600
    assert q.pending_samples == 400
    records, pos = q.read(10_000)
    assert [int(decode_batch(r).ts[0]) for r in records] == [600, 700, 800, 900]
    q.ack(pos)
    assert q.pending_samples == 0
    assert len(list(tmp_path.glob("0*"))) == 1  # sent segments deleted
    q.sync()
    q.close()
    assert DiskQueue(tmp_path, 1 << 30).pending_samples == 0


def test_unreadable_position_resends_from_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    q = DiskQueue(tmp_path, 1 << 30)
    q.append(encode_batch(_batch("m", 3)))
    q.close()
    (tmp_path / "position").write_text("{not json")
    q = DiskQueue(tmp_path, 1 << 30)
    assert q.pending_samples == 3
    assert "position unreadable" in caplog.text
    q.close()


def test_bad_payload_is_a_value_error() -> None:
    payload = encode_batch(_batch("m", 3))
    with pytest.raises(ValueError):
        decode_batch(payload + b"x")


def test_default_segments_keep_a_small_bound(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path, max_bytes=1 << 20)
    for i in range(200):
        q.append(encode_batch(_batch("m", 1000, i * 1000)))  # about 16 KiB each, 3 MiB in all
    assert q.size_bytes <= 1 << 20
    assert q.dropped + q.pending_samples == 200_000 and q.dropped > 0
    assert len(list(tmp_path.glob("0*"))) <= 9
    q.close()


@pytest.mark.parametrize("max_bytes", [1 << 30, 1 << 20])
def test_concurrent_append_and_read(tmp_path: Path, max_bytes: int) -> None:
    q = DiskQueue(tmp_path, max_bytes=max_bytes, segment_bytes=64 << 10)
    total = 3000

    def writer() -> None:
        for i in range(total):
            q.append(encode_batch(_batch("m", 50, i * 50)))

    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[int] = []
    deadline = 60 + time.monotonic()
    while (thread.is_alive() or q.pending_samples) and time.monotonic() < deadline:
        records, pos = q.read(1000)
        batches = [decode_batch(r) for r in records]
        seen.extend(int(b.ts[0]) for b in batches)
        q.ack(pos)
    thread.join(timeout=30)
    assert q.pending_samples == 0
    assert seen == sorted(set(seen))  # in order, never twice
    if max_bytes == 1 << 30:
        assert seen == [i * 50 for i in range(total)]
    else:
        assert len(seen) * 50 + q.dropped >= total * 50
    q.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(batches(), min_size=1, max_size=4), st.data())
def test_reopen_after_any_truncation(batch_list: list[Batch], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        q = DiskQueue(path, 1 << 30)
        for batch in batch_list:
            q.append(encode_batch(batch))
        q.close()
        segment = path / "00000000"
        size = segment.stat().st_size
        keep = data.draw(st.integers(0, size))
        with segment.open("r+b") as f:
            f.truncate(keep)
        q = DiskQueue(path, 1 << 30)  # never raises: a torn tail is cut
        records, _ = q.read(1 << 30)
        ends = np.cumsum([len(frame(encode_batch(b))) for b in batch_list])
        whole = int(np.searchsorted(ends, keep, side="right"))
        assert len(records) == whole
        assert all(_equal(decode_batch(r), b) for r, b in zip(records, batch_list, strict=False))
        assert q.pending_samples == sum(b.samples for b in batch_list[:whole])
        q.append(encode_batch(_batch("after", 2)))
        assert [decode_batch(r).labels[0].metric_name for r in q.read(1 << 30)[0]] == ["after"]
        q.close()
