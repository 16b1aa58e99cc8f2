"""Built-in host metrics: a psutil collector with node-exporter's metric and label names.

:func:`collect_host` returns ``(labels, value)`` samples: CPU (``node_cpu_seconds_total{cpu,mode}``),
memory (``node_memory_*_bytes``), load (``node_load1/5/15``), filesystems
(``node_filesystem_{size,avail,free}_bytes``, ``files``, ``files_free`` with ``device``, ``fstype``,
``mountpoint``), disks (``node_disk_*{device}``), network (``node_network_*{device}``), boot time, time
and ``node_uname_info``. Labels ``job`` and ``instance=<hostname>`` are added by the caller.
:func:`host_metadata` gives each family's type and help (as node exporter describes them).
"""

from __future__ import annotations

import os
import platform
import socket
import time

import psutil

Sample = tuple[dict[str, str], float]

CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
PSEUDO_FS = {"proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "pstore", "bpf",
             "tracefs", "debugfs", "mqueue", "hugetlbfs", "fusectl", "configfs", "autofs", "binfmt_misc",
             "overlay", "nsfs", "squashfs"}


def _m(name: str, value: float, **labels: str) -> Sample:
    return ({"__name__": name, **labels}, float(value))


_MEMINFO = ("MemTotal", "MemAvailable", "MemFree", "Cached", "Buffers", "Active", "Inactive", "Shmem", "Slab",
            "SwapTotal", "SwapFree")
_HELP: dict[str, tuple[str, str]] = {
    "node_cpu_seconds_total": ("counter", "Seconds the CPUs spent in each mode."),
    **{f"node_memory_{n}_bytes": ("gauge", f"Memory information field {n}_bytes.") for n in _MEMINFO},
    "node_load1": ("gauge", "1m load average."),
    "node_load5": ("gauge", "5m load average."),
    "node_load15": ("gauge", "15m load average."),
    "node_filesystem_size_bytes": ("gauge", "Filesystem size in bytes."),
    "node_filesystem_avail_bytes": ("gauge", "Filesystem space available to non-root users in bytes."),
    "node_filesystem_free_bytes": ("gauge", "Filesystem free space in bytes."),
    "node_filesystem_files": ("gauge", "Filesystem total file nodes."),
    "node_filesystem_files_free": ("gauge", "Filesystem total free file nodes."),
    "node_disk_read_bytes_total": ("counter", "The total number of bytes read successfully."),
    "node_disk_written_bytes_total": ("counter", "The total number of bytes written successfully."),
    "node_disk_reads_completed_total": ("counter", "The total number of reads completed successfully."),
    "node_disk_writes_completed_total": ("counter", "The total number of writes completed successfully."),
    "node_disk_io_time_seconds_total": ("counter", "Total seconds spent doing I/Os."),
    "node_network_receive_bytes_total": ("counter", "Network device statistic receive_bytes."),
    "node_network_transmit_bytes_total": ("counter", "Network device statistic transmit_bytes."),
    "node_network_receive_packets_total": ("counter", "Network device statistic receive_packets."),
    "node_network_transmit_packets_total": ("counter", "Network device statistic transmit_packets."),
    "node_network_receive_errs_total": ("counter", "Network device statistic receive_errs."),
    "node_network_transmit_errs_total": ("counter", "Network device statistic transmit_errs."),
    "node_boot_time_seconds": ("gauge", "Node boot time, in unixtime."),
    "node_time_seconds": ("gauge", "System time in seconds since epoch (1970)."),
    "node_uname_info": ("gauge", "Labeled system information as provided by the uname system call."),
}


def host_metadata() -> list[tuple[str, str, str]]:
    """``(metric, type, help)`` of every family :func:`collect_host` can return."""
    return [(name, kind, text) for name, (kind, text) in sorted(_HELP.items())]


def collect_host() -> list[Sample]:
    """One snapshot of the host's metrics (see module docstring)."""
    out: list[Sample] = []
    for i, cpu in enumerate(psutil.cpu_times(percpu=True)):
        for mode in CPU_MODES:
            if hasattr(cpu, mode):
                out.append(_m("node_cpu_seconds_total", getattr(cpu, mode), cpu=str(i), mode=mode))
    vm = psutil.virtual_memory()
    for field, name in (("total", "MemTotal"), ("available", "MemAvailable"), ("free", "MemFree"),
                        ("cached", "Cached"), ("buffers", "Buffers"), ("active", "Active"), ("inactive", "Inactive"),
                        ("shared", "Shmem"), ("slab", "Slab")):
        if hasattr(vm, field):
            out.append(_m(f"node_memory_{name}_bytes", getattr(vm, field)))
    swap = psutil.swap_memory()
    out += [_m("node_memory_SwapTotal_bytes", swap.total), _m("node_memory_SwapFree_bytes", swap.free)]
    for name, value in zip(("node_load1", "node_load5", "node_load15"), os.getloadavg(), strict=True):
        out.append(_m(name, value))
    for part in psutil.disk_partitions(all=False):
        if part.fstype in PSEUDO_FS:
            continue
        try:
            usage = psutil.disk_usage(part.mountpoint)
            st = os.statvfs(part.mountpoint)
        except OSError:
            continue
        labels = {"device": part.device, "fstype": part.fstype, "mountpoint": part.mountpoint}
        out += [_m("node_filesystem_size_bytes", usage.total, **labels),
                _m("node_filesystem_avail_bytes", st.f_bavail * st.f_frsize, **labels),
                _m("node_filesystem_free_bytes", st.f_bfree * st.f_frsize, **labels),
                _m("node_filesystem_files", st.f_files, **labels),
                _m("node_filesystem_files_free", st.f_ffree, **labels)]
    for device, io in (psutil.disk_io_counters(perdisk=True) or {}).items():
        out += [_m("node_disk_read_bytes_total", io.read_bytes, device=device),
                _m("node_disk_written_bytes_total", io.write_bytes, device=device),
                _m("node_disk_reads_completed_total", io.read_count, device=device),
                _m("node_disk_writes_completed_total", io.write_count, device=device),
                _m("node_disk_io_time_seconds_total", getattr(io, "busy_time", 0) / 1000, device=device)]
    for device, net in psutil.net_io_counters(pernic=True).items():
        out += [_m("node_network_receive_bytes_total", net.bytes_recv, device=device),
                _m("node_network_transmit_bytes_total", net.bytes_sent, device=device),
                _m("node_network_receive_packets_total", net.packets_recv, device=device),
                _m("node_network_transmit_packets_total", net.packets_sent, device=device),
                _m("node_network_receive_errs_total", net.errin, device=device),
                _m("node_network_transmit_errs_total", net.errout, device=device)]
    uname = platform.uname()
    out += [_m("node_boot_time_seconds", psutil.boot_time()), _m("node_time_seconds", time.time()),
            _m("node_uname_info", 1, sysname=uname.system, release=uname.release, version=uname.version,
               machine=uname.machine, nodename=uname.node)]
    return out


def hostname() -> str:
    return socket.gethostname()
