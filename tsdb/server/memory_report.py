"""What the server's memory is made of, on request: ``kill -USR2 <pid>`` logs one ``memory report`` line.

The line holds the resident and anonymous memory, the counts of the most numerous Python container objects
(those the garbage collector tracks: dicts, lists, tuples, instances; numpy arrays are not among them), the
memory outside Python's allocator (glibc's heap in use, free-but-kept and directly mapped; Arrow's pool; how
many numba kernel specialisations are compiled, each holding machine code and LLVM state) and, when the server
runs with ``PYTHONTRACEMALLOC=<frames>`` (slower: every allocation is traced, numpy's buffers included), the
source lines holding the most allocated memory. Two reports some time apart show what grows: anonymous
memory growing while traced memory does not points outside Python (numba, Arrow, fragmentation).
"""

from __future__ import annotations

import gc
import logging
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from tsdb.server.native_memory import arrow_pool_mib, heap_mib

log = logging.getLogger("tsdb.memory")

TOP = 20
"""Types and source lines listed."""


def _status_kib(field: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_report(top: int = TOP) -> dict[str, Any]:
    """Resident and anonymous MiB, the ``top`` most numerous tracked object types and (when tracemalloc traces)
    the ``top`` source lines by allocated MiB."""
    objects = gc.get_objects()
    types = Counter(type(o).__name__ for o in objects)
    report: dict[str, Any] = {
        "rss_mib": round(_status_kib("VmRSS") / 1024, 1),
        "anon_mib": round(_status_kib("RssAnon") / 1024, 1),
        "objects": len(objects),
        "types": dict(types.most_common(top)),
        "compiled_kernels": sum(len(getattr(o, "overloads", ())) for o in objects
                                if type(o).__name__ == "CPUDispatcher"),
        "heap_mib": heap_mib(),
        "arrow_pool_mib": arrow_pool_mib(),
    }
    del objects
    if tracemalloc.is_tracing():
        stats = tracemalloc.take_snapshot().statistics("lineno")[:top]
        report["traced_mib"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
        report["lines"] = {str(s.traceback[0]): round(s.size / 2**20, 2) for s in stats}
    return report


def log_memory_report() -> None:
    """Log :func:`memory_report` as one structured line, at warning level so that a report the operator asked
    for shows whatever ``--log-level`` is."""
    log.warning("memory report", extra=memory_report())
