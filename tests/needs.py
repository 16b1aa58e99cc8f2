"""What a test needs from the machine, said once: a binary on PATH, an importable module, the PromQL corpus.

``require_binary``/``require_module`` return what was asked for or skip the test; ``needs_binary``/
``needs_module`` are the same as marks. Under ``CI=true`` such a skip fails the test instead (see
``tests/conftest.py``): scripts/test.sh installs everything the suite needs, so a missing tool in CI is a
broken setup, not a reason to pass quietly. Skips that are legitimate everywhere carry
``@pytest.mark.allow_skip(reason)``.

The Prometheus PromQL test corpus is data, not a tool: :func:`promql_corpus` finds it at
``$TSDB_PROMQL_CORPUS`` (set but empty: hidden, as in the coverage-gated run) or next to the checkout
(``../shared/promql-tests``); tests using it are marked ``corpus`` and run in their own step.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "promql-tests"


def find_binary(*names: str) -> str | None:
    """The first of ``names`` found on PATH."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    return None


def require_binary(*names: str, package: str = "") -> str:
    """Path of the first of ``names`` on PATH; skips the test (a failure in CI) when none is installed."""
    path = find_binary(*names)
    if path is None:
        where = f" (Debian package {package})" if package else ""
        pytest.skip(f"needs binary {' or '.join(names)}{where}: not installed")
    return path


def needs_binary(*names: str, package: str = "") -> pytest.MarkDecorator:
    """Mark form of :func:`require_binary`."""
    where = f" (Debian package {package})" if package else ""
    return pytest.mark.skipif(find_binary(*names) is None,
                              reason=f"needs binary {' or '.join(names)}{where}: not installed")


def require_module(name: str) -> ModuleType:
    """The imported module; skips the test (a failure in CI) when it is not installed."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"needs Python module {name}: not installed (pip install -e '.[test]')")
    return importlib.import_module(name)


def needs_module(name: str) -> pytest.MarkDecorator:
    """Mark form of :func:`require_module`."""
    return pytest.mark.skipif(importlib.util.find_spec(name) is None,
                              reason=f"needs Python module {name}: not installed (pip install -e '.[test]')")


def promql_corpus() -> Path | None:
    """The PromQL corpus directory, or None when absent or hidden (``TSDB_PROMQL_CORPUS=""``)."""
    configured = os.environ.get("TSDB_PROMQL_CORPUS")
    if configured is not None:
        path = Path(configured) if configured else None
    else:
        path = DEFAULT_CORPUS
    return path if path is not None and path.is_dir() else None
