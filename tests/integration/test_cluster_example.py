"""examples/cluster/run.py, the runbook of docs/scaling.md, runs end to end with a short load and stops
everything it started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.needs import needs_binary

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.external, needs_binary("vmagent", package="victoria-metrics")]


def test_cluster_runbook(tmp_path: Path) -> None:
    work = tmp_path / "cluster"
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "cluster" / "run.py"), "--duration", "6",
                           "--series", "60", "--work-dir", str(work)],
                          cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: 60 series x" in done.stdout and "all on exactly one shard" in done.stdout
    logs = sorted(p.name for p in work.glob("*.log"))
    assert logs == ["node0.log", "node1.log", "node2.log", "vmagent.log"]
    assert all("tsdb stopped" in (work / f"node{n}.log").read_text() for n in range(3))  # a clean SIGTERM stop
