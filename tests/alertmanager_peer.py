"""Real Alertmanagers (Debian's prometheus-alertmanager) on 127.0.0.1 for tests, killed by PID.

:func:`running_alertmanager` starts one stand-alone Alertmanager with a null receiver;
:func:`running_alertmanager_cluster` starts N Alertmanagers gossiping with each other (Alertmanager's HA mode)
and yields them once every node is ready and sees all N peers. Both kill only the processes they started.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.serve import free_port
from tests.needs import require_binary


def _alertmanager_binary() -> str:
    return require_binary("prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager")


@contextmanager
def running_alertmanager(work_dir: Path) -> Iterator[str]:
    """Start an Alertmanager with one null receiver; yields its base URL (skips when not installed)."""
    binary = _alertmanager_binary()
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


@dataclass
class AlertmanagerNode:
    """One member of a cluster started by :func:`running_alertmanager_cluster`."""

    url: str
    """Base URL of the web/API listener, also the node's ``--web.external-url`` (webhooks name it)."""
    cluster_address: str
    """``127.0.0.1:<port>`` of the gossip listener (TCP and UDP)."""
    proc: subprocess.Popen[bytes]
    log: Path
    name: str = field(default="")
    """The node's cluster peer name (a ULID), known once the cluster is ready."""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL this node (the PID this helper started) and reap it; harmless when already dead."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def get(self, path: str, timeout_s: float = 5) -> Any:
        """GET ``url + path`` as JSON (raises on HTTP errors and when the node does not answer)."""
        with urllib.request.urlopen(self.url + path, timeout=timeout_s) as response:
            return json.loads(response.read())


def cluster_position(nodes: list[AlertmanagerNode], node: AlertmanagerNode) -> int:
    """The node's position in the cluster as Alertmanager computes it (index of its name among the sorted peer
    names): position ``p`` waits ``p * --cluster.peer-timeout`` before sending a notification, so position 0
    is the one that notifies while all are up."""
    return sorted(n.name for n in nodes).index(node.name)


def _ready(node: AlertmanagerNode, peers: int) -> bool:
    """True once ``/-/ready`` answers 200 and ``/api/v2/status`` says the gossip settled with ``peers`` members."""
    try:
        with urllib.request.urlopen(node.url + "/-/ready", timeout=2) as response:
            if response.status != 200:
                return False
        cluster = node.get("/api/v2/status", timeout_s=2).get("cluster") or {}
    except (urllib.error.URLError, OSError, ValueError):
        return False
    node.name = str(cluster.get("name") or "")
    return cluster.get("status") == "ready" and len(cluster.get("peers") or []) == peers


def _wait_listening(address: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    host, port = address.rsplit(":", 1)
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)


@contextmanager
def running_alertmanager_cluster(work_dir: Path, config: Path, nodes: int = 2, *, peer_timeout: str = "2s",
                                 timeout_s: float = 60) -> Iterator[list[AlertmanagerNode]]:
    """Start ``nodes`` Alertmanagers with ``config`` (an alertmanager.yml) gossiping on 127.0.0.1; yields them
    once each is ready and lists all ``nodes`` peers in ``/api/v2/status``. Skips when not installed; raises
    TimeoutError (with the logs' tails) when the cluster does not form within ``timeout_s``. On exit, kills
    (SIGKILL) every node still running, only those started here.

    ``peer_timeout`` is ``--cluster.peer-timeout``: how long each position waits for the ones before it to
    notify (Alertmanager's HA dedup), so it bounds how late a duplicate could still be sent."""
    binary = _alertmanager_binary()
    work_dir.mkdir(parents=True, exist_ok=True)
    cluster_ports = [free_port() for _ in range(nodes)]
    started: list[AlertmanagerNode] = []
    deadline = time.monotonic() + timeout_s
    try:
        for i, cluster_port in enumerate(cluster_ports):
            web_port = free_port()
            address = f"127.0.0.1:{cluster_port}"
            others = [f"--cluster.peer=127.0.0.1:{p}" for p in cluster_ports if p != cluster_port]
            log = work_dir / f"alertmanager-{i}.log"
            with log.open("wb") as out:  # the child keeps its own descriptor
                proc = subprocess.Popen(
                    [binary, f"--config.file={config}", f"--storage.path={work_dir / f'am-data-{i}'}",
                     f"--web.listen-address=127.0.0.1:{web_port}", f"--web.external-url=http://127.0.0.1:{web_port}",
                     f"--cluster.listen-address={address}", f"--cluster.advertise-address={address}", *others,
                     f"--cluster.peer-timeout={peer_timeout}",
                     # fast gossip and full-state sync: settles in seconds (settle checks every 10 gossip
                     # intervals) and spreads the notification log well inside the peer timeout
                     "--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s",
                     # a join that raced a peer's start is retried soon, not after the default 10 s
                     "--cluster.reconnect-interval=1s"],
                    stdout=out, stderr=subprocess.STDOUT)
            started.append(AlertmanagerNode(f"http://127.0.0.1:{web_port}", address, proc, log))
            # the next node's --cluster.peer join succeeds at once when this one already listens
            _wait_listening(address, proc, deadline)
        while not all(_ready(n, nodes) for n in started):
            dead = [n for n in started if not n.alive()]
            if dead or time.monotonic() > deadline:
                tails = "\n".join(f"--- {n.log.name} (pid {n.pid}, exit {n.proc.poll()}):\n"
                                  f"{n.log.read_text(errors='replace')[-1500:]}" for n in started)
                raise TimeoutError(f"alertmanager cluster of {nodes} not ready within {timeout_s} s\n{tails}")
            time.sleep(0.2)
        yield started
    finally:
        for node in started:
            node.kill()
