"""The WAL: round-trips across pages and segments, torn tails, corruption and repair, disk errors."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.storage.disk_full import file_size_limit
from tsdb.errors import CorruptionError, InvalidArgumentError, StorageError
from tsdb.storage.wal.reader import WALReader, read_records
from tsdb.storage.wal.segments import list_segments, segment_path
from tsdb.storage.wal.writer import WAL

PAGE = 128
SEGMENT = 8 * PAGE
# largest record that fits a SEGMENT-byte segment of PAGE-byte pages
MAX_RECORD = 8 * (PAGE - 7)


def _open(path: Path, **kw: object) -> WAL:
    """A small WAL; uncompressed unless asked (the layout tests count bytes and fragments)."""
    kw.setdefault("compression", "none")
    return WAL.open(path, segment_size=SEGMENT, page_size=PAGE, **kw)  # type: ignore[arg-type]


def _read(path: Path, **kw: object) -> list[bytes]:
    return list(WALReader(path, page_size=PAGE, **kw))  # type: ignore[arg-type]


def _payloads(n: int, size: int = 50) -> list[bytes]:
    return [bytes([i % 251]) * (size + i % 7) for i in range(n)]


RECORD = st.one_of(
    st.binary(min_size=1, max_size=3 * PAGE),  # rarely compressible: written as is
    st.builds(lambda unit, n: unit * n, st.binary(min_size=1, max_size=8), st.integers(2, 40)),  # compressible
)
COMPRESSION = st.sampled_from(["none", "snappy"])


@given(st.lists(st.lists(RECORD, max_size=4), max_size=8), st.integers(0, 3), st.sampled_from(["always", "never", 5.0]),
       COMPRESSION, COMPRESSION)
def test_round_trip_across_pages_and_segments(batches: list[list[bytes]], reopen_after: int,
                                              fsync: str | float, before: str, after: str) -> None:
    """Any records, any fsync policy, the compression switched on or off at a reopen: read back as written."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wal"
        wal = _open(path, fsync=fsync, compression=before)
        for i, batch in enumerate(batches):
            if i == reopen_after:
                wal.close()
                wal = _open(path, fsync=fsync, compression=after)
            wal.log(*batch)
        size = wal.size_bytes
        wal.close()
        expected = [r for batch in batches for r in batch]
        reader = WALReader(path, page_size=PAGE)
        entries = list(reader.entries())
        assert [r for _, _, r in entries] == expected
        assert entries == sorted(entries, key=lambda e: (e[0], e[1]))
        assert size == sum(segment_path(path, i).stat().st_size for i in list_segments(path))
        assert all(segment_path(path, i).stat().st_size <= SEGMENT for i in list_segments(path))
        assert reader.repairs == []


def test_positions_and_segment_range(tmp_path: Path) -> None:
    wal = _open(tmp_path)
    wal.log(b"a", b"b")
    assert wal.next_segment() == 1
    wal.log(b"c")
    assert wal.segments() == (0, 1)
    wal.close()
    entries = list(WALReader(tmp_path, page_size=PAGE).entries())
    assert entries == [(0, 0, b"a"), (0, 8, b"b"), (1, 0, b"c")]
    assert _read(tmp_path, from_segment=1) == [b"c"]
    assert _read(tmp_path, to_segment=0) == [b"a", b"b"]
    assert list(read_records(tmp_path / "missing")) == []


def test_reopen_continues_in_a_fresh_segment(tmp_path: Path) -> None:
    with _open(tmp_path) as wal:
        wal.log(b"one")
    with _open(tmp_path) as wal:
        assert wal.current_segment == 1
        wal.log(b"two")
    assert _read(tmp_path) == [b"one", b"two"]


def test_batch_that_does_not_fit_goes_whole_to_a_new_segment(tmp_path: Path) -> None:
    with _open(tmp_path) as wal:
        wal.log(b"a" * 500)
        wal.log(b"b" * 300, b"c" * 300)
    assert [s for s, _, _ in WALReader(tmp_path, page_size=PAGE).entries()] == [0, 1, 1]


def test_batch_larger_than_a_segment_spans_segments(tmp_path: Path) -> None:
    records = _payloads(40, size=90)
    with _open(tmp_path) as wal:
        wal.log(*records)
        assert wal.segments()[1] >= 3
    assert _read(tmp_path) == records


def test_record_that_cannot_fit_a_segment_is_rejected(tmp_path: Path) -> None:
    with _open(tmp_path) as wal:
        wal.log(b"x" * MAX_RECORD)
        with pytest.raises(InvalidArgumentError, match="does not fit"):
            wal.log(b"ok", b"x" * (MAX_RECORD + 1))
        wal.log(b"after")
    assert _read(tmp_path) == [b"x" * MAX_RECORD, b"after"]


def test_empty_record_is_rejected(tmp_path: Path) -> None:
    with _open(tmp_path) as wal, pytest.raises(InvalidArgumentError, match="empty"):
        wal.log(b"a", b"")
    assert _read(tmp_path) == []


def test_concurrent_log_keeps_each_batch_whole(tmp_path: Path) -> None:
    wal = _open(tmp_path)

    def worker(k: int) -> None:
        for i in range(50):
            wal.log(b"%d-%d-a" % (k, i), b"%d-%d-b" % (k, i))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    wal.close()
    got = _read(tmp_path)
    assert len(got) == 400
    for a, b in zip(got[::2], got[1::2], strict=True):
        assert a[:-1] == b[:-1] and a.endswith(b"a") and b.endswith(b"b")
    for k in range(4):
        mine = [r for r in got[::2] if r.startswith(b"%d-" % k)]
        assert mine == [b"%d-%d-a" % (k, i) for i in range(50)]


@pytest.mark.parametrize(("policy", "expected"), [("always", 3), (True, 3), ("never", 0), (False, 0), (3600.0, 0)])
def test_fsync_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: object, expected: int) -> None:
    calls: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    wal = _open(tmp_path, fsync=policy)
    for i in range(3):
        wal.log(b"%d" % i)
    assert len(calls) == expected
    wal.sync()
    assert len(calls) == expected + 1
    wal.close()


def test_sync_failure_is_a_storage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    wal = _open(tmp_path)
    wal.log(b"w")
    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(StorageError, match="cannot sync"):
        wal.log(b"x", b"x2")
    monkeypatch.undo()
    wal.log(b"y")
    wal.close()
    assert _read(tmp_path) == [b"w", b"y"]  # the unacknowledged batch was removed


def test_unusable_directory_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StorageError, match="cannot create WAL directory"):
        _open(tmp_path / "file")


def test_truncate_deletes_older_segments_and_size_follows(tmp_path: Path) -> None:
    wal = _open(tmp_path)
    for i in range(4):
        wal.log(b"r%d" % i)
        wal.next_segment()
    assert wal.segments() == (0, 4)
    before = wal.size_bytes
    wal.truncate(2)
    assert wal.segments() == (2, 4)
    assert wal.size_bytes == before - 2 * 9
    with pytest.raises(InvalidArgumentError, match="current"):
        wal.truncate(5)
    wal.close()
    wal.close()  # idempotent
    with pytest.raises(InvalidArgumentError, match="closed"):
        wal.log(b"late")
    assert _read(tmp_path) == [b"r2", b"r3"]


@pytest.mark.parametrize("kwargs", [{"fsync": "sometimes"}, {"fsync": -1}, {"segment_size": 1000},
                                    {"page_size": 4}])
def test_invalid_options(tmp_path: Path, kwargs: dict[str, object]) -> None:
    opts: dict[str, object] = {"segment_size": SEGMENT, "page_size": PAGE, **kwargs}
    with pytest.raises(InvalidArgumentError):
        WAL.open(tmp_path, **opts)  # type: ignore[arg-type]


def test_missing_segment_is_corruption(tmp_path: Path) -> None:
    with _open(tmp_path) as wal:
        for _ in range(3):
            wal.log(b"r")
            wal.next_segment()
    segment_path(tmp_path, 1).unlink()
    with pytest.raises(CorruptionError, match="missing") as info:
        _read(tmp_path)
    assert info.value.path == str(segment_path(tmp_path, 1))


# -- torn tails -------------------------------------------------------------------------------------
def _write_fixture(path: Path) -> tuple[list[bytes], int, int]:
    """Records over two segments; the last spans several pages. Returns (records, start, end) of the last."""
    records = [*_payloads(5), b"z" * (3 * PAGE)]
    with _open(path) as wal:
        wal.log(*records[:3])
        wal.next_segment()
        wal.log(*records[3:])
    entries = list(WALReader(path, page_size=PAGE).entries())
    last_seg, last_off, _ = entries[-1]
    assert last_seg == 1
    return records, last_off, segment_path(path, 1).stat().st_size


def test_torn_tail_at_every_offset_is_cut(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pristine = tmp_path / "pristine"
    records, start, end = _write_fixture(pristine)
    for cut in range(start, end):
        work = tmp_path / f"cut{cut}"
        shutil.copytree(pristine, work)
        with open(segment_path(work, 1), "r+b") as f:
            f.truncate(cut)
        with caplog.at_level(logging.WARNING, logger="tsdb.storage.wal"):
            caplog.clear()
            assert _read(work) == records[:-1], cut
        if cut > start:
            assert "torn tail" in caplog.text and str(segment_path(work, 1)) in caplog.text
        assert start - PAGE < segment_path(work, 1).stat().st_size <= start  # at most page padding before it
        with _open(work) as wal:
            wal.log(b"new")
        assert _read(work) == [*records[:-1], b"new"]
        shutil.rmtree(work)


def test_open_for_writing_cuts_torn_tail(tmp_path: Path) -> None:
    records, start, end = _write_fixture(tmp_path)
    with open(segment_path(tmp_path, 1), "r+b") as f:
        f.truncate(end - 3)
    with _open(tmp_path) as wal:
        assert start - PAGE < segment_path(tmp_path, 1).stat().st_size <= start
        wal.log(b"new")
    assert _read(tmp_path) == [*records[:-1], b"new"]


def test_garbage_tail_of_zeros_is_padding(tmp_path: Path) -> None:
    records, _, end = _write_fixture(tmp_path)
    with open(segment_path(tmp_path, 1), "ab") as f:
        f.write(bytes(PAGE - end % PAGE))
    assert _read(tmp_path) == records


# -- corruption before the tail ------------------------------------------------------------------------
def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x40]))


@pytest.mark.parametrize("segment", [0, 1])
def test_corruption_in_the_middle_raises_then_repairs(tmp_path: Path, segment: int) -> None:
    records, _, _ = _write_fixture(tmp_path)
    entries = list(WALReader(tmp_path, page_size=PAGE).entries())
    victim = [e for e in entries if e[0] == segment][1]  # the second record of that segment
    index = entries.index(victim)
    _flip(segment_path(tmp_path, segment), victim[1] + 10)
    with pytest.raises(CorruptionError, match="checksum") as info:
        _read(tmp_path)
    assert info.value.path == str(segment_path(tmp_path, segment))
    assert info.value.offset == victim[1]
    if segment == 1:  # the last segment is checked when opening for writing too
        with pytest.raises(CorruptionError):
            _open(tmp_path)
    size_before = sum(segment_path(tmp_path, i).stat().st_size for i in list_segments(tmp_path))
    reader = WALReader(tmp_path, page_size=PAGE, repair=True)
    assert list(reader) == records[:index]
    [report] = reader.repairs
    assert (report.segment, report.offset) == (segment, victim[1])
    assert report.deleted_segments == ((1,) if segment == 0 else ())
    size_after = sum(segment_path(tmp_path, i).stat().st_size for i in list_segments(tmp_path))
    assert report.dropped_bytes == size_before - size_after > 0
    with _open(tmp_path) as wal:
        wal.log(b"new")
    assert _read(tmp_path) == [*records[:index], b"new"]


def test_open_with_repair_fixes_last_segment(tmp_path: Path) -> None:
    records, _, _ = _write_fixture(tmp_path)
    _flip(segment_path(tmp_path, 1), 20)
    with _open(tmp_path, repair=True) as wal:
        wal.log(b"new")
    assert _read(tmp_path) == [*records[:3], b"new"]


# -- disk errors ------------------------------------------------------------------------------------
class _FullDisk:
    """Replaces ``os.write`` for WAL segment files: accepts ``room`` more bytes, then ENOSPC."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.real = os.write

    def __call__(self, fd: int, data: bytes | memoryview) -> int:
        if len(data) <= self.room:
            self.room -= len(data)
            return self.real(fd, data)
        if self.room > 0:
            n = self.real(fd, bytes(data[: self.room]))
            self.room = 0
            return n  # a short write; the next call fails
        raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_raises_storage_error_and_recovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal = _open(tmp_path)
    good = _payloads(3)
    wal.log(*good)
    size = segment_path(tmp_path, 0).stat().st_size
    full = _FullDisk(room=30)
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StorageError, match="offset") as info:
        wal.log(b"big" * 100)
    assert info.value.__cause__ is not None and info.value.__cause__.errno == errno.ENOSPC  # type: ignore[attr-defined]
    assert segment_path(tmp_path, 0).stat().st_size == size  # the half record was cut off
    assert wal.size_bytes == size
    assert _read(tmp_path) == good
    full.room = 10**9  # space returns
    wal.log(b"after")
    wal.close()
    assert _read(tmp_path) == [*good, b"after"]


def test_failed_cut_back_moves_to_a_new_segment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal = _open(tmp_path)
    wal.log(b"good")
    full = _FullDisk(room=20)
    monkeypatch.setattr(os, "write", full)

    def no_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "ftruncate", no_truncate)
    with pytest.raises(StorageError):
        wal.log(b"x" * 100)
    monkeypatch.undo()
    wal.log(b"after")
    wal.close()
    assert list_segments(tmp_path) == [0, 1]
    # the half record can never pass as valid data: it is reported as corruption, not replayed
    with pytest.raises(CorruptionError) as info:
        _read(tmp_path)
    assert info.value.path == str(segment_path(tmp_path, 0))


def test_real_write_failure_past_a_file_size_limit(tmp_path: Path) -> None:
    """Real failing writes (EFBIG past RLIMIT_FSIZE, as ENOSPC on a full disk), no privileges needed."""
    wal = WAL.open(tmp_path / "wal", segment_size=1024 * 1024, page_size=32 * 1024, compression="none")
    written = []
    with file_size_limit(192 * 1024) as limit:
        with pytest.raises(StorageError, match="00000000"):
            for i in range(1000):
                rec = bytes([i % 256]) * 1000
                wal.log(rec)
                written.append(rec)
        assert 100 < len(written) < 200
        assert _read_default(tmp_path / "wal") == written
        limit.lift()  # space returns: the WAL works again
        wal.log(b"after")
        wal.close()
    assert _read_default(tmp_path / "wal") == [*written, b"after"]


def _read_default(path: Path) -> list[bytes]:
    return list(read_records(path))


# -- properties under damage -------------------------------------------------------------------------
def _write_batches(path: Path, batches: list[list[bytes]], compression: str = "none") -> list[bytes]:
    with _open(path, fsync="never", compression=compression) as wal:
        for batch in batches:
            wal.log(*batch)
    return [r for batch in batches for r in batch]


@given(st.lists(st.lists(RECORD, min_size=1, max_size=3), min_size=1, max_size=6), COMPRESSION, st.data())
def test_cut_anywhere_in_last_segment_yields_a_prefix(batches: list[list[bytes]], compression: str,
                                                      data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        written = _write_batches(path, batches, compression)
        last = segment_path(path, list_segments(path)[-1])
        cut = data.draw(st.integers(0, last.stat().st_size))
        with open(last, "r+b") as f:
            f.truncate(cut)
        got = _read(path)
        assert got == written[: len(got)]
        complete = [r for s, o, r in WALReader(path, page_size=PAGE).entries()]
        assert complete == got
        with _open(path) as wal:
            wal.log(b"new")
        assert _read(path) == [*got, b"new"]


@given(st.lists(st.lists(RECORD, min_size=1, max_size=3), min_size=1, max_size=6), COMPRESSION, st.data())
def test_damage_anywhere_never_yields_foreign_records(batches: list[list[bytes]], compression: str,
                                                      data: st.DataObject) -> None:
    """A flipped byte anywhere: reading raises CorruptionError or yields a prefix; repair always a prefix."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        written = _write_batches(path, batches, compression)
        segments = list_segments(path)
        victim = segment_path(path, data.draw(st.sampled_from(segments)))
        size = victim.stat().st_size
        if size == 0:
            return
        offset = data.draw(st.integers(0, size - 1))
        with open(victim, "r+b") as f:
            f.seek(offset)
            byte = f.read(1)[0]
            f.seek(offset)
            f.write(bytes([byte ^ data.draw(st.integers(1, 255))]))
        try:
            got = _read(path)
            assert got == written[: len(got)]
        except CorruptionError as err:
            assert err.path.startswith(str(path)) and err.offset is not None
        reader = WALReader(path, page_size=PAGE, repair=True)
        got = list(reader)
        assert got == written[: len(got)]
        assert _read(path) == got
        with _open(path) as wal:
            wal.log(b"new")
        assert _read(path) == [*got, b"new"]


def test_group_commit_shares_one_fsync_and_orders_tickets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    wal = _open(tmp_path)
    monkeypatch.setattr(os, "fdatasync", counting)
    first = wal.log(b"a", sync=False)
    second = wal.log(b"b", sync=False)
    assert 0 < first < second
    assert calls == []  # deferred
    wal.sync_to(second)
    assert len(calls) == 1
    wal.sync_to(first)  # covered by the same fsync
    assert len(calls) == 1
    wal.close()
    assert _read(tmp_path) == [b"a", b"b"]


def test_group_commit_sync_failure_fails_every_unsynced_ticket(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    wal = _open(tmp_path)
    kept = wal.log(b"kept", sync=False)
    wal.sync_to(kept)
    lost1 = wal.log(b"lost1", sync=False)
    lost2 = wal.log(b"lost2", sync=False)
    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(StorageError, match="cut back"):
        wal.sync_to(lost1)
    with pytest.raises(StorageError, match="cannot sync"):
        wal.sync_to(lost2)  # written before the failed sync: removed with it
    monkeypatch.undo()
    after = wal.log(b"after", sync=False)
    wal.sync_to(after)
    wal.close()
    assert _read(tmp_path) == [b"kept", b"after"]


def test_group_commit_concurrent_writers(tmp_path: Path) -> None:
    import threading

    wal = _open(tmp_path)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(50):
                wal.sync_to(wal.log(f"{k}:{i}".encode(), sync=False))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    wal.close()
    assert not errors
    got = _read(tmp_path)
    assert sorted(got) == sorted(f"{k}:{i}".encode() for k in range(4) for i in range(50))
    for k in range(4):  # each writer's records in its own order
        mine = [r for r in got if r.startswith(f"{k}:".encode())]
        assert mine == [f"{k}:{i}".encode() for i in range(50)]


# -- snappy compression (Prometheus's --storage.tsdb.wal-compression) ---------------------------------
def _type_bytes(path: Path) -> list[int]:
    """The type byte of each fragment of segment 0 (walking the page layout)."""
    data = segment_path(path, 0).read_bytes()
    out, pos = [], 0
    while pos < len(data):
        if data[pos] == 0:
            pos += PAGE - pos % PAGE
            continue
        out.append(data[pos])
        pos += 7 + int.from_bytes(data[pos + 1:pos + 3], "big")
    return out


def test_compressible_records_are_written_snappy_flagged_and_shorter(tmp_path: Path) -> None:
    compressible, random_bytes = b"abcd" * 100, os.urandom(60)
    with _open(tmp_path, compression="snappy") as wal:
        wal.log(compressible, random_bytes)
    assert _read(tmp_path) == [compressible, random_bytes]
    kinds = _type_bytes(tmp_path)
    assert kinds == [0x01 | 0x08, 0x01]  # one short FULL fragment with the flag; the random record as is
    assert segment_path(tmp_path, 0).stat().st_size < len(compressible)


def test_compressed_record_spanning_pages_flags_every_fragment(tmp_path: Path) -> None:
    record = bytes(range(256)) * 3  # compresses to more than one 128-byte page
    with _open(tmp_path, compression="snappy") as wal:
        wal.log(record)
    kinds = _type_bytes(tmp_path)
    assert len(kinds) > 1 and all(k & 0x08 for k in kinds)
    assert [k & 0x07 for k in kinds] == [2] + [3] * (len(kinds) - 2) + [4]
    assert _read(tmp_path) == [record]


@pytest.mark.parametrize("garbage", [b"\x00", b"\xff\xff\xff\xff\x0f", b"\x05\x00abcd"])
def test_flagged_record_that_does_not_decompress_is_corruption(tmp_path: Path, garbage: bytes) -> None:
    """The flag is outside the checksum: a record that does not decompress to something longer is corruption
    (with its offset), and repair keeps the records before it."""
    with _open(tmp_path, compression="none") as wal:
        wal.log(b"first record")
        wal.log(garbage)
        wal.log(b"third record")
    data = bytearray(segment_path(tmp_path, 0).read_bytes())
    second = 7 + len(b"first record")
    assert data[second] == 0x01
    data[second] |= 0x08
    segment_path(tmp_path, 0).write_bytes(bytes(data))
    with pytest.raises(CorruptionError, match="decompress") as info:
        _read(tmp_path)
    assert info.value.offset == second
    reader = WALReader(tmp_path, page_size=PAGE, repair=True)
    assert list(reader) == [b"first record"]
    assert reader.repairs[0].offset == second
    assert segment_path(tmp_path, 0).stat().st_size == second


def test_unknown_compression_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="zstd"):
        WAL.open(tmp_path, compression="zstd")
