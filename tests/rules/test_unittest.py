"""`tsdb test-rules` runs promtool's rule unit-test files; verdicts equal `promtool test rules`'s."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.needs import needs_binary
from tsdb.cli.main import main

DATA = Path(__file__).parent / "data"


def test_passing_and_failing_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test-rules", str(DATA / "unit_pass.yml")]) == 0
    assert "SUCCESS" in capsys.readouterr().out
    assert main(["test-rules", str(DATA / "unit_fail.yml")]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "alertname: InstanceDown" in out and "exp:" in out and "got:" in out
    assert "expr: 'job:up:sum'" in out


@needs_binary("promtool", package="prometheus")
def test_verdicts_equal_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None
    for name in ("unit_pass.yml", "unit_fail.yml"):
        theirs = subprocess.run([promtool, "test", "rules", str(DATA / name)], capture_output=True, timeout=120,
                                cwd=DATA).returncode
        ours = main(["test-rules", str(DATA / name)])
        assert (ours == 0) == (theirs == 0), (name, ours, theirs)
