"""The one place numba compilation options are set.

Every kernel module (``*_kernels.py``) decorates with :func:`njit` from here, never with numba
directly (a test enforces it). Options: ``cache=True`` (compiled code is cached next to the module, so
a process start does not recompile), ``nogil=True`` (kernels release the GIL, so server threads run
them in parallel), ``fastmath=False`` (the stale marker is a NaN bit pattern and NaN semantics matter;
fastmath would let LLVM assume no NaNs).

Set ``NUMBA_DISABLE_JIT=1`` to run kernels as plain Python (used for coverage of kernel bodies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

F = TypeVar("F", bound=Callable[..., Any])

NUMBA_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


def njit(func: F) -> F:
    """Compile ``func`` in nopython mode with the project's options."""
    return numba.njit(**NUMBA_OPTIONS)(func)


def jit_enabled() -> bool:
    """False when ``NUMBA_DISABLE_JIT`` is set (kernels then run as Python)."""
    return not getattr(numba.config, "DISABLE_JIT", False)
