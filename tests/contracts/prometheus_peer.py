"""Run a real Prometheus (Debian's 2.42) on 127.0.0.1 with a temp data dir, for differential tests.

:class:`PrometheusPeer` starts ``prometheus`` with the remote-write receiver on a free port and waits
until it is ready; :meth:`PrometheusPeer.stop` kills it by PID. :func:`remote_write` sends samples to
any remote-write endpoint (Prometheus or ``tsdb serve``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tests.integration.serve import free_port
from tsdb.labels import Labels
from tsdb.server.remote_write import compress_snappy, encode_write_request

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")

SeriesData = list[tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64]]]


def http_get(url: str, timeout_s: float = 60) -> tuple[int, bytes]:
    """GET ``url``; return the status code and the raw body (error statuses included)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def http_post(url: str, body: bytes, headers: dict[str, str], timeout_s: float = 60) -> tuple[int, bytes]:
    """POST ``body`` to ``url``; return the status code and the raw body."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def remote_write(base_url: str, path: str, series: SeriesData, batch: int = 200) -> None:
    """Send ``series`` to ``base_url + path`` by remote write, ``batch`` series per request."""
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
               "X-Prometheus-Remote-Write-Version": "0.1.0"}
    for i in range(0, len(series), batch):
        body = compress_snappy(encode_write_request(series[i:i + batch]))
        status, text = http_post(base_url + path, body, headers)
        if status >= 300:
            raise RuntimeError(f"remote write to {base_url + path} failed with {status}: {text[:500]!r}")


class PrometheusPeer:
    """A running Prometheus on ``127.0.0.1:<free port>`` with its data in ``work_dir``."""

    def __init__(self, work_dir: Path, config: str = "global:\n  scrape_interval: 1m\n", *extra: str,
                 timeout_s: float = 60) -> None:
        if PROMETHEUS is None:
            raise FileNotFoundError("prometheus binary not found on PATH")
        work_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = work_dir / "prom-data"
        self.config_path = work_dir / "prometheus.yml"
        self.config_path.write_text(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work_dir / f"prometheus-{self.port}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.config_path}", f"--storage.tsdb.path={self.data_dir}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-remote-write-receiver",
             "--storage.tsdb.retention.time=100y", *extra],
            cwd=work_dir, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}: {self.log_text()[-2000:]}")
            try:
                if http_get(self.url + "/-/ready", timeout_s=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready after {timeout_s}s: {self.log_text()[-2000:]}")

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, params: dict[str, str] | list[tuple[str, str]] | None = None) -> tuple[int, bytes]:
        """GET ``path`` with query ``params``; the status and raw body."""
        query = "?" + urllib.parse.urlencode(params) if params else ""
        return http_get(self.url + path + query)

    def get_json(self, path: str, params: dict[str, str] | list[tuple[str, str]] | None = None
                 ) -> tuple[int, Any]:
        status, body = self.get(path, params)
        return status, json.loads(body)

    def write(self, series: SeriesData) -> None:
        """Remote-write ``series`` into this Prometheus."""
        remote_write(self.url, "/api/v1/write", series)

    def stop(self) -> None:
        """Kill the process by PID and close the log."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self._log.close()

    def __enter__(self) -> PrometheusPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
