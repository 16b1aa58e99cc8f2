"""A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1 for tests, killed by PID."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.serve import free_port
from tests.needs import require_binary


@contextmanager
def running_alertmanager(work_dir: Path) -> Iterator[str]:
    """Start an Alertmanager with one null receiver; yields its base URL (skips when not installed)."""
    binary = require_binary("prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager")
    port = free_port()
    config = work_dir / "am.yml"
    config.write_text("route: {receiver: 'null', group_wait: 1s}\nreceivers: [{name: 'null'}]\n")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.path={work_dir / 'am-data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(timeout=10)
