"""Shared test configuration: hypothesis profiles, markers, and skips that cannot hide in CI."""

from __future__ import annotations

import os
from collections.abc import Generator

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

# Markers under which a skip is legitimate even in CI: opt-in slow tests, the optional PromQL corpus.
ALLOWED_SKIP_MARKERS = ("allow_skip", "slow", "corpus")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless TSDB_SLOW=1."""
    if os.environ.get("TSDB_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: set TSDB_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def skip_must_fail(item: pytest.Item, report: pytest.TestReport) -> bool:
    """True when ``report`` is a skip that CI must not accept: a skip (not an xfail) of a test without any
    of :data:`ALLOWED_SKIP_MARKERS`."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return False
    return not any(item.get_closest_marker(name) is not None for name in ALLOWED_SKIP_MARKERS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    """Under CI=true, a test skipped because a tool or package is missing fails instead."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if in_ci() and skip_must_fail(item, report):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = (f"skipped in CI: {reason}\nscripts/test.sh installs what the suite needs; a test that "
                           "may legitimately skip everywhere carries @pytest.mark.allow_skip(reason)")
