"""Handing freed memory back: malloc arenas capped, free heap pages and Arrow's pool released."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tsdb.server import native_memory

_FRAGMENTED_HEAP = """
import numpy as np
from tsdb.bench.procstat import rss_bytes
from tsdb.server.native_memory import release_free_memory
import os
held = [np.ones(8192) for _ in range(3000)]  # 64 KiB each: from the heap, not mmap
keep = held[-1]
del held[:-1]  # freed, but the live last block pins the heap's top
before = rss_bytes(os.getpid(), "RssAnon")
release_free_memory()
after = rss_bytes(os.getpid(), "RssAnon")
print(before, after)
"""


@pytest.mark.skipif(native_memory._LIBC is None, reason="glibc only; other C libraries need no trimming")
def test_freed_heap_pages_go_back_to_the_system() -> None:
    """About 190 MiB freed below a live block stays resident until released."""
    out = subprocess.run([sys.executable, "-c", _FRAGMENTED_HEAP], capture_output=True, text=True, timeout=120,
                         check=True, env={"MALLOC_MMAP_THRESHOLD_": str(1 << 20), "PATH": ""})
    before, after = map(int, out.stdout.split())
    assert before - after > 100 * 2**20, (before, after)


def test_arena_limit_and_release_are_safe_to_call() -> None:
    import pyarrow as pa
    data = pa.array(range(100_000))
    assert native_memory.limit_arenas(0) is False  # nothing to apply
    assert native_memory.limit_arenas(4) is (native_memory._LIBC is not None)
    native_memory.release_free_memory()
    assert data.sum().as_py() == sum(range(100_000))  # live data untouched
