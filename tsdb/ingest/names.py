"""Prometheus-compatible metric and label names for ingested data (VictoriaMetrics's ``-usePromCompatibleNaming``)."""

from __future__ import annotations

import re

_LABEL_BAD = re.compile(r"[^a-zA-Z0-9_]")
_METRIC_BAD = re.compile(r"[^a-zA-Z0-9_:]")


def label_name(name: str) -> str:
    """``name`` with every character outside ``[a-zA-Z0-9_]`` replaced by ``_`` and a ``_`` before a leading digit."""
    out = _LABEL_BAD.sub("_", name)
    return "_" + out if out[:1].isdigit() else out


def metric_name(name: str) -> str:
    """``name`` with every character outside ``[a-zA-Z0-9_:]`` replaced by ``_`` and a ``_`` before a leading digit."""
    out = _METRIC_BAD.sub("_", name)
    return "_" + out if out[:1].isdigit() else out
