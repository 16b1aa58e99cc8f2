"""A real etcd (Debian's etcd-server) on 127.0.0.1 for tests: started on free ports, killed by PID."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.serve import free_port
from tests.needs import require_binary


class EtcdProcess:
    """One single-member etcd; :meth:`kill` (SIGKILL) and :meth:`start` again keep its data and ports."""

    def __init__(self, work_dir: Path) -> None:
        self.binary = require_binary("etcd", package="etcd-server")
        self.data_dir = work_dir / "etcd-data"
        self.client_port, self.peer_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.client_port}"
        self.log = work_dir / "etcd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--name", "test", "--data-dir", str(self.data_dir),
                 "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"test={peer}"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if b'"true"' in response.read():
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"etcd did not become healthy: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@contextmanager
def running_etcd(work_dir: Path) -> Iterator[EtcdProcess]:
    """A started etcd (skips when etcd-server is not installed; a failure in CI); killed at the end."""
    etcd = EtcdProcess(work_dir)
    etcd.start()
    try:
        yield etcd
    finally:
        etcd.kill()
