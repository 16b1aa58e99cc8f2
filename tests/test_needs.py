"""tests/needs.py and the CI rule of tests/conftest.py: a skip for a missing tool fails under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.needs import find_binary, promql_corpus, require_binary, require_module

ROOT = Path(__file__).resolve().parents[1]


def test_require_binary_and_module() -> None:
    assert require_binary("definitely-not-a-tool-xyz", "sh") == find_binary("sh")
    assert require_module("json").dumps([]) == "[]"
    with pytest.raises(pytest.skip.Exception, match="needs binary definitely-not-a-tool-xyz"):
        require_binary("definitely-not-a-tool-xyz")
    with pytest.raises(pytest.skip.Exception, match="needs Python module definitely_not_a_module"):
        require_module("definitely_not_a_module")


def test_promql_corpus_can_be_hidden_or_pointed_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSDB_PROMQL_CORPUS", "")
    assert promql_corpus() is None
    monkeypatch.setenv("TSDB_PROMQL_CORPUS", str(tmp_path))
    assert promql_corpus() == tmp_path
    monkeypatch.setenv("TSDB_PROMQL_CORPUS", str(tmp_path / "absent"))
    assert promql_corpus() is None


PROBE = '''
import pytest
from tests.needs import needs_binary, require_module

@needs_binary("definitely-not-a-tool-xyz")
def test_missing_tool():
    pass

def test_missing_module():
    require_module("definitely_not_a_module")

@pytest.mark.allow_skip("platform-specific")
def test_allowed():
    pytest.skip("not on this platform")

@pytest.mark.slow
def test_slow():
    pass

@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False

def test_plain():
    pass
'''


# a skip in setup (a skipif mark) turns into an error, one in the test body into a failure
@pytest.mark.parametrize("ci, expected", [("true", "1 failed, 1 passed, 2 skipped, 1 xfailed, 1 error"),
                                          ("", "1 passed, 4 skipped, 1 xfailed")])
def test_skips_for_missing_tools_fail_in_ci(tmp_path: Path, ci: str, expected: str) -> None:
    probe = ROOT / "tests" / "_tmp_skip_probe_test.py"
    probe.write_text(PROBE)
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                               "-o", "addopts=", str(probe)], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "CI": ci, "TSDB_SLOW": "", "PYTHONPATH": str(ROOT)},
                              timeout=300)
    finally:
        probe.unlink()
    assert expected in done.stdout, done.stdout
    if ci:
        assert "skipped in CI: needs binary definitely-not-a-tool-xyz" in done.stdout
