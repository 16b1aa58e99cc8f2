"""Our own PromQL cases (``data/own.test``, values worked out by hand) through the promqltest runner.

They need no Prometheus corpus, so they run in the coverage-gated step on any clone. The runner is also
shown to report wrong expectations and broken files instead of passing them.
"""

from __future__ import annotations

from pathlib import Path

from tsdb.query.promqltest import run_files, summary

OWN = Path(__file__).with_name("data") / "own.test"


def test_own_cases_pass() -> None:
    results = run_files([OWN])
    failed = [f"{r.file}:{r.line}: {r.query}: {r.reason}" for r in results if r.status != "passed"]
    assert not failed, "\n".join(failed)
    assert len(results) >= 70
    assert "passed" in summary(results)


def test_wrong_expectations_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.test"
    bad.write_text("""load 1m
  g{i="1"} 1 2 3

eval instant at 2m g
  g{i="1"} 4

eval instant at 2m g
  g{i="2"} 3

eval instant at 2m sum(g)

eval range from 0 to 2m step 1m g
  g{i="1"} 1 2 4

eval_fail instant at 2m g

eval instant at 2m scalar(g)
  2
""")
    results = run_files([bad])
    assert [r.status for r in results] == ["failed"] * 6, results
    assert all(r.reason for r in results)


def test_a_broken_file_is_one_failure(tmp_path: Path) -> None:
    broken = tmp_path / "broken.test"
    broken.write_text("load 1m\n  g 1\n\nevaluate sometime g\n")
    results = run_files([broken])
    assert len(results) == 1 and results[0].status == "failed"
