"""HTTP parameter parsing with Prometheus's rules and messages."""

from __future__ import annotations

import pytest

from tsdb.errors import InvalidArgumentError
from tsdb.server import params


@pytest.mark.parametrize(
    ("text", "ms"),
    [("4", 4000), ("1.5", 1500), ("-1.5", -1500), ("1435781451.781", 1435781451781), ("0.0015", 2),
     ("2015-07-01T20:10:51.781Z", 1435781451781), ("2015-07-01T20:10:51Z", 1435781451000),
     ("2015-07-01T22:10:51+02:00", 1435781451000), (params.MIN_TIME_FORMATTED, params.MIN_TIME_MS),
     (params.MAX_TIME_FORMATTED, params.MAX_TIME_MS)],
)
def test_parse_time(text: str, ms: int) -> None:
    assert params.parse_time(text) == ms


@pytest.mark.parametrize("text", ["abc", "", "NaN", "Inf", "1e308", "-1e17", "2015-13-01T00:00:00Z", "2015-07-01"])
def test_bad_times_name_the_parameter(text: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f'invalid parameter "start": cannot parse "{text}"'):
        params.parse_time(text, "start")


@pytest.mark.parametrize(("text", "ms"), [("15s", 15000), ("1.5", 1500), ("1h30m", 5_400_000), ("0", 0),
                                          ("1y", 365 * 86_400_000), ("2w", 14 * 86_400_000), ("10ms", 10)])
def test_parse_duration(text: str, ms: int) -> None:
    assert params.parse_duration(text) == ms


@pytest.mark.parametrize(("text", "message"), [("1x", "to a valid duration"), ("", "to a valid duration"),
                                               ("1e300", "overflows int64"), ("m1", "to a valid duration")])
def test_bad_durations(text: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        params.parse_duration(text, "step")


def test_parse_limit() -> None:
    assert params.parse_limit(None) == 0 and params.parse_limit("") == 0 and params.parse_limit("5") == 5
    with pytest.raises(InvalidArgumentError, match="non-negative"):
        params.parse_limit("-1")
    with pytest.raises(InvalidArgumentError, match='cannot parse "x"'):
        params.parse_limit("x")
