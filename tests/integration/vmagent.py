"""Run a real ``vmagent`` on 127.0.0.1 for write-path tests: remote-write in on its own ``/api/v1/write``,
out to one or more ``-remoteWrite.url``, buffering on disk under its own temp dir.

Sharding: Debian's vmagent (1.79) predates ``-remoteWrite.shardByURL``; :func:`shard_relabel_configs` writes
the equivalent per-url relabel configs (``hashmod`` over the series' labels, keep one bucket per url).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from tests.contracts.prometheus_peer import http_get
from tests.integration.serve import free_port

VMAGENT = shutil.which("vmagent")


def shard_relabel_configs(work_dir: Path, shards: int, source_labels: Sequence[str]) -> list[Path]:
    """One relabel config file per shard: shard ``n`` keeps the series whose ``hashmod`` of
    ``source_labels`` is ``n``, so every series goes to exactly one url, always the same one."""
    paths = []
    labels = ", ".join(source_labels)
    for n in range(shards):
        path = work_dir / f"shard-{n}.yml"
        path.write_text(f"- action: hashmod\n  source_labels: [{labels}]\n  modulus: {shards}\n"
                        f"  target_label: __tmp_shard\n- action: keep\n  source_labels: [__tmp_shard]\n"
                        f"  regex: \"{n}\"\n- action: labeldrop\n  regex: __tmp_shard\n")
        paths.append(path)
    return paths


class VmAgent:
    """A running vmagent on ``127.0.0.1:<free port>`` forwarding to ``urls``; stop it with :meth:`stop`."""

    def __init__(self, work_dir: Path, urls: Sequence[str], url_relabel_configs: Sequence[Path] = (),
                 *extra: str, timeout_s: float = 60) -> None:
        if VMAGENT is None:
            raise FileNotFoundError("vmagent binary not found on PATH")
        work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work_dir / f"vmagent-{self.port}.log"
        self._log = self.log_path.open("w")
        args = [VMAGENT, f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-remoteWrite.tmpDataPath={work_dir / 'vmagent-data'}", "-remoteWrite.flushInterval=100ms",
                "-remoteWrite.queues=2", "-remoteWrite.sendTimeout=10s", "-loggerLevel=INFO",
                *[f"-remoteWrite.url={u}" for u in urls],
                *[f"-remoteWrite.urlRelabelConfig={p}" for p in url_relabel_configs], *extra]
        self.proc = subprocess.Popen(args, cwd=work_dir, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vmagent exited with {self.proc.returncode}: {self.log_text()[-2000:]}")
            try:
                if http_get(self.url + "/health", timeout_s=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"vmagent not ready after {timeout_s}s: {self.log_text()[-2000:]}")

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the process by PID (SIGTERM, then SIGKILL after 20 s) and close the log."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self._log.close()

    def __enter__(self) -> VmAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
