"""The soak benchmark runs end to end for a few seconds and reports phases, memory and notifications."""

from __future__ import annotations

import pytest

from benchmarks.soak import parse_args, run


def test_short_soak_reports_phases(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(["--seconds", "24", "--warmup-minutes", "0.15", "--phases", "2", "--rate", "200",
                       "--series", "100", "--query-interval", "1", "--alert-period", "4", "--rss-interval", "1",
                       "--progress-seconds", "10", "--history-minutes", "1"])
    report = run(args)
    assert [p.name for p in report["phases"]] == ["warm-up", "phase 1", "phase 2"]
    assert report["write_errors"] == 0
    assert report["rss_samples"] > 0
    assert report["notifications"] > 0
    assert report["samples"] > 0
    out = capsys.readouterr().out
    assert "RSS growth after warm-up" in out and "per phase" in out
    # a minute of history before the run: 100 series every 0.5 s, all accepted
    assert "history: 12,000 samples of the 1 min before the run" in out
