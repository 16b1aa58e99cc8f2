"""Grafana import and export: real community dashboards import without errors (every expression parses
as PromQL or is reported), legacy panels and the old rows schema convert, unsupported content becomes
placeholders with warnings, only non-dashboards are refused, and export re-imports to the same model."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest

from tsdb.errors import DashboardError
from tsdb.ui.exprcheck import check
from tsdb.ui.grafana import export_grafana, import_grafana, is_tsdb_model
from tsdb.ui.model import iter_panels, normalise

GRAFANA = Path(__file__).resolve().parent / "grafana"
COMMUNITY = {
    # file: (top-level panels, all panels, panel types)
    "node-exporter-full.json": (31, 141, {"timeseries": 111, "row": 16, "gauge": 5, "stat": 5, "bargauge": 4}),
    "node-exporter-full-old.json": (35, 191, {"timeseries": 160, "row": 19, "gauge": 6, "stat": 6}),
    "victoriametrics-single.json": (22, 82, {"timeseries": 65, "stat": 8, "row": 6, "table": 2, "text": 1}),
}


def _load(name: str) -> Any:
    return json.loads((GRAFANA / name).read_text())


def test_sources_name_every_community_file() -> None:
    sources = (GRAFANA / "SOURCES.md").read_text()
    files = sorted(p.name for p in GRAFANA.glob("*.json"))
    assert files == sorted(COMMUNITY)
    for name in files:
        assert f"`{name}`" in sources


@pytest.mark.parametrize("name", sorted(COMMUNITY))
def test_community_dashboards_import(name: str) -> None:
    raw = _load(name)
    model, warnings = import_grafana(raw)
    top, total, types = COMMUNITY[name]
    assert normalise(model) == model and not is_tsdb_model(raw)
    assert len(model["panels"]) == top and len(iter_panels(model)) == total
    assert collections.Counter(p["type"] for p in iter_panels(model)) == types
    assert model["uid"] == raw.get("uid", model["uid"]) and model["title"] == raw["title"]
    assert model["variables"] and all(v["type"] in {"query", "custom", "interval", "constant", "textbox"}
                                      for v in model["variables"])
    exprs = 0
    for panel in iter_panels(model):
        for target in panel.get("targets", []):
            exprs += 1
            if check(target["expr"]) is not None:
                assert any(f"targets[{target['refId']}]: expression does not parse" in w for w in warnings)
    assert exprs > 40
    for panel in iter_panels(model):
        assert panel["gridPos"]["x"] >= 0 and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


@pytest.mark.parametrize("name", sorted(COMMUNITY))
def test_export_round_trip(name: str) -> None:
    model, _ = import_grafana(_load(name))
    exported = export_grafana(model)
    assert exported["schemaVersion"] == 39 and exported["uid"] == model["uid"]
    assert json.loads(json.dumps(exported)) == exported
    again, _ = import_grafana(exported)
    assert again == model
    assert import_grafana({"dashboard": exported})[0] == model


def test_datasource_and_adhoc_variables_are_dropped_with_warnings() -> None:
    model, warnings = import_grafana(_load("victoriametrics-single.json"))
    assert "ds" not in [v["name"] for v in model["variables"]]
    assert any("'datasource' variables are not supported" in w for w in warnings)
    assert any("'adhoc' variables are not supported" in w for w in warnings)
    query_vars = [v for v in model["variables"] if v["type"] == "query"]
    assert query_vars and all(isinstance(v["query"], str) and v["query"] for v in query_vars)


def test_old_rows_schema_layout() -> None:
    model, warnings = import_grafana(_load("node-exporter-full-old.json"))
    rows = [p for p in model["panels"] if p["type"] == "row"]
    assert len(rows) == 19
    collapsed = [r for r in rows if r["collapsed"]]
    assert collapsed and all(r["panels"] for r in collapsed)
    expanded_children = [p for p in model["panels"] if p["type"] != "row"]
    assert expanded_children and all(p["gridPos"]["w"] in range(1, 25) for p in expanded_children)
    assert any("seriesOverrides are not supported" in w for w in warnings)
    ys = [p["gridPos"]["y"] for p in model["panels"]]
    assert ys == sorted(ys)  # rows and their panels laid out top to bottom


def test_legacy_panels_map_fields() -> None:
    grafana = {"title": "Legacy", "schemaVersion": 14, "rows": [{"title": "r", "height": "300px", "panels": [
        {"id": 1, "type": "graph", "span": 6, "bars": True, "lines": False, "stack": True, "fill": 3, "linewidth": 2,
         "legend": {"show": True, "rightSide": True, "values": True, "avg": True, "current": True},
         "yaxes": [{"format": "bytes", "min": "0", "max": None, "decimals": 2}, {"format": "short"}],
         "tooltip": {"shared": True}, "seriesOverrides": [{"alias": "x", "yaxis": 2}],
         "targets": [{"expr": "rate(x[$__rate_interval])", "legendFormat": "{{a}}", "refId": "A", "interval": "30s",
                      "datasource": {"type": "loki", "uid": "l"}}]},
        {"id": 2, "type": "singlestat", "span": 3, "valueName": "current", "format": "percent", "thresholds": "50,80",
         "colors": ["green", "orange", "red"], "colorBackground": True, "sparkline": {"show": True},
         "targets": [{"expr": "up", "instant": True}]},
        {"id": 3, "type": "singlestat", "span": 3, "valueName": "range", "gauge": {"show": True, "maxValue": 200},
         "targets": [{"expr": "up"}]},
        {"id": 4, "type": "text", "span": 12, "mode": "html", "content": "<b>hi</b>"},
        {"id": 5, "type": "table-old", "span": 12, "styles": [{"pattern": "x"}], "targets": [{"expr": "up",
                                                                                            "format": "table"}]},
        {"id": 6, "type": "grafana-piechart-panel", "span": 6, "targets": [{"expr": "sum(up)"}]}]}]}
    model, warnings = import_grafana(grafana)
    graph, stat, gauge, text, table, pie = model["panels"]
    assert graph["type"] == "timeseries" and graph["gridPos"] == {"x": 0, "y": 0, "w": 12, "h": 10}
    assert graph["options"]["drawStyle"] == "bars" and graph["options"]["stacking"] == "normal"
    assert graph["options"]["fillOpacity"] == 30 and graph["options"]["lineWidth"] == 2
    assert graph["options"]["legend"] == {"show": True, "placement": "right", "displayMode": "list",
                                          "calcs": ["mean", "lastNotNull"]}
    assert graph["options"]["tooltip"] == {"mode": "multi"}
    assert graph["fieldConfig"] == {"unit": "bytes", "min": 0, "decimals": 2}
    assert graph["targets"][0] == {"refId": "A", "expr": "rate(x[$__rate_interval])", "legendFormat": "{{a}}",
                                   "interval": "30s", "instant": False, "hide": False}
    assert stat["type"] == "stat" and stat["gridPos"]["x"] == 12 and stat["gridPos"]["w"] == 6
    assert stat["options"] == {"reduce": "lastNotNull", "colorMode": "background", "graphMode": "area"}
    assert stat["fieldConfig"]["unit"] == "percent"
    assert stat["fieldConfig"]["thresholds"]["steps"] == [{"value": None, "color": "green"},
                                                          {"value": 50, "color": "orange"},
                                                          {"value": 80, "color": "red"}]
    assert stat["targets"][0]["instant"] is True
    assert gauge["type"] == "gauge" and gauge["fieldConfig"]["max"] == 200
    assert text["options"] == {"mode": "html", "content": "<b>hi</b>"} and text["gridPos"]["y"] == 10
    assert table["type"] == "table" and table["targets"][0]["format"] == "table"
    assert pie["type"] == "placeholder" and pie["options"]["originalType"] == "grafana-piechart-panel"
    assert "not supported" in pie["options"]["message"] and pie["targets"][0]["expr"] == "sum(up)"
    joined = "\n".join(warnings)
    for expected in ("seriesOverrides", "datasource type 'loki' is not Prometheus", "valueName 'range'",
                     "table-old column styles", "'grafana-piechart-panel' is not supported"):
        assert expected in joined


def test_current_panels_and_dashboard_fields() -> None:
    grafana = {"dashboard": {
        "uid": "cur", "title": "Current", "tags": ["a"], "time": {"from": "now-1h", "to": "now"}, "refresh": "10s",
        "timezone": "utc", "graphTooltip": 2, "links": [{"title": "docs", "url": "https://example.org", "type": "link"},
                                                        {"title": "by tag", "type": "dashboards", "tags": ["x"]}],
        "annotations": {"list": [{"builtIn": 1}, {"name": "deploys", "expr": "changes(x[5m])"}]},
        "templating": {"list": [
            {"name": "job", "type": "query", "query": {"query": "label_values(up, job)", "refId": "X"}, "multi": True,
             "includeAll": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"}},
            {"name": "step", "type": "interval", "query": "1m,5m", "auto": True, "auto_count": 30},
            {"name": "env", "type": "custom", "query": "prod : p,dev : d"},
            {"name": "k", "type": "constant", "query": "v"}, {"name": "t", "type": "textbox", "query": "x"}]},
        "panels": [
            {"id": 1, "type": "stat", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
             "options": {"reduceOptions": {"calcs": ["mean"]}, "colorMode": "none", "graphMode": "none"},
             "fieldConfig": {"defaults": {"unit": "s", "decimals": 1, "displayName": "latency",
                                          "color": {"mode": "thresholds"},
                                          "thresholds": {"mode": "absolute", "steps": [
                                              {"color": "green", "value": None}, {"color": "red", "value": 1}]}},
                             "overrides": [{"matcher": {}}]},
             "targets": [{"expr": "avg(x{job=~\"$job\"})", "refId": "A", "range": True}]},
            {"id": 2, "type": "heatmap", "gridPos": {"x": 6, "y": 0, "w": 18, "h": 8},
             "options": {"yAxis": {"unit": "s"}},
             "targets": [{"expr": "sum by (le) (rate(h_bucket[$__rate_interval]))", "format": "heatmap"}]},
            {"id": 3, "type": "row", "collapsed": True, "gridPos": {"x": 0, "y": 8, "w": 24, "h": 1}, "panels": [
                {"id": 4, "type": "barchart", "targets": [{"expr": "x"}]},
                {"id": 5, "type": "barchart", "targets": [{"rawSql": "select 1"}]},
                {"id": 6, "type": "bargauge", "options": {"orientation": "auto", "displayMode": "lcd",
                                                          "reduceOptions": {"calcs": ["stdDev"]}}},
                {"id": 7, "type": "gauge", "options": {"showThresholdMarkers": False}},
                {"id": 8, "libraryPanel": {"uid": "lib"}}]},
            {"id": 9, "type": "text", "options": {"mode": "code", "content": "a = 1"}},
            {"id": 10, "type": "table",
             "options": {"showHeader": False, "sortBy": [{"displayName": "x", "desc": True}]},
             "transformations": [{"id": "merge"}], "targets": [{"expr": "up", "format": "table", "instant": True}]}]}}
    model, warnings = import_grafana(grafana)
    assert (model["uid"], model["refresh"], model["timezone"], model["graphTooltip"]) == ("cur", "10s", "utc", 2)
    assert model["links"] == [{"title": "docs", "url": "https://example.org", "targetBlank": False}]
    assert [v["name"] for v in model["variables"]] == ["job", "step", "env", "k", "t"]
    job = model["variables"][0]
    assert job["query"] == "label_values(up, job)" and job["allValue"] == ".*" and job["multi"]
    assert model["variables"][1]["auto_count"] == 30
    stat, heatmap, row, text, table = model["panels"]
    assert stat["options"] == {"reduce": "mean", "colorMode": "none", "graphMode": "none"}
    assert stat["fieldConfig"] == {"unit": "s", "decimals": 1, "displayName": "latency",
                                   "color": {"mode": "thresholds"},
                                   "thresholds": {"mode": "absolute", "steps": [{"value": None, "color": "green"},
                                                                                {"value": 1, "color": "red"}]}}
    assert stat["targets"][0]["instant"] is False
    assert heatmap["options"] == {"yAxisUnit": "s"} and heatmap["targets"][0]["format"] == "heatmap"
    bars, no_prom, bargauge, gauge, library = row["panels"]
    assert bars["type"] == "timeseries" and bars["options"]["drawStyle"] == "bars"
    assert no_prom["type"] == "placeholder" and no_prom["options"]["originalType"] == "barchart"
    assert bargauge["options"] == {"reduce": "lastNotNull", "orientation": "horizontal", "displayMode": "lcd"}
    assert gauge["options"] == {"reduce": "lastNotNull", "showThresholdMarkers": False}
    assert library["type"] == "placeholder" and library["options"]["originalType"] == "library-panel"
    assert text["options"] == {"mode": "markdown", "content": "```\na = 1\n```"}
    assert table["options"] == {"showHeader": False, "sortBy": [{"displayName": "x", "desc": True}]}
    joined = "\n".join(warnings)
    for expected in ("links[1]", "annotation queries", "fieldConfig.overrides", "barchart converted",
                     "no PromQL expression", "reduction 'stdDev'", "transformations"):
        assert expected in joined
    assert import_grafana(export_grafana(model))[0] == model


def test_grafana_12_resource_and_bad_input() -> None:
    resource = {"apiVersion": "dashboard.grafana.app/v1beta1", "kind": "Dashboard", "metadata": {"name": "res-uid"},
                "spec": {"title": "From resource", "panels": [{"type": "timeseries", "targets": [{"expr": "up"}]}]}}
    model, _ = import_grafana(resource)
    assert model["uid"] == "res-uid" and model["panels"][0]["type"] == "timeseries"
    with pytest.raises(DashboardError, match="v2 dashboard schema"):
        import_grafana({"apiVersion": "dashboard.grafana.app/v2beta1", "kind": "Dashboard",
                        "spec": {"title": "x", "elements": {}, "layout": {}}})
    for bad, message in (([1, 2], "expected a JSON object"), ({"foo": 1}, "not a Grafana dashboard"),
                         ({"title": "x", "panels": {}}, "panels: expected a list")):
        with pytest.raises(DashboardError, match=message):
            import_grafana(bad)
    # content it does not understand never fails the import
    weird, warnings = import_grafana({"uid": "bad uid!", "panels": [1, {"type": "graph", "gridPos": {"x": 30, "w": 99},
                                                                        "targets": "no", "yaxes": "no"}],
                                      "templating": {"list": [{"name": "bad-name", "type": "custom"}, "x"]}})
    assert weird["title"] == "Imported dashboard" and weird["uid"] != "bad uid!"
    assert weird["panels"][0]["gridPos"]["w"] == 24 and weird["variables"] == []
    assert len(warnings) >= 4


def test_expressions_that_do_not_parse_are_kept_with_a_warning() -> None:
    model, warnings = import_grafana({"title": "M", "panels": [
        {"id": 1, "type": "timeseries", "title": "mql", "targets": [
            {"refId": "A", "expr": "rate(x)"},  # MetricsQL's implicit window
            {"refId": "B", "expr": "sum(rate(x{a=~\"$v\"}[$__rate_interval])) by ($label) > $threshold"},
            {"refId": "C", "expr": "topk(${n:raw}, x offset $shift) / [[scale]]"}]}]})
    assert [t["expr"] for t in model["panels"][0]["targets"]][0:1] == ["rate(x)"]
    assert [w for w in warnings if "does not parse" in w] == [
        "panels[0] ('mql').targets[A]: expression does not parse as PromQL: expected type range vector in call "
        'to function "rate", got instant vector']
    assert check("rate(x[$__interval]) * $__range_s") is None
