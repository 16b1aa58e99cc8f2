"""Local benchmark targets: start Prometheus, VictoriaMetrics or tsdb on 127.0.0.1 with a temp data dir.

Each :class:`LocalServer` binds free 127.0.0.1 ports, waits (bounded) until ready, can force a flush
where the target offers one, and is stopped by its PID (SIGTERM, then SIGKILL after a timeout). Use it
as a context manager so the process is always ended.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from tsdb.errors import InvalidArgumentError

KINDS = ("prometheus", "victoriametrics", "tsdb")
BINARIES = {"prometheus": "prometheus", "victoriametrics": "victoria-metrics"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 free at the time of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(kind: str) -> str | None:
    """Path of the peer's executable on PATH (None for tsdb, which runs as ``python -m tsdb.cli``)."""
    name = BINARIES.get(kind)
    return shutil.which(name) if name else None


def available(kind: str) -> bool:
    """Whether this kind of target can be started here."""
    return kind == "tsdb" or find_binary(kind) is not None


class LocalServer:
    """One local target process. ``url`` is its HTTP base URL, ``grpc`` its gRPC address (tsdb only)."""

    def __init__(self, kind: str, data_dir: Path, ready_timeout_s: float = 120.0,
                 extra_args: tuple[str, ...] = ()) -> None:
        if kind not in KINDS:
            raise InvalidArgumentError(f"unknown target kind {kind!r}; expected one of {', '.join(KINDS)}")
        self.kind = kind
        self.data_dir = data_dir
        self.ready_timeout_s = ready_timeout_s
        self.extra_args = extra_args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.grpc = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{kind}-{self.port}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def command(self) -> list[str]:
        """The command line that starts the target."""
        listen = f"127.0.0.1:{self.port}"
        if self.kind == "prometheus":
            config = self.data_dir.parent / f"prometheus-{self.port}.yml"
            config.write_text("global:\n  scrape_interval: 15s\n")
            return [str(find_binary("prometheus")), f"--config.file={config}",
                    f"--storage.tsdb.path={self.data_dir}", f"--web.listen-address={listen}",
                    "--web.enable-remote-write-receiver", "--web.enable-admin-api",
                    "--storage.tsdb.retention.time=100y", *self.extra_args]
        if self.kind == "victoriametrics":
            # no rollup cache (Prometheus has none) and no latency offset (the workload ends near now)
            return [str(find_binary("victoriametrics")), f"-storageDataPath={self.data_dir}",
                    f"-httpListenAddr={listen}", "-retentionPeriod=100y", "-search.disableCache",
                    "-search.latencyOffset=0s", *self.extra_args]
        self.grpc = f"127.0.0.1:{free_port()}"
        return [sys.executable, "-m", "tsdb.cli", "serve", "--data-dir", str(self.data_dir), "--http-listen", listen,
                "--grpc-listen", self.grpc, "--log-level", "warning", *self.extra_args]

    def start(self) -> LocalServer:
        """Start the process and wait until it answers its readiness endpoint."""
        if not available(self.kind):
            raise InvalidArgumentError(f"{BINARIES.get(self.kind, self.kind)} not found on PATH")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                         cwd=self.data_dir.parent)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        path = "/health" if self.kind == "victoriametrics" else "/-/ready"
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise InvalidArgumentError(f"{self.kind} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise InvalidArgumentError(f"{self.kind} not ready after {self.ready_timeout_s:.0f}s: {self.log_tail()}")

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def flush(self, timeout_s: float = 120.0) -> str:
        """Force buffered data to disk where the target allows it; returns what was done.

        VictoriaMetrics: ``/internal/force_flush``. Prometheus: a snapshot of the head as a compacted block
        (``/api/v1/admin/tsdb/snapshot``, left under ``snapshots/``). tsdb: wait until background
        maintenance has cut the head to at most 1.5 block ranges (stopping it persists the rest).
        """
        try:
            if self.kind == "victoriametrics":
                with urllib.request.urlopen(self.url + "/internal/force_flush", timeout=timeout_s):
                    return "force_flush"
            if self.kind == "prometheus":
                request = urllib.request.Request(self.url + "/api/v1/admin/tsdb/snapshot", data=b"", method="POST")
                with urllib.request.urlopen(request, timeout=timeout_s):
                    return "snapshot"
            if self.kind == "tsdb":
                return self._settle(timeout_s)
        except (urllib.error.URLError, OSError) as err:
            return f"flush failed: {err}"
        return "clean stop only"

    def _settle(self, timeout_s: float, block_range_ms: int = 2 * 3_600_000) -> str:
        """Wait (bounded) until tsdb's background maintenance has cut the head down to at most 1.5 block
        ranges, so queries are timed on a settled server, as Prometheus's are after its snapshot."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with urllib.request.urlopen(self.url + "/api/v1/status/tsdb", timeout=30) as response:
                head = json.loads(response.read())["data"]["headStats"]
            if head["maxTime"] - head["minTime"] <= block_range_ms * 3 // 2:
                return "head compacted"
            time.sleep(1.0)
        return "head still compacting"

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        return proc.returncode

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
