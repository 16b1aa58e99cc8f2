"""Failover of a notification cluster: takeover time, lost and duplicate notifications over repeated SIGKILLs.

Starts a real etcd, a webhook receiver and ``--nodes`` tsdb servers forming one notification cluster
(``cluster:`` in their config, lease TTL ``--lease-ttl``), all with the rule ``ha_value > 0`` grouped by
``instance`` (group_wait 1 s, group_interval ``--group-interval``, repeat_interval 1 h). Each round:

1. a new instance's alert is written to every live node (the data replicated, as vmagent would) and must be
   delivered by the current dispatcher;
2. the dispatcher gets SIGKILL; at once another new instance fires on the survivors;
3. *takeover* is the time until a survivor reports ``dispatching`` (``/api/v1/status/cluster``), *delivery*
   the time until the receiver got the alert that fired during the failover;
4. the killed node is started again and rejoins as a standby.

Every earlier alert keeps firing the whole time (it is written again each round), so a new dispatcher that
repeated what its predecessor sent would show as a duplicate. At the end, *lost* counts alerts never
delivered and *duplicates* the deliveries beyond the first of an alert. Goal: 0 lost, 0 duplicates over 20
kills, takeover under 15 s with the default 10 s TTL. Figures are printed, never asserted; everything binds
127.0.0.1 and every process started is ended by its PID.

``python -m benchmarks ha [--kills 20] [--nodes 3] [--lease-ttl 10] [--group-interval 5] [--max-seconds 1800]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from benchmarks.etcd import EtcdProcess
from benchmarks.webhook import WebhookReceiver
from tsdb.bench.report import machine_description
from tsdb.bench.servers import LocalServer


def _config(path: Path, etcd: EtcdProcess, hook: str, ttl_s: int, group_interval_s: int) -> Path:
    rules = path.parent / "rules.yml"
    rules.write_text("groups: [{name: ha, interval: 1s, rules: [{alert: Up, expr: 'ha_value > 0'}]}]\n")
    path.write_text(yaml.safe_dump({
        "rules": {"files": [str(rules)], "evaluation_interval": "1s"},
        "notifications": {"config": {
            "route": {"receiver": "hook", "group_by": ["instance"], "group_wait": "1s",
                      "group_interval": f"{group_interval_s}s", "repeat_interval": "1h"},
            "receivers": [{"name": "hook", "webhook_configs": [{"url": hook, "send_resolved": False}]}]}},
        "cluster": {"name": "bench", "etcd": {"endpoints": [etcd.url], "timeout": "2s"},
                    "lease_ttl": f"{ttl_s}s"}}))
    return path


def _dispatching(server: LocalServer) -> bool:
    try:
        with urllib.request.urlopen(f"{server.url}/api/v1/status/cluster", timeout=2) as response:
            return bool(json.loads(response.read())["data"]["dispatching"])
    except (OSError, ValueError, KeyError):
        return False


def _dispatcher(servers: list[LocalServer]) -> LocalServer | None:
    return next((s for s in servers if _dispatching(s)), None)


def _write(servers: list[LocalServer], instances: list[str]) -> None:
    body = "".join(f"ha,instance={i} value=1\n" for i in instances).encode()
    for server in servers:
        request = urllib.request.Request(f"{server.url}/write", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


def _wait(condition: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    return None


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    binary = shutil.which("etcd")
    if binary is None:
        raise SystemExit("etcd not found on PATH (Debian package etcd-server)")
    receiver = WebhookReceiver()
    etcd = EtcdProcess(binary, work)
    etcd.start()
    servers: list[LocalServer] = []
    takeovers: list[float] = []
    deliveries: list[float] = []
    fired: list[str] = []
    started = time.monotonic()
    try:
        config = _config(work / "tsdb.yml", etcd, receiver.url, args.lease_ttl, args.group_interval)
        for i in range(args.nodes):
            servers.append(LocalServer("tsdb", work / f"node{i}", extra_args=("--config", str(config),
                                                                               "--no-collect")).start())
        for round_no in range(1, args.kills + 1):
            if time.monotonic() - started > args.max_seconds:
                print(f"stopped after {round_no - 1} kills: --max-seconds reached", flush=True)
                break
            leader = _wait(lambda: _dispatcher(servers), 60)
            if leader is None:
                print("no dispatcher elected within 60 s", flush=True)
                break
            steady = f"r{round_no}-steady"
            fired.append(steady)
            _write(servers, fired)
            _wait(partial(receiver.deliveries, instance=steady), 30)
            os.kill(leader.pid, signal.SIGKILL)
            killed = time.monotonic()
            assert leader.proc is not None
            leader.proc.wait(timeout=10)
            survivors = [s for s in servers if s is not leader]
            during = f"r{round_no}-failover"
            fired.append(during)
            _write(survivors, fired)
            new = _wait(partial(_dispatcher, survivors), args.lease_ttl * 3 + 30)
            takeover = time.monotonic() - killed if new is not None else float("nan")
            got = _wait(partial(receiver.deliveries, instance=during), args.lease_ttl * 3 + args.group_interval + 30)
            delivery = got[0].at - killed if got else float("nan")
            takeovers.append(takeover)
            deliveries.append(delivery)
            print(f"kill {round_no:>2}: takeover {takeover:5.1f} s, failover alert delivered after {delivery:5.1f} s",
                  flush=True)
            leader.start()  # rejoins as a standby; its WAL has every alert's data
            _write([leader], fired)
        time.sleep(2 * args.group_interval + 2)
    finally:
        for server in servers:
            server.stop(30)
        etcd.kill()
        receiver.close()
    lost = [i for i in fired if not receiver.deliveries(instance=i)]
    duplicates = sum(max(0, len(receiver.deliveries(instance=i)) - 1) for i in fired)
    return {"kills": len(takeovers), "alerts": len(fired), "lost": lost, "duplicates": duplicates,
            "takeovers": takeovers, "deliveries": deliveries}


def _spread(values: list[float]) -> str:
    good = [v for v in values if v == v]
    if not good:
        return "n/a"
    return f"min {min(good):.1f} s, median {statistics.median(good):.1f} s, max {max(good):.1f} s"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks ha")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the dispatching node")
    parser.add_argument("--nodes", type=int, default=3, help="tsdb nodes in the cluster")
    parser.add_argument("--lease-ttl", type=int, default=10, help="cluster.lease_ttl in seconds")
    parser.add_argument("--group-interval", type=int, default=5, help="the route's group_interval in seconds")
    parser.add_argument("--max-seconds", type=float, default=1800, help="stop starting new rounds after this")
    args = parser.parse_args(argv)
    if args.nodes < 2 or args.kills < 1:
        parser.error("at least 2 nodes and 1 kill")
    print(f"ha on {machine_description()}: {args.nodes} nodes, lease TTL {args.lease_ttl} s, "
          f"group_interval {args.group_interval} s, {args.kills} kills", flush=True)
    with tempfile.TemporaryDirectory(prefix="tsdb-ha-") as tmp:
        result = run(args, Path(tmp))
    print(f"takeover: {_spread(result['takeovers'])}")
    print(f"failover alert delivered: {_spread(result['deliveries'])}")
    print(f"alerts fired {result['alerts']}, lost {len(result['lost'])}"
          + (f" ({', '.join(result['lost'])})" if result["lost"] else "") + f", duplicates {result['duplicates']}")
    return 0
