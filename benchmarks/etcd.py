"""A single-member etcd on 127.0.0.1 (Debian's etcd-server) for benchmarks and tests, ended by its PID."""

from __future__ import annotations

import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from tsdb.bench.servers import free_port
from tsdb.tls_client import client_ssl_context


class EtcdProcess:
    """One etcd on free ports; :meth:`kill` (SIGKILL) and :meth:`start` again keep its data and ports.

    With ``tls`` (CA, server certificate, server key, client certificate, client key files) clients must use
    HTTPS and present a certificate signed by that CA (mTLS; the client pair is for the readiness check);
    :attr:`url` is then ``https://``."""

    def __init__(self, binary: str, work_dir: Path, tls: tuple[Path, Path, Path, Path, Path] | None = None
                 ) -> None:
        self.binary = binary
        self.data_dir = work_dir / "etcd-data"
        self.client_port, self.peer_port = free_port(), free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.client_port}"
        self.log = work_dir / "etcd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start and wait until ``/health`` reports healthy (RuntimeError with the log's end otherwise)."""
        peer = f"http://127.0.0.1:{self.peer_port}"
        tls_args: list[str] = []
        context: ssl.SSLContext | None = None
        if self.tls is not None:
            ca, cert, key, client_cert, client_key = self.tls
            tls_args = ["--cert-file", str(cert), "--key-file", str(key), "--trusted-ca-file", str(ca),
                        "--client-cert-auth"]
            context = client_ssl_context(str(ca), str(client_cert), str(client_key))
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--name", "one", "--data-dir", str(self.data_dir),
                 "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"one={peer}", *tls_args], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1, context=context) as response:
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
