"""Rendering results for people and scripts."""

from __future__ import annotations

import json
import math

import numpy as np

from tsdb.cli.output import format_number, format_time, render, sparkline
from tsdb.labels import Labels
from tsdb.query.result import QueryResult, ResultSeries


def _series(name: str, values: list[float]) -> ResultSeries:
    return ResultSeries(Labels({"__name__": name, "job": "a"}), np.arange(len(values), dtype=np.int64) * 1000,
                        np.array(values))


def test_numbers_and_times() -> None:
    assert format_number(1.0) == "1" and format_number(0.25) == "0.25" and format_number(math.nan) == "NaN"
    assert format_number(math.inf) == "+Inf" and format_number(-math.inf) == "-Inf"
    assert format_number(1e20) == "1e+20"
    assert format_time(1500) == "1970-01-01T00:00:01.500Z"


def test_sparkline() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([1, 1]) == "▁▁"
    assert sparkline([math.nan, 1.0]) == " ▁"
    assert sparkline([math.nan]) == " "


def test_table_vector_matrix_scalar_string() -> None:
    vector = QueryResult("vector", [_series("up", [1.0]), _series("down", [0.5])])
    table = render(vector, "table")
    assert table.splitlines()[0].startswith("SERIES") and 'up{job="a"}' in table and "0.5" in table
    matrix = QueryResult("matrix", [_series("up", list(map(float, range(100)))), _series("x", [math.nan])])
    text = render(matrix, "table")
    assert "100 points" in text and "max 99" in text and "no finite values" in text
    scalar = QueryResult("scalar", [ResultSeries(Labels(), np.array([4000]), np.array([2.0]))])
    assert render(scalar, "table") == "2  @ 1970-01-01T00:00:04.000Z"
    assert render(QueryResult("string", text="hi"), "table") == "hi"
    assert render(QueryResult("vector"), "table") == "(empty result)"


def test_csv_and_json() -> None:
    result = QueryResult("matrix", [_series("up", [1.0, 2.0])], warnings=["w"])
    csv_text = render(result, "csv").splitlines()
    assert csv_text[0] == "series,timestamp,value" and csv_text[2] == '"up{job=""a""}",1.0,2'
    doc = json.loads(render(result, "json"))
    assert doc["resultType"] == "matrix" and doc["warnings"] == ["w"]
    assert doc["result"][0]["values"] == [[0, "1"], [1, "2"]]
    # the HTTP API's shapes: one "value" per instant-vector series, [t, "v"] for scalars and strings
    vector = QueryResult("vector", [ResultSeries(Labels({"__name__": "up"}), np.array([1500]), np.array([1.0]))],
                         infos=["i"])
    assert json.loads(render(vector, "json")) == {"resultType": "vector", "infos": ["i"], "result": [
        {"metric": {"__name__": "up"}, "value": [1.5, "1"]}]}
    scalar = QueryResult("scalar", [ResultSeries(Labels(), np.array([4000]), np.array([2.0]))])
    assert json.loads(render(scalar, "json")) == {"resultType": "scalar", "result": [4, "2"]}
    string = QueryResult("string", text="s", steps=np.array([2000]))
    assert json.loads(render(string, "json")) == {"resultType": "string", "result": [2, "s"]}
    assert render(QueryResult("string", text="s"), "csv").splitlines()[1] == ",,s"
