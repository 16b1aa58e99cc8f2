"""A single-member etcd on 127.0.0.1 (Debian's etcd-server) for benchmarks and tests, ended by its PID."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

from tsdb.bench.servers import free_port


class EtcdProcess:
    """One etcd on free ports; :meth:`kill` (SIGKILL) and :meth:`start` again keep its data and ports."""

    def __init__(self, binary: str, work_dir: Path) -> None:
        self.binary = binary
        self.data_dir = work_dir / "etcd-data"
        self.client_port, self.peer_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.client_port}"
        self.log = work_dir / "etcd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start and wait until ``/health`` reports healthy (RuntimeError with the log's end otherwise)."""
        peer = f"http://127.0.0.1:{self.peer_port}"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--name", "one", "--data-dir", str(self.data_dir),
                 "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"one={peer}"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if b'"true"' in response.read():
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"etcd did not become healthy: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
