"""A real etcd (Debian's etcd-server) on 127.0.0.1 for tests: started on free ports, killed by PID."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.etcd import EtcdProcess
from tests.needs import require_binary

__all__ = ["EtcdProcess", "running_etcd"]


@contextmanager
def running_etcd(work_dir: Path) -> Iterator[EtcdProcess]:
    """A started etcd (skips when etcd-server is not installed; a failure in CI); killed at the end."""
    etcd = EtcdProcess(require_binary("etcd", package="etcd-server"), work_dir)
    etcd.start()
    try:
        yield etcd
    finally:
        etcd.kill()
