"""The built-in dashboards: present, valid, a mix of panel types, and every query parses with tsdb's PromQL
parser once the variables are replaced by plausible values."""

from __future__ import annotations

import collections
import json
import re

from tsdb.query.parser.parser import parse
from tsdb.ui.grafana import export_grafana, import_grafana, is_tsdb_model
from tsdb.ui.model import iter_panels, normalise
from tsdb.ui.provisioning import BUILTIN_DIR, load_builtin

VALUES = {"$__rate_interval": "1m", "$__interval": "1m", "$instance": "host-1", "$alertname": "HighLatency"}


def _substitute(expr: str) -> str:
    return re.sub(r"\$\w+", lambda m: VALUES[m.group(0)], expr)


def test_builtin_dashboards() -> None:
    builtin = load_builtin()
    assert sorted(builtin) == ["alerting-overview", "host-overview", "tsdb-self"]
    kinds: collections.Counter[str] = collections.Counter()
    for uid, item in builtin.items():
        raw = json.loads((BUILTIN_DIR / f"{uid}.json").read_text())
        model = item.dashboard
        assert is_tsdb_model(raw) and {**normalise(raw), "version": 1} == model
        assert item.source == "builtin" and model["version"] == 1 and "builtin" in model["tags"]
        assert normalise(model) == model
        for panel in iter_panels(model):
            kinds[panel["type"]] += 1
            for target in panel.get("targets", []):
                parse(_substitute(target["expr"]))  # raises ParseError naming the position
        again, warnings = import_grafana(export_grafana(model))
        assert {**again, "version": 1} == model and warnings == []
    for kind in ("timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text", "row"):
        assert kinds[kind] >= 1, kind
    host = builtin["host-overview"].dashboard
    assert [v["name"] for v in host["variables"]] == ["instance"]
    heatmap = next(p for p in iter_panels(builtin["tsdb-self"].dashboard) if p["type"] == "heatmap")
    assert "tsdb_query_duration_seconds_bucket" in heatmap["targets"][0]["expr"]
