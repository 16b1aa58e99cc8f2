"""tsdb.timefmt: the one home of duration and RFC 3339 text."""

from __future__ import annotations

import pytest

from tsdb.errors import InvalidArgumentError
from tsdb.timefmt import (
    ZERO_TIME,
    format_duration,
    format_go_time,
    format_rfc3339,
    parse_duration,
    parse_rfc3339,
    parse_rfc3339_ms,
    try_parse_duration,
)


def test_durations() -> None:
    assert parse_duration("0") == 0
    assert parse_duration("1h30m") == 5_400_000
    assert parse_duration("20s500ms") == 20_500
    assert parse_duration("1y2w") == 379 * 86_400_000
    for bad in ("", "1.5m", "30m1h", "1m1m", "ms", "-1s"):
        assert try_parse_duration(bad) is None
        with pytest.raises(InvalidArgumentError, match="not a valid duration string"):
            parse_duration(bad)
    assert format_duration(0) == "0s"
    assert format_duration(5_400_500) == "1h30m500ms"
    assert format_duration(-60_000) == "-1m"


def test_rfc3339_precisions() -> None:
    t = 1_700_000_000.25
    assert format_rfc3339(t, "s") == "2023-11-14T22:13:20Z"
    assert format_rfc3339(t) == "2023-11-14T22:13:20.250Z"
    assert format_rfc3339(t, "us") == "2023-11-14T22:13:20.250000Z"
    assert format_rfc3339(t, "ms+") == "2023-11-14T22:13:20.250Z"
    assert format_rfc3339(1_700_000_000.123456, "ms+") == "2023-11-14T22:13:20.123456Z"
    assert format_rfc3339(1_700_000_000, "ms+") == "2023-11-14T22:13:20.000Z"
    assert format_rfc3339(t, "iso") == "2023-11-14T22:13:20.250000Z"
    assert format_rfc3339(1_700_000_000, "iso", "+00:00") == "2023-11-14T22:13:20+00:00"
    assert format_go_time(t) == "2023-11-14 22:13:20.25 +0000 UTC"
    assert ZERO_TIME == "0001-01-01T00:00:00Z"


def test_rfc3339_parsing() -> None:
    assert parse_rfc3339("2023-11-14T22:13:20.25Z") == 1_700_000_000.25
    assert parse_rfc3339("2023-11-14T22:13:20", naive_is_utc=True) == 1_700_000_000
    with pytest.raises(ValueError):
        parse_rfc3339("yesterday")
    assert parse_rfc3339_ms("2023-11-14T22:13:20.2509Z") == 1_700_000_000_250
    assert parse_rfc3339_ms("2023-11-14T23:13:20+01:00") == 1_700_000_000_000
    assert parse_rfc3339_ms("2023-11-14 22:13:20Z") is None
