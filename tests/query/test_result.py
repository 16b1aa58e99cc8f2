"""tsdb.query.result: the one result type and the one converter from engine values."""

from __future__ import annotations

import numpy as np

from tsdb.labels import Labels
from tsdb.query.result import to_result
from tsdb.query.value import MatrixValue, ScalarValue, StringValue, VectorValue


def test_vector_and_range_results() -> None:
    steps = np.array([0, 10, 20], dtype=np.int64)
    vec = VectorValue([Labels({"a": "1"}), Labels({"a": "2"}), Labels({"a": "3"})],
                      np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [0.0, 0.0, 0.0]]),
                      np.array([[True, False, True], [True, True, True], [False, False, False]]))
    result = to_result(vec, steps, ["w"], ["i"])
    assert result.kind == result.result_type == "matrix" and result.warnings == ["w"] and result.infos == ["i"]
    assert [s.labels for s in result.series] == [Labels({"a": "1"}), Labels({"a": "2"})]  # empty rows left out
    assert result.series[0].ts.tolist() == [0, 20]
    assert result.labels == [{"a": "1"}, {"a": "2"}]
    assert result.present.tolist() == [[True, False, True], [True, True, True]]
    assert np.isnan(result.values[0, 1]) and result.values[1].tolist() == [4.0, 5.0, 6.0]
    assert result.to_arrow().num_rows == 5 and result.value is vec
    instant = to_result(VectorValue([Labels({"a": "1"})], np.array([[7.0]]), np.array([[True]])),
                        np.array([5], dtype=np.int64))
    assert instant.kind == "vector" and instant.time_ms == 5


def test_scalar_string_and_range_vector() -> None:
    one = np.array([1000], dtype=np.int64)
    scalar = to_result(ScalarValue(np.array([2.5])), one)
    assert scalar.kind == "scalar" and scalar.scalar == 2.5 and scalar.values.tolist() == [[2.5]]
    assert to_result(ScalarValue(np.array([1.0, 2.0])), np.array([0, 1], dtype=np.int64)).kind == "matrix"
    text = to_result(StringValue("hi"), one)
    assert text.kind == "string" and text.string == text.text == "hi" and text.values.shape == (0, 1)
    matrix = to_result(MatrixValue([Labels({"a": "1"})], [np.array([1, 3], dtype=np.int64)], [np.array([1.0, 3.0])],
                                   np.zeros(1, dtype=bool)), one)
    assert matrix.kind == "matrix" and matrix.grid.tolist() == [1, 3] and matrix.present.sum() == 2
