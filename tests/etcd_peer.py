"""A real etcd (Debian's etcd-server) on 127.0.0.1 for tests: started on free ports, killed by PID."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.etcd import EtcdProcess
from tests.needs import require_binary

__all__ = ["EtcdProcess", "running_etcd"]


@contextmanager
def running_etcd(work_dir: Path, tls: tuple[Path, Path, Path, Path, Path] | None = None
                 ) -> Iterator[EtcdProcess]:
    """A started etcd (skips when etcd-server is not installed; a failure in CI); killed at the end. ``tls``:
    (CA, server certificate, server key, client certificate, client key) for HTTPS with client certificates
    required."""
    etcd = EtcdProcess(require_binary("etcd", package="etcd-server"), work_dir, tls)
    etcd.start()
    try:
        yield etcd
    finally:
        etcd.kill()
