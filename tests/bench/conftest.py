"""Fixtures for the benchmark harness smoke tests: small workloads and local peers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tsdb.bench.encode import generate_workload
from tsdb.bench.servers import LocalServer, available

END_MS = 1_790_002_800_000  # fixed, so answers are reproducible; recent enough for every peer's retention;
# 1 h after a 2 h block boundary, so the 30 min workloads stay inside one of Prometheus's head ranges


@pytest.fixture(scope="session")
def small_workload() -> Any:
    """40 series x 30 min = 4,800 samples."""
    return generate_workload(40, 30 * 60_000, seed=1, end_ms=END_MS)


def _server(kind: str, tmp: Path) -> Iterator[LocalServer]:
    if not available(kind):
        pytest.skip(f"needs binary {kind} (Debian package): not installed")
    server = LocalServer(kind, tmp / "data", ready_timeout_s=60)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[LocalServer]:
    """A fresh Prometheus (remote-write receiver and admin API on) for one test."""
    yield from _server("prometheus", tmp_path)


@pytest.fixture
def victoriametrics(tmp_path: Path) -> Iterator[LocalServer]:
    """A fresh VictoriaMetrics for one test."""
    yield from _server("victoriametrics", tmp_path)
