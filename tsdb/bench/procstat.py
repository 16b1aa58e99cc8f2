"""CPU seconds, peak and current resident memory of a local process, read from ``/proc/<pid>/stat`` and ``status``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcSample:
    """CPU seconds (user + system, this process and its waited-for children) and peak RSS (VmHWM) bytes."""

    cpu_seconds: float
    peak_rss_bytes: int


def sample(pid: int) -> ProcSample | None:
    """A reading of process ``pid``, or None if it is not a local process we can read (Linux /proc only)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its closing parenthesis
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    # fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14..17
    cpu = sum(int(f) for f in fields[11:15]) / ticks
    hwm = 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
            break
    return ProcSample(cpu, hwm)


def process_tree_sample(pid: int) -> ProcSample | None:
    """Like :func:`sample`, summing CPU over ``pid`` and its live children; peak RSS is the largest one."""
    root = sample(pid)
    if root is None:
        return None
    cpu, hwm = root.cpu_seconds, root.peak_rss_bytes
    for child in _children(pid):
        s = sample(child)
        if s is not None:
            cpu += s.cpu_seconds
            hwm = max(hwm, s.peak_rss_bytes)
    return ProcSample(cpu, hwm)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out.extend(int(c) for c in text)
    except OSError:
        return out
    return out


def rss_bytes(pid: int, kind: str = "VmRSS") -> int | None:
    """Resident memory of process ``pid`` now in bytes, or None if it cannot be read (Linux /proc). ``kind``
    is the ``/proc/<pid>/status`` field: ``VmRSS`` (all), ``RssAnon`` (the heap: what the process itself
    holds) or ``RssFile`` (mapped files the kernel may drop and read again)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(kind + ":"):
            return int(line.split()[1]) * 1024
    return None
