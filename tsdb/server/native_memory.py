"""Keeping the server's resident memory close to what it uses: glibc malloc arenas and free pages.

A long-running threaded Python server on glibc keeps memory it has freed: every thread that allocates may get
its own malloc arena (up to 8 per core), and freed pages inside an arena stay resident until trimmed. Large
transient work (persisting the head, compacting, writing tiers) leaves such pages behind. :func:`limit_arenas`
caps the arenas at start, before the worker threads exist; :func:`release_free_memory` (after each
maintenance) hands free pages back to the system: glibc's ``malloc_trim`` and Arrow's memory pool. Both do
nothing where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger("tsdb.memory")

M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - only glibc has it
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def limit_arenas(arenas: int) -> bool:
    """Let at most ``arenas`` malloc arenas exist (threads share them); True when applied. Call before
    threads are started: arenas already created stay."""
    if _LIBC is None or arenas <= 0:
        return False
    return bool(_LIBC.mallopt(M_ARENA_MAX, arenas))


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def heap_mib() -> dict[str, float]:
    """glibc's view of the C heap in MiB (empty elsewhere or before glibc 2.33): ``in_use`` (allocated from
    arenas), ``free`` (free inside arenas: kept, not returned), ``mmapped`` (large blocks mapped directly)."""
    mallinfo2 = getattr(_LIBC, "mallinfo2", None) if _LIBC is not None else None
    if mallinfo2 is None:
        return {}
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return {"in_use": round(info.uordblks / 2**20, 1), "free": round(info.fordblks / 2**20, 1),
            "mmapped": round(info.hblkhd / 2**20, 1)}


def arrow_pool_mib() -> float | None:
    """Bytes Arrow's default memory pool holds for live buffers, in MiB (None when pyarrow is not loaded)."""
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is None:
        return None
    return round(pyarrow.default_memory_pool().bytes_allocated() / 2**20, 1)


def release_free_memory() -> None:
    """Return free memory of the C heap and of Arrow's pool to the system (no effect on live data)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        try:
            pyarrow.default_memory_pool().release_unused()
        except Exception as err:  # an Arrow build without it: nothing to release
            log.debug("Arrow memory pool kept its free memory", extra={"error": str(err)})
