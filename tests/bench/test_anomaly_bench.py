"""The anomaly benchmark's quick mode runs end to end and reports every method and kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.anomaly.evaluate import main


def test_quick_run_reports_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:4] == ["shape", "method", "kind", "recall"] and "FP/series-day" in header
    for method in ("seasonal", "robust", "ewma"):
        assert f" {method} " in out
    assert "recommended defaults" in out and "spike delay" in out
