"""JSON rendering exactly as Prometheus writes values and timestamps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsdb.labels import Labels
from tsdb.server.json_format import (
    format_timestamp,
    format_value,
    format_values,
    json_string,
    labels_json,
    point_json,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [(1e16, "10000000000000000"), (0.1, "0.1"), (1.0, "1"), (-0.0, "-0"), (0.0, "0"), (1e-7, "1e-07"),
     (1.5e21, "1.5e+21"), (1e21, "1e+21"), (999999999999999900000.0, "999999999999999900000"),
     (0.000001, "0.000001"), (123456.789, "123456.789"), (math.nan, "NaN"), (math.inf, "+Inf"),
     (-math.inf, "-Inf"), (2.0**63, "9223372036854776000"), (-2.5e-300, "-2.5e-300")],
)
def test_values_like_go(value: float, text: str) -> None:
    assert format_value(value) == text


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**17, 10**17).map(float)
                | st.sampled_from([0.0, -0.0, 1e-4, 1e16, 1e21, 9999999999999998.0, 1e-6, 1e-7])))
def test_many_values_format_as_one_at_a_time(values: list[float]) -> None:
    assert format_values(np.array(values, dtype=np.float64)) == [format_value(v) for v in values]


@pytest.mark.parametrize(("ms", "text"), [(0, "0"), (4000, "4"), (1500, "1.500"), (1001, "1.001"),
                                          (-1500, "-1.500"), (1435781451781, "1435781451.781")])
def test_timestamps_like_prometheus(ms: int, text: str) -> None:
    assert format_timestamp(ms) == text


def test_strings_and_labels_escape_like_go() -> None:
    assert json_string('a"b\\c\n<&>\x01') == '"a\\"b\\\\c\\n\\u003c\\u0026\\u003e\\u0001"'
    assert labels_json(Labels({"__name__": "up", "job": "x"})) == '{"__name__":"up","job":"x"}'
    assert point_json(1500, 2.0) == '[1.500,"2"]'
