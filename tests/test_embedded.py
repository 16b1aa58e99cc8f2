"""The embedded API: tsdb.open(path) -> append, query, query_range, delete, arrow; and `tsdb query`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tsdb
from tests.needs import needs_module
from tsdb.cli.main import main
from tsdb.errors import InvalidArgumentError, ParseError


def test_append_query_and_reopen(tmp_path: Path) -> None:
    with tsdb.open(str(tmp_path / "db")) as db:
        result = db.append({"__name__": "temp", "room": "a"}, [1000, 2000, 3000], [20.0, 21.0, 22.0])
        assert result.accepted == 3
        db.append_many([({"__name__": "temp", "room": "b"}, [1000, 2000], [10.0, 11.0])])
        instant = db.query("temp", 2500)
        assert instant.kind == "vector" and instant.labels == [{"__name__": "temp", "room": "a"},
                                                               {"__name__": "temp", "room": "b"}]
        assert instant.values[:, 0].tolist() == [21.0, 11.0]
        ranged = db.query_range("sum(temp)", 1000, 3000, 1000)
        assert ranged.kind == "matrix" and ranged.values.tolist() == [[30.0, 32.0, 33.0]]
        assert db.query("1 + 1", 0).kind == "scalar" and db.query("1 + 1", 0).values[0, 0] == 2.0
        assert db.query('"s"', 0).text == "s"
        matrix = db.query("temp[5s]", 3000)
        assert matrix.kind == "matrix" and matrix.present.sum() == 5
        table = ranged.to_arrow()
        assert table.num_rows == 3 and table.column("value").to_pylist() == [30.0, 32.0, 33.0]
        assert db.label_names() == ["__name__", "room"] and db.label_values("room") == ["a", "b"]
        db.delete('temp{room="b"}', 0, 10_000)
        assert db.query("temp", 2500).labels == [{"__name__": "temp", "room": "a"}]
    with tsdb.open(str(tmp_path / "db")) as db:
        assert db.query("count(temp)", 3000).values[0, 0] == 1.0


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown option"):
        tsdb.open(str(tmp_path / "x"), nope=1)
    with tsdb.open(str(tmp_path / "db"), retention_ms=86_400_000, lookback_delta_ms=60_000) as db:
        with pytest.raises(InvalidArgumentError, match="differ in shape"):
            db.append({"__name__": "m"}, [1, 2], [1.0])
        with pytest.raises(ParseError):
            db.query("sum(", 0)
        with pytest.raises(InvalidArgumentError, match="step_ms > 0"):
            db.query_range("m", 10, 0, 1)


@needs_module("pandas")
def test_to_pandas(tmp_path: Path) -> None:
    with tsdb.open(str(tmp_path / "db")) as db:
        db.append({"__name__": "m", "a": "1"}, [1000], [1.0])
        frame = db.query("m", 1000).to_pandas()
        assert list(frame["value"]) == [1.0] and list(frame["a"]) == ["1"]


def test_query_command_on_a_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with tsdb.open(str(tmp_path / "db")) as db:
        db.append({"__name__": "m", "a": "1"}, np.arange(0, 60_000, 15_000), np.arange(4.0))
    assert main(["query", "max(m)", "--data-dir", str(tmp_path / "db"), "--time", "45", "--output", "json"]) == 0
    assert '"3"' in capsys.readouterr().out
    assert main(["query", "m", "--data-dir", str(tmp_path / "db"), "--start", "0", "--end", "45", "--step", "15",
                 "--output", "csv"]) == 0
    assert capsys.readouterr().out.count("\n") == 5
    assert main(["query", "m", "--data-dir", str(tmp_path / "db"), "--start", "0"]) == 2
    assert main(["query", "sum(", "--data-dir", str(tmp_path / "db")]) == 1
    assert "unexpected end of input" in capsys.readouterr().err
    assert main(["query", "up", "--url", "http://127.0.0.1:1"]) == 1
    assert "cannot reach" in capsys.readouterr().err
