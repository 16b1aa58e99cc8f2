"""The error tree: builtin bases, messages that name the offending part, caret rendering."""

from __future__ import annotations

import pytest

from tsdb import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InvalidArgumentError, ValueError), (errors.ConfigError, ValueError),
        (errors.InvalidLabelsError, ValueError), (errors.InvalidMatcherError, ValueError),
        (errors.ParseError, ValueError), (errors.OutOfOrderSampleError, ValueError),
        (errors.OutOfBoundsError, ValueError), (errors.DuplicateSampleError, ValueError),
        (errors.StorageError, OSError), (errors.DataDirLockedError, OSError),
        (errors.CorruptionError, ValueError), (errors.QueryError, RuntimeError),
        (errors.QueryTimeoutError, TimeoutError), (errors.QueryLimitError, RuntimeError),
    ],
)
def test_every_error_is_a_tsdb_error_and_its_builtin(cls: type, builtin: type) -> None:
    assert issubclass(cls, errors.TsdbError)
    assert issubclass(cls, builtin)


def test_parse_error_renders_a_caret() -> None:
    err = errors.ParseError("unexpected character '!'", "sum(rate(x[5m])) !", 17)
    assert str(err) == "unexpected character '!' (line 1, column 18)\n  sum(rate(x[5m])) !\n                   ^"
    assert err.position == 17 and err.query.startswith("sum")


def test_parse_error_on_a_later_line_and_clamped_position() -> None:
    err = errors.ParseError("bad", "a +\nb )", 99)
    assert err.position == 7
    assert str(err).endswith("(line 2, column 4)\n  b )\n     ^")
    assert str(errors.ParseError("no query")) == "no query"


def test_sample_rejections_carry_series_and_reason() -> None:
    err = errors.OutOfOrderSampleError("out of order sample", series='up{job="a"}', ts=5)
    assert err.series == 'up{job="a"}' and err.ts == 5 and err.reason == "out_of_order"
    assert errors.DuplicateSampleError("x").reason == "duplicate"
    assert errors.OutOfBoundsError("x").reason == "out_of_bounds"


def test_corruption_error_names_file_and_offset() -> None:
    assert str(errors.CorruptionError("bad crc", "wal/00000001", 4096)) == "bad crc (wal/00000001, offset 4096)"
    assert str(errors.CorruptionError("bad crc", offset=7)) == "bad crc (offset 7)"
    assert str(errors.CorruptionError("bad crc")) == "bad crc"
