"""Shared test configuration: hypothesis profiles and markers."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nojit", deadline=None, max_examples=10,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", deadline=None, max_examples=100, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
# CI runs are derandomized (a red CI must be reproducible); local runs keep exploring new examples
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless TSDB_SLOW=1."""
    if os.environ.get("TSDB_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: set TSDB_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
