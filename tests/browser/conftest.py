"""Browser tests of the web UI: a real ``tsdb serve`` with a known data set, driven by headless Chromium.

Fixtures: ``server`` (session-scoped: a :class:`ServeProcess` holding three hours of node-exporter series
for three instances and of a VictoriaMetrics' own series, written before the server starts, plus the
server's own metrics collected every 2 s and alert rules evaluated every 2 s), ``browser`` (session-scoped:
Selenium's Chrome driver on Debian's ``chromium`` and ``chromedriver``, console log captured, replaced
when a page hung it) and ``ui`` (per test: server and driver together). Helpers: :func:`open_dashboard`
(waits for ``body[data-dashboard-state=settled]``), :func:`panel_states`, :func:`canvas_nonblank`,
:func:`console_errors`, :func:`screenshot` (PNG files under ``tests/browser/screenshots/``, not committed).

The DOM contract the tests rely on is in docs/dashboards.md: ``data-panel-id``, ``data-state`` and the
body's ``data-dashboard-state``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.serve import ServeProcess
from tests.needs import require_binary, require_module

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCREENSHOTS = HERE / "screenshots"
GRAFANA_DIR = ROOT / "tests" / "ui" / "grafana"
WAIT_S = 20.0
COMMAND_TIMEOUT_S = 10
STEP_MS = 15_000
HOURS = 3
INSTANCES = ("node-a:9100", "node-b:9100", "node-c:9100")
JOB = "node"

# ---------------------------------------------------------------------------------------------------------
# The data set: node-exporter series for three instances, three hours at 15 s


def _node_series() -> list[tuple[dict[str, str], str, float]]:
    """(labels without instance/job, kind, scale) of every node-exporter series written per instance.

    ``kind`` is ``counter`` (increasing by about ``scale`` per second), ``gauge`` (wandering around
    ``scale``) or ``const`` (always ``scale``).
    """
    out: list[tuple[dict[str, str], str, float]] = []

    def add(metric: str, kind: str, scale: float, **labels: str) -> None:
        out.append(({"__name__": metric, **labels}, kind, scale))

    modes = {"idle": 0.70, "user": 0.15, "system": 0.07, "iowait": 0.03, "irq": 0.005, "softirq": 0.01,
             "steal": 0.002, "nice": 0.003, "guest": 0.0, "guest_nice": 0.0}
    for cpu in range(4):
        for mode, share in modes.items():
            add("node_cpu_seconds_total", "counter", share, cpu=str(cpu), mode=mode)
            if mode == "idle":
                add("node_cpu_guest_seconds_total", "counter", 0.0, cpu=str(cpu), mode="user")
        add("node_cpu_scaling_frequency_hertz", "gauge", 2.4e9, cpu=str(cpu))
        add("node_cpu_online", "const", 1, cpu=str(cpu))
    gib = 1024.0**3
    memory = {"MemTotal": ("const", 16 * gib), "MemFree": ("gauge", 3 * gib), "MemAvailable": ("gauge", 9 * gib),
              "Cached": ("gauge", 5 * gib), "Buffers": ("gauge", 0.4 * gib), "SwapTotal": ("const", 2 * gib),
              "SwapFree": ("gauge", 1.8 * gib), "SwapCached": ("gauge", 0.01 * gib),
              "Active": ("gauge", 6 * gib), "Inactive": ("gauge", 4 * gib), "Active_anon": ("gauge", 3 * gib),
              "Inactive_anon": ("gauge", 1 * gib), "Active_file": ("gauge", 3 * gib),
              "Inactive_file": ("gauge", 3 * gib), "Dirty": ("gauge", 0.001 * gib),
              "Writeback": ("gauge", 0.0001 * gib), "Slab": ("gauge", 0.5 * gib),
              "SReclaimable": ("gauge", 0.3 * gib), "SUnreclaim": ("gauge", 0.2 * gib),
              "Shmem": ("gauge", 0.2 * gib), "Mapped": ("gauge", 0.6 * gib), "AnonPages": ("gauge", 4 * gib),
              "PageTables": ("gauge", 0.05 * gib), "Committed_AS": ("gauge", 10 * gib),
              "CommitLimit": ("const", 10 * gib), "KernelStack": ("gauge", 0.02 * gib),
              "HugePages_Total": ("const", 0), "HugePages_Free": ("const", 0), "Hugepagesize": ("const", 2097152),
              "VmallocTotal": ("const", 32 * 1024 * gib), "VmallocUsed": ("gauge", 0.05 * gib),
              "Mlocked": ("const", 0), "Unevictable": ("const", 0), "Bounce": ("const", 0),
              "AnonHugePages": ("gauge", 0.1 * gib), "NFS_Unstable": ("const", 0),
              "WritebackTmp": ("const", 0), "DirectMap4k": ("const", 0.3 * gib),
              "DirectMap2M": ("const", 8 * gib), "DirectMap1G": ("const", 8 * gib)}
    for field, (kind, scale) in memory.items():
        add(f"node_memory_{field}_bytes", kind, scale)
    for name, scale in (("node_load1", 1.2), ("node_load5", 1.0), ("node_load15", 0.9)):
        add(name, "gauge", scale)
    filesystems = (("/dev/sda1", "ext4", "/", 100 * gib), ("/dev/sda2", "vfat", "/boot/efi", 0.5 * gib),
                   ("tmpfs", "tmpfs", "/run", 1.6 * gib))
    for device, fstype, mountpoint, size in filesystems:
        fs = {"device": device, "fstype": fstype, "mountpoint": mountpoint}
        add("node_filesystem_size_bytes", "const", size, **fs)
        add("node_filesystem_avail_bytes", "gauge", size * 0.4, **fs)
        add("node_filesystem_free_bytes", "gauge", size * 0.45, **fs)
        add("node_filesystem_files", "const", 6_000_000, **fs)
        add("node_filesystem_files_free", "gauge", 5_000_000, **fs)
        add("node_filesystem_readonly", "const", 0, **fs)
        add("node_filesystem_device_error", "const", 0, **fs)
    for device in ("sda", "nvme0n1"):
        for name, scale in (("reads_completed", 40), ("writes_completed", 60), ("read_bytes", 2e6),
                            ("written_bytes", 3e6), ("reads_merged", 2), ("writes_merged", 10),
                            ("read_time_seconds", 0.02), ("write_time_seconds", 0.05),
                            ("io_time_seconds", 0.08), ("io_time_weighted_seconds", 0.1),
                            ("discards_completed", 0.1), ("discards_merged", 0.01), ("discarded_sectors", 1),
                            ("discard_time_seconds", 0.001), ("flush_requests", 1),
                            ("flush_requests_time_seconds", 0.001)):
            add(f"node_disk_{name}_total", "counter", scale, device=device)
        add("node_disk_io_now", "gauge", 1, device=device)
        add("node_disk_info", "const", 1, device=device, major="8", minor="0")
    for device, speed in (("eth0", 125_000_000.0), ("lo", 0.0)):
        for direction in ("receive", "transmit"):
            for name, scale in (("bytes", 5e5), ("packets", 400), ("errs", 0.01), ("drop", 0.02),
                                ("fifo", 0.0), ("compressed", 0.0), ("multicast", 0.1), ("frame", 0.0),
                                ("carrier", 0.0), ("colls", 0.0)):
                if direction == "receive" and name in ("carrier", "colls"):
                    continue
                if direction == "transmit" and name in ("frame", "multicast"):
                    continue
                add(f"node_network_{direction}_{name}_total", "counter", scale, device=device)
        add("node_network_up", "const", 1, device=device)
        add("node_network_carrier", "const", 1, device=device)
        add("node_network_mtu_bytes", "const", 1500 if device == "eth0" else 65536, device=device)
        add("node_network_speed_bytes", "const", speed, device=device)
        add("node_network_transmit_queue_length", "const", 1000, device=device)
        add("node_network_info", "const", 1, device=device, operstate="up", address="02:42:ac:11:00:02",
            broadcast="ff:ff:ff:ff:ff:ff", duplex="full")
    for name, kind, scale in (
            ("node_context_switches_total", "counter", 3000), ("node_intr_total", "counter", 2000),
            ("node_forks_total", "counter", 5), ("node_procs_running", "gauge", 3),
            ("node_procs_blocked", "gauge", 0.5), ("node_processes_threads", "gauge", 600),
            ("node_processes_max_threads", "const", 120_000), ("node_processes_pids", "gauge", 300),
            ("node_processes_max_processes", "const", 4_194_304),
            ("node_entropy_available_bits", "gauge", 3500), ("node_entropy_pool_size_bits", "const", 4096),
            ("node_filefd_allocated", "gauge", 3000), ("node_filefd_maximum", "const", 9_223_372_036),
            ("node_boot_time_seconds", "const", 1.7e9), ("node_time_seconds", "clock", 1),
            ("node_timex_offset_seconds", "gauge", 0.0001), ("node_timex_sync_status", "const", 1),
            ("node_timex_maxerror_seconds", "gauge", 0.1), ("node_timex_estimated_error_seconds", "gauge", 0.001),
            ("node_timex_frequency_adjustment_ratio", "gauge", 1.0), ("node_timex_loop_time_constant", "const", 7),
            ("node_timex_tick_seconds", "const", 0.01),
            ("node_vmstat_pgpgin", "counter", 500), ("node_vmstat_pgpgout", "counter", 800),
            ("node_vmstat_pswpin", "counter", 0.1), ("node_vmstat_pswpout", "counter", 0.1),
            ("node_vmstat_pgfault", "counter", 4000), ("node_vmstat_pgmajfault", "counter", 1),
            ("node_vmstat_oom_kill", "counter", 0.0),
            ("node_netstat_Tcp_CurrEstab", "gauge", 40), ("node_netstat_Tcp_ActiveOpens", "counter", 2),
            ("node_netstat_Tcp_PassiveOpens", "counter", 1), ("node_netstat_Tcp_InSegs", "counter", 500),
            ("node_netstat_Tcp_OutSegs", "counter", 450), ("node_netstat_Tcp_RetransSegs", "counter", 0.5),
            ("node_netstat_Tcp_InErrs", "counter", 0.0), ("node_netstat_Tcp_OutRsts", "counter", 0.2),
            ("node_netstat_Tcp_MaxConn", "const", -1), ("node_netstat_Udp_InDatagrams", "counter", 20),
            ("node_netstat_Udp_OutDatagrams", "counter", 20), ("node_netstat_Udp_InErrors", "counter", 0.0),
            ("node_netstat_Udp_NoPorts", "counter", 0.01), ("node_netstat_Ip_Forwarding", "const", 1),
            ("node_netstat_IpExt_InOctets", "counter", 5e5), ("node_netstat_IpExt_OutOctets", "counter", 4e5),
            ("node_netstat_Icmp_InMsgs", "counter", 0.1), ("node_netstat_Icmp_OutMsgs", "counter", 0.1),
            ("node_netstat_TcpExt_ListenDrops", "counter", 0.0),
            ("node_netstat_TcpExt_ListenOverflows", "counter", 0.0),
            ("node_netstat_TcpExt_SyncookiesSent", "counter", 0.0),
            ("node_netstat_TcpExt_TCPSynRetrans", "counter", 0.01),
            ("node_sockstat_sockets_used", "gauge", 400), ("node_sockstat_TCP_inuse", "gauge", 40),
            ("node_sockstat_TCP_alloc", "gauge", 50), ("node_sockstat_TCP_tw", "gauge", 10),
            ("node_sockstat_TCP_orphan", "gauge", 1), ("node_sockstat_TCP_mem_bytes", "gauge", 1e6),
            ("node_sockstat_UDP_inuse", "gauge", 5), ("node_sockstat_UDP_mem_bytes", "gauge", 1e5),
            ("node_sockstat_TCP6_inuse", "gauge", 5), ("node_sockstat_UDP6_inuse", "gauge", 2),
            ("node_sockstat_FRAG_inuse", "const", 0), ("node_sockstat_RAW_inuse", "const", 0),
            ("node_nf_conntrack_entries", "gauge", 200), ("node_nf_conntrack_entries_limit", "const", 262_144),
            ("node_pressure_cpu_waiting_seconds_total", "counter", 0.02),
            ("node_pressure_memory_waiting_seconds_total", "counter", 0.001),
            ("node_pressure_memory_stalled_seconds_total", "counter", 0.0005),
            ("node_pressure_io_waiting_seconds_total", "counter", 0.01),
            ("node_pressure_io_stalled_seconds_total", "counter", 0.005),
            ("node_schedstat_running_seconds_total", "counter", 0.3),
            ("node_schedstat_waiting_seconds_total", "counter", 0.01),
            ("node_schedstat_timeslices_total", "counter", 200),
            ("node_systemd_units", "const", 150), ("node_textfile_scrape_error", "const", 0),
            ("node_exporter_build_info", "const", 1),
            ("node_scrape_collector_success", "const", 1), ("node_scrape_collector_duration_seconds", "gauge", 0.01),
            ("process_cpu_seconds_total", "counter", 0.01), ("process_resident_memory_bytes", "gauge", 2e7),
            ("process_start_time_seconds", "const", 1.7e9), ("process_open_fds", "gauge", 10),
            ("process_max_fds", "const", 1024), ("up", "const", 1)):
        add(name, kind, scale)
    for chip, sensor, temp in (("platform_coretemp_0", "temp1", 45.0), ("platform_coretemp_0", "temp2", 47.0)):
        add("node_hwmon_temp_celsius", "gauge", temp, chip=chip, sensor=sensor)
        add("node_hwmon_temp_crit_celsius", "const", 100.0, chip=chip, sensor=sensor)
        add("node_hwmon_temp_max_celsius", "const", 84.0, chip=chip, sensor=sensor)
        add("node_hwmon_chip_names", "const", 1, chip=chip, chip_name="coretemp")
    for state in ("active", "inactive", "failed", "activating", "deactivating"):
        add("node_systemd_unit_state", "const", 1.0 if state == "active" else 0.0, name="ssh.service",
            state=state, type="simple")
    return out


def grafana_exprs() -> list[str]:
    """Every query expression (panel targets, variable queries) of the community Grafana dashboards."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "query", "definition") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted(GRAFANA_DIR.glob("*.json")):
        walk(json.loads(path.read_text()))
    return found


def referenced_metrics() -> set[str]:
    """Metric-like names used by the community dashboards' queries (node_*, vm_*, go_*, process_*)."""
    names: set[str] = set()
    for expr in grafana_exprs():
        names.update(re.findall(r"\b(?:node|vm|go|process)_[A-Za-z0-9_]+", expr))
    return names


def _vm_series() -> list[tuple[dict[str, str], str, float]]:
    """A VictoriaMetrics single-node's own series, as its dashboard queries them (one instance)."""
    out: list[tuple[dict[str, str], str, float]] = [
        ({"__name__": "vm_app_version", "version": "victoria-metrics-20240301-000000-tags-v1.99.0-0-g0",
          "short_version": "v1.99.0"}, "const", 1),
        ({"__name__": "vm_app_start_timestamp"}, "const", 1.7e9),
        ({"__name__": "up"}, "const", 1),
        ({"__name__": "flag", "name": "retentionPeriod", "value": "1y", "is_set": "true"}, "const", 1),
        ({"__name__": "vm_free_disk_space_bytes", "path": "/victoria-metrics-data"}, "gauge", 4e10),
        ({"__name__": "vm_free_disk_space_limit_bytes", "path": "/victoria-metrics-data"}, "const", 1e7),
    ]
    for kind in ("storage/small", "storage/big", "indexdb/file", "indexdb/inmemory"):
        out.append(({"__name__": "vm_rows", "type": kind}, "gauge", 1e8))
        out.append(({"__name__": "vm_data_size_bytes", "type": kind}, "gauge", 1e8))
        out.append(({"__name__": "vm_parts", "type": kind}, "gauge", 20))
        out.append(({"__name__": "vm_last_partition_parts", "type": kind}, "gauge", 10))
        out.append(({"__name__": "vm_active_merges", "type": kind}, "gauge", 1))
        out.append(({"__name__": "vm_rows_merged_total", "type": kind}, "counter", 1e4))
        out.append(({"__name__": "vm_assisted_merges_total", "type": kind}, "counter", 0.01))
    for cache in ("storage/hour_metric_ids", "storage/tsid", "indexdb/dataBlocks"):
        out.append(({"__name__": "vm_cache_entries", "type": cache}, "gauge", 5000))
        out.append(({"__name__": "vm_cache_size_bytes", "type": cache}, "gauge", 1e6))
        out.append(({"__name__": "vm_cache_size_max_bytes", "type": cache}, "const", 1e8))
        out.append(({"__name__": "vm_cache_requests_total", "type": cache}, "counter", 100))
        out.append(({"__name__": "vm_cache_misses_total", "type": cache}, "counter", 3))
    for path in ("/api/v1/write", "/api/v1/query_range", "/api/v1/query"):
        out.append(({"__name__": "vm_http_requests_total", "path": path}, "counter", 5))
        out.append(({"__name__": "vm_http_request_errors_total", "path": path}, "counter", 0.01))
        out.append(({"__name__": "vm_request_duration_seconds", "path": path, "quantile": "0.99"}, "gauge", 0.05))
    for kind in ("storage", "indexdb"):
        out.append(({"__name__": "vm_pending_rows", "type": kind}, "gauge", 100))
    out.append(({"__name__": "vm_rows_inserted_total", "type": "promremotewrite"}, "counter", 1000))
    out.append(({"__name__": "vm_log_messages_total", "level": "warn", "app_version": "v1.99.0",
                 "location": "app/vmstorage/main.go:100"}, "counter", 0.01))
    out.append(({"__name__": "vm_rows_ignored_total", "reason": "big_timestamp"}, "counter", 0.01))
    for name in ("vm_tcplistener_read_bytes_total", "vm_tcplistener_written_bytes_total"):
        out.append(({"__name__": name, "name": "http"}, "counter", 1e4))
    for bound in ("0.001", "0.01", "0.1", "+Inf"):
        out.append(({"__name__": "go_sched_latencies_seconds_bucket", "le": bound}, "counter", float(bound != "0.001")))
    for vmrange in ("1.000e+00...1.136e+00", "1.000e+01...1.136e+01", "1.000e+02...1.136e+02"):
        for name in ("vm_rows_read_per_series_bucket", "vm_rows_scanned_per_query_bucket",
                     "vm_series_read_per_query_bucket", "vm_rows_read_per_query_bucket"):
            out.append(({"__name__": name, "vmrange": vmrange}, "counter", 1))
    return out


def node_dataset(end_ms: int, hours: int = HOURS, seed: int = 7) -> list[tuple[dict[str, str], Any, Any]]:
    """Every series of the data set: (labels, ts ms int64[n], values float64[n]) up to ``end_ms``.

    Three node-exporter instances (job ``node``) and one VictoriaMetrics (job ``victoriametrics``); every
    metric the community dashboards query that the lists above lack gets one plain series per instance,
    so that panel has data (its labels may not match every filter: such a panel shows no data).
    """
    rng = np.random.default_rng(seed)
    n = hours * 3600_000 // STEP_MS
    ts = end_ms - (n - 1 - np.arange(n, dtype=np.int64)) * STEP_MS
    node = _node_series()
    vm = _vm_series()
    known = {labels["__name__"] for labels, _, _ in node + vm} | {"node_uname_info", "node_os_info"}
    for name in sorted(referenced_metrics() - known):
        kind = "counter" if name.endswith("_total") else "gauge"
        if name.startswith("node_"):
            node.append(({"__name__": name}, kind, 1.0 if kind == "counter" else 10.0))
        elif not name.endswith("_bucket"):
            vm.append(({"__name__": name}, kind, 1.0 if kind == "counter" else 10.0))
    # the old node-exporter names (before 0.16) that need labels to match their dashboard's queries
    for cpu in range(2):
        for mode in ("idle", "user", "system", "iowait"):
            node.append(({"__name__": "node_cpu", "cpu": f"cpu{cpu}", "mode": mode}, "counter", 0.25))
    targets = [(instance, JOB, node) for instance in INSTANCES] + [("vmsingle:8428", "victoriametrics", vm)]
    out: list[tuple[dict[str, str], Any, Any]] = []
    for i, (instance, job, series) in enumerate(targets):
        for labels, kind, scale in series:
            full = {**labels, "instance": instance, "job": job}
            if kind == "counter":
                mean = scale * (1 + 0.3 * i) * STEP_MS / 1000
                steps = rng.gamma(4.0, mean / 4.0, size=n) if scale else np.zeros(n)
                values = np.round(1000 * scale + np.cumsum(steps), 2)
            elif kind == "gauge":
                walk = np.cumsum(rng.normal(0, 0.01, size=n))
                values = np.abs(scale * (1 + 0.1 * i) * (1 + 0.2 * np.sin(walk + np.arange(n) / 120)))
            elif kind == "clock":
                values = ts / 1000.0
            else:
                values = np.full(n, float(scale))
            out.append((full, ts, values.astype(np.float64)))
        if job == JOB:
            uname = {"__name__": "node_uname_info", "instance": instance, "job": job,
                     "nodename": instance.split(":")[0], "sysname": "Linux", "release": "6.1.0-18-amd64",
                     "machine": "x86_64", "domainname": "(none)", "version": "#1 SMP PREEMPT_DYNAMIC Debian"}
            out.append((uname, ts, np.ones(n)))
            out.append(({"__name__": "node_os_info", "instance": instance, "job": job, "id": "debian",
                         "name": "Debian GNU/Linux", "pretty_name": "Debian GNU/Linux 12 (bookworm)",
                         "version_id": "12"}, ts, np.ones(n)))
    return out


def write_dataset(data_dir: Path, end_ms: int) -> int:
    """Write :func:`node_dataset` into ``data_dir`` through the embedded API; returns the sample count."""
    import tsdb

    series = node_dataset(end_ms)
    with tsdb.open(str(data_dir), wal_fsync="never") as db:
        for lo in range(0, len(series), 200):
            db.append_many(series[lo:lo + 200])
    return sum(len(ts) for _, ts, _ in series)


# ---------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``tsdb serve`` with the node data set and its own metrics (collected every 2 s; no host metrics)."""
    root = tmp_path_factory.mktemp("browser")
    data_dir = root / "data"
    end_ms = int(time.time() * 1000) // STEP_MS * STEP_MS
    write_dataset(data_dir, end_ms)
    # alert rules so the alerting dashboard has ALERTS: one firing per node instance, one pending
    (root / "rules.yml").write_text(
        "groups:\n"
        "  - name: browser-tests\n"
        "    interval: 2s\n"
        "    rules:\n"
        "      - alert: NodeLoadHigh\n"
        "        expr: node_load1{job=\"node\"} > 0\n"
        "        labels: {severity: warning}\n"
        "      - alert: NodeDiskSlow\n"
        "        expr: node_disk_io_now{job=\"node\"} > 0\n"
        "        for: 1h\n"
        "        labels: {severity: critical}\n")
    config = root / "tsdb.yml"
    config.write_text("collect: {host: false, self: true, interval: 2s}\n"
                      f"rules: {{files: ['{root / 'rules.yml'}'], evaluation_interval: 2s}}\n")
    proc = ServeProcess(data_dir, "--config", str(config))
    try:
        # the first range query compiles the engine's kernels: do it here, not inside a panel's wait
        status, body = proc.get("/api/v1/query_range", query="sum by (instance) (rate(node_cpu_seconds_total[1m]))",
                                start=str(end_ms / 1000 - 3600), end=str(end_ms / 1000), step="60")
        assert status == 200 and len(body["data"]["result"]) == len(INSTANCES), body
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def live_history(server: ServeProcess) -> ServeProcess:
    """The server once its own metrics and the alert rules have written a few samples (they only start
    with the server): rates and range queries over them need more than one point."""
    checks = ('min(count_over_time(ALERTS{alertstate="firing"}[1m]))', "min(count_over_time(tsdb_head_series[1m]))")
    deadline = time.monotonic() + 60
    while True:
        counts = []
        for query in checks:
            status, body = server.get("/api/v1/query", query=query)
            result = body["data"]["result"] if status == 200 else []
            counts.append(float(result[0]["value"][1]) if result else 0.0)
        if min(counts) >= 8:
            return server
        if time.monotonic() > deadline:
            raise AssertionError(f"the server's own metrics and alerts did not appear within 60 s: "
                                 f"{dict(zip(checks, counts, strict=True))}")
        time.sleep(0.5)


class Browser:
    """The session's Chromium: one driver shared by the tests, replaced when a page left it unresponsive
    (a hung page would otherwise fail every later test)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.current: Any = None

    def driver(self) -> Any:
        if self.current is not None:
            try:
                self.current.execute_script("return 1")
                return self.current
            except Exception:  # unresponsive: start a fresh browser
                self.quit()
        self.current = self.factory()
        return self.current

    def quit(self) -> None:
        if self.current is not None:
            with contextlib.suppress(Exception):
                self.current.quit()
            self.current = None


@contextlib.contextmanager
def serve_rule_firing_soon(root: Path, alert: str, delay_s: float,
                           rule_extra: str = "") -> Iterator[tuple[ServeProcess, float]]:
    """``tsdb serve`` on ``root/data`` evaluating every second the alert ``alert``, which starts firing
    ``delay_s`` after this call (that Unix time is yielded with the server); ``rule_extra`` holds further
    YAML lines of the rule (labels, annotations), each indented by 8 spaces."""
    fires_at = time.time() + delay_s
    (root / "rules.yml").write_text(
        "groups:\n  - name: soon\n    interval: 1s\n    rules:\n"
        f"      - alert: {alert}\n        expr: vector(time()) > {fires_at:.0f}\n" + rule_extra)
    config = root / "tsdb.yml"
    config.write_text(json.dumps({"rules": {"files": [str(root / "rules.yml")], "evaluation_interval": "1s"}}))
    proc = ServeProcess(root / "data", "--config", str(config))
    try:
        yield proc, fires_at
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Headless Chromium through chromedriver (Debian's binaries), browser console captured."""
    chromium = require_binary("chromium", package="chromium")
    chromedriver = require_binary("chromedriver", package="chromium-driver")
    webdriver = require_module("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    holder = Browser(lambda: new_driver(chromium, chromedriver, tmp_path_factory.mktemp("chromium-profile"),
                                        webdriver, Options, Service))
    try:
        yield holder
    finally:
        holder.quit()


@pytest.fixture
def driver(browser: Browser) -> Any:
    """The session's driver, responsive, on a blank page: a page left open by an earlier test (its server
    stopped since) would keep logging failed reconnects into this test's console."""
    current = browser.driver()
    current.get("about:blank")
    return current


def new_driver(chromium: str, chromedriver: str, profile: Path, webdriver: Any, options_cls: Any,
               service_cls: Any) -> Any:
    """A Chrome driver with the suite's options; the caller quits it."""
    options = options_cls()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-features=Translate", "--window-size=1400,1000",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=service_cls(chromedriver))
    # a page that hangs fails the command after COMMAND_TIMEOUT_S instead of the default 120 s
    driver.command_executor._client_config.timeout = COMMAND_TIMEOUT_S
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": QUERY_RECORDER_JS})
    except BaseException:
        driver.quit()
        raise
    return driver


# Installed before any page script: records the Prometheus API requests the page makes (the UI sends
# queries as POST forms, so Resource Timing alone does not show them).
QUERY_RECORDER_JS = """
(() => {
  const seen = window.__tsdbQueries = [];
  const original = window.fetch;
  window.fetch = function (input, init) {
    try {
      const url = new URL(typeof input === 'string' ? input : input.url, location.href);
      if (url.pathname.startsWith('/api/v1/')) {
        const body = init && init.body instanceof URLSearchParams ? init.body.toString()
          : (init && typeof init.body === 'string' ? init.body : '');
        seen.push({path: url.pathname, search: url.search, body, method: (init && init.method) || 'GET'});
      }
    } catch (e) { /* never break the page */ }
    return original.apply(this, arguments);
  };
})();
"""


def recorded_queries(driver: Any, path: str = "/api/v1/query_range") -> list[dict[str, str]]:
    """Parameters (query string and form body merged) of every request to ``path`` since the page loaded."""
    out = []
    for entry in driver.execute_script("return window.__tsdbQueries || []"):
        if entry["path"] != path:
            continue
        params = dict(urllib.parse.parse_qsl(entry["search"].lstrip("?")))
        params.update(urllib.parse.parse_qsl(entry["body"]))
        out.append(params)
    return out


def covers_range(query: dict[str, str], seconds: float) -> bool:
    """True when a recorded range query was made for a range of ``seconds``: the UI widens a range to
    multiples of the step (start rounded down, end up), so by less than two steps."""
    span = float(query["end"]) - float(query["start"])
    return seconds - 1 < span < seconds + 2 * float(query["step"]) + 1


def starts_at(query: dict[str, str], start_s: float) -> bool:
    """True when a recorded range query starts at ``start_s`` rounded down to its step."""
    return -float(query["step"]) - 1 < float(query["start"]) - start_s < 1


def ends_at(query: dict[str, str], end_s: float) -> bool:
    """True when a recorded range query ends at ``end_s`` rounded up to its step."""
    return -1 < float(query["end"]) - end_s < float(query["step"]) + 1


@pytest.fixture
def ui(server: ServeProcess, driver: Any) -> Iterator[UI]:
    """The page driver for one test: the browser at the server, console drained before and checked by
    the test itself (:func:`console_errors`)."""
    console_errors(driver)
    yield UI(server, driver)


# ---------------------------------------------------------------------------------------------------------
# Helpers


class UI:
    """The server and the browser of one test, with the helpers below bound to them."""

    def __init__(self, server: ServeProcess, driver: Any) -> None:
        self.server, self.driver, self.url = server, driver, server.url

    def get(self, path: str) -> None:
        self.driver.get(self.url + path)

    def open(self, path: str, timeout_s: float = WAIT_S) -> dict[str, str]:
        return open_dashboard(self.driver, self.url + path, timeout_s)

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return api(self.server, method, path, body)


def api(server: ServeProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A JSON request to the server; (status, decoded body or text)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_for(driver: Any, condition: Callable[[Any], Any], what: str, timeout_s: float = WAIT_S) -> Any:
    """Poll ``condition(driver)`` until truthy (returned) or fail after ``timeout_s`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while True:
        try:
            value = condition(driver)
            if value:
                return value
        except Exception as err:  # a stale or not yet present element: poll again
            last_error = err
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{detail}; "
                                 f"url {driver.current_url}; panels {panel_states(driver)}")
        time.sleep(0.1)


def dashboard_state(driver: Any) -> str | None:
    return driver.execute_script("return document.body ? document.body.getAttribute('data-dashboard-state') : null")


def wait_settled(driver: Any, timeout_s: float = WAIT_S) -> dict[str, str]:
    """Wait for ``body[data-dashboard-state=settled]``; returns :func:`panel_states`."""
    deadline = time.monotonic() + timeout_s
    while dashboard_state(driver) != "settled":
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{driver.current_url} did not settle within {timeout_s:.0f} s: body data-dashboard-state="
                f"{dashboard_state(driver)!r}, panel states {panel_states(driver)}, console {console_errors(driver)}")
        time.sleep(0.05)
    return panel_states(driver)


def open_dashboard(driver: Any, url: str, timeout_s: float = WAIT_S) -> dict[str, str]:
    """Load ``url`` and wait until the dashboard has settled; returns ``{panel id: state}``."""
    driver.get(url)
    return wait_settled(driver, timeout_s)


def panel_states(driver: Any) -> dict[str, str]:
    """``{data-panel-id: data-state}`` of every panel element on the page."""
    return dict(driver.execute_script(
        "const out = {}; document.querySelectorAll('[data-panel-id]').forEach(e => {"
        "  out[e.getAttribute('data-panel-id')] = e.getAttribute('data-state'); }); return out;"))


CANVAS_COLOURS_JS = """
const panel = document.querySelector(`[data-panel-id="${arguments[0]}"]`);
if (!panel) return -1;
let best = 0;
for (const canvas of panel.querySelectorAll('canvas')) {
  if (!canvas.width || !canvas.height) continue;
  const copy = document.createElement('canvas');
  copy.width = canvas.width; copy.height = canvas.height;
  const ctx = copy.getContext('2d');
  ctx.drawImage(canvas, 0, 0);
  const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
  const colours = new Set();
  const stride = Math.max(4, Math.floor(data.length / 4 / 200000) * 4);
  for (let i = 0; i < data.length; i += stride) {
    colours.add((data[i] << 24) ^ (data[i + 1] << 16) ^ (data[i + 2] << 8) ^ data[i + 3]);
    if (colours.size > 64) break;
  }
  best = Math.max(best, colours.size);
}
return best;
"""


CANVAS_INK_JS = """
const panel = document.querySelector(`[data-panel-id="${arguments[0]}"]`);
const area = (c) => c.width * c.height;
const canvas = panel && [...panel.querySelectorAll('canvas')].sort((a, b) => area(b) - area(a))[0];
if (!canvas) return null;
const ctx2 = document.createElement('canvas').getContext('2d');
ctx2.canvas.width = canvas.width; ctx2.canvas.height = canvas.height;
ctx2.drawImage(canvas, 0, 0);
const {data, width, height} = ctx2.getImageData(0, 0, canvas.width, canvas.height);
let first = -1, last = -1;
for (let x = 0; x < width; x++) {
  for (let y = 0; y < height; y++) {
    const i = (y * width + x) * 4;
    const r = data[i], g = data[i + 1], b = data[i + 2], a = data[i + 3];
    if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) { if (first < 0) first = x; last = x; break; }
  }
}
return [first, last, width];
"""


def canvas_ink(driver: Any, panel_id: int | str) -> tuple[float, float] | None:
    """Where a panel's largest canvas has coloured (saturated) pixels: (first, last) column as fractions of
    its width; grid lines and axis labels are grey and do not count. None without a canvas or colour."""
    found = driver.execute_script(CANVAS_INK_JS, str(panel_id))
    if not found or found[0] < 0:
        return None
    first, last, width = found
    return first / width, last / width


def canvas_colours(driver: Any, panel_id: int | str) -> int:
    """The most distinct colours found in one of the panel's canvases (-1: no such panel, 0: no canvas)."""
    return int(driver.execute_script(CANVAS_COLOURS_JS, str(panel_id)))


def canvas_nonblank(driver: Any, panel_id: int | str) -> bool:
    """True when a canvas of the panel shows more than one colour (something was drawn)."""
    return canvas_colours(driver, panel_id) > 1


def console_errors(driver: Any) -> list[str]:
    """SEVERE browser console entries since the last call (a missing favicon is not an error)."""
    entries = driver.get_log("browser")
    return [e["message"] for e in entries
            if e.get("level") == "SEVERE" and not ("favicon.ico" in e["message"] and "404" in e["message"])]


def screenshot(driver: Any, name: str) -> Path:
    """Save a PNG of the window as ``tests/browser/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """A failing browser test leaves a screenshot named after it."""
    if call.when == "call" and call.excinfo is not None and "driver" in getattr(item, "funcargs", {}):
        if "Timeout" in str(call.excinfo.value) and "HTTPConnectionPool" in str(call.excinfo.value):
            return  # the browser itself hangs: a screenshot would wait for it again
        with contextlib.suppress(Exception):  # the browser itself may be what failed
            screenshot(item.funcargs["driver"], "FAILED-" + re.sub(r"[^A-Za-z0-9_.-]", "_", item.name))
