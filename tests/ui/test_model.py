"""The dashboard model: defaults, validation messages naming the offending part, unknown keys kept, and
normalisation is idempotent (property-based)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.errors import DashboardError, InvalidArgumentError
from tsdb.ui.model import iter_panels, normalise


def test_defaults_generated_uid_and_panel_ids() -> None:
    model = normalise({"title": "T", "panels": [{"type": "stat", "id": 5}, {"type": "timeseries"},
                                                {"type": "row", "panels": [{"type": "text"}]}],
                       "x-custom": {"kept": True}})
    assert len(model["uid"]) == 12 and model["x-custom"] == {"kept": True}
    assert [p["id"] for p in iter_panels(model)] == [5, 6, 7, 8]
    assert model["time"] == {"from": "now-6h", "to": "now"} and model["schemaVersion"] == 1
    assert model["panels"][1]["gridPos"] == {"x": 0, "y": 0, "w": 12, "h": 8}
    assert model["panels"][1]["targets"] == [] and model["timezone"] == "browser"
    target = normalise({"title": "T", "panels": [{"type": "stat", "targets": [{"expr": "up"}, {"expr": "1"}]}]})
    assert [t["refId"] for t in target["panels"][0]["targets"]] == ["A", "B"]
    assert "version" not in model


@pytest.mark.parametrize(("dashboard", "message"), [
    ([], "dashboard: expected an object"),
    ({"title": ""}, "title: required"),
    ({"title": "t", "uid": "has space"}, "uid: must match"),
    ({"title": "t", "uid": "x" * 41}, "uid: must match"),
    ({"title": "t", "panels": [{"type": "stat"}] * 3 + [{"type": "stat", "gridPos": {"w": 25}}]},
     "panels[3].gridPos.w: must be 1..24"),
    ({"title": "t", "panels": [{"type": "stat", "gridPos": {"x": 20, "w": 8}}]}, "panels[0].gridPos.w: x + w"),
    ({"title": "t", "panels": [{"type": "stat", "gridPos": {"h": 0}}]}, "panels[0].gridPos.h: must be >= 1"),
    ({"title": "t", "panels": [{"type": "stat", "gridPos": {"x": -1}}]}, "panels[0].gridPos.x: must be 0..23"),
    ({"title": "t", "panels": [{"type": "piechart"}]}, "panels[0].type: unknown panel type 'piechart'"),
    ({"title": "t", "panels": [{"type": "stat", "id": 1}, {"type": "stat", "id": 1}]}, "panels[1].id: duplicate"),
    ({"title": "t", "panels": [{"type": "row", "panels": [{"type": "row"}]}]}, "panels[0].panels[0].type"),
    ({"title": "t", "panels": [{"type": "row", "panels": [{"type": "stat", "gridPos": {"w": 0}}]}]},
     "panels[0].panels[0].gridPos.w"),
    ({"title": "t", "panels": [{"type": "stat", "targets": [{"expr": 1}]}]}, "panels[0].targets[0].expr"),
    ({"title": "t", "panels": [{"type": "stat", "targets": [{"refId": "A"}, {"refId": "A"}]}]},
     "panels[0].targets[1].refId: duplicate"),
    ({"title": "t", "variables": [{"name": "1x", "type": "query"}]}, "variables[0].name: must match"),
    ({"title": "t", "variables": [{"name": "a", "type": "adhoc"}]}, "variables[0].type: unknown variable type"),
    ({"title": "t", "variables": [{"name": "a", "type": "custom"}, {"name": "a", "type": "custom"}]},
     "variables[1].name: duplicate"),
    ({"title": "t", "variables": [{"name": "a", "type": "custom", "multi": "yes"}]}, "variables[0].multi"),
    ({"title": "t", "graphTooltip": 3}, "graphTooltip: must be 0..2"),
    ({"title": "t", "tags": ["a", 1]}, "tags[1]: expected a string"),
    ({"title": "t", "schemaVersion": 2}, "schemaVersion: unsupported"),
    ({"title": "t", "links": [{"url": 3}]}, "links[0].url"),
])
def test_bad_dashboards_name_the_offending_part(dashboard: Any, message: str) -> None:
    with pytest.raises(DashboardError) as caught:
        normalise(dashboard)
    assert message in str(caught.value)
    assert isinstance(caught.value, InvalidArgumentError) and isinstance(caught.value, ValueError)


_text = st.text(alphabet="abcXYZ _-$.", max_size=8)
_grid = st.fixed_dictionaries({"x": st.integers(0, 12), "w": st.integers(1, 12), "y": st.integers(0, 50),
                               "h": st.integers(1, 20)})
_target = st.fixed_dictionaries({}, optional={"expr": _text, "legendFormat": _text, "instant": st.booleans(),
                                              "hide": st.booleans(), "interval": st.sampled_from(["", "30s"])})
_leaf = st.fixed_dictionaries(
    {"type": st.sampled_from(["timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text", "placeholder"])},
    optional={"title": _text, "gridPos": _grid, "targets": st.lists(_target, max_size=3),
              "options": st.dictionaries(st.sampled_from(["reduce", "mode"]), _text, max_size=2),
              "fieldConfig": st.fixed_dictionaries({}, optional={"unit": _text}), "repeat": _text,
              "extra": st.integers()})
_row = st.fixed_dictionaries({"type": st.just("row")},
                             optional={"collapsed": st.booleans(), "panels": st.lists(_leaf, max_size=3)})
_variable = st.fixed_dictionaries(
    {"type": st.sampled_from(["query", "custom", "constant", "interval", "textbox"])},
    optional={"query": _text, "multi": st.booleans(), "includeAll": st.booleans(), "label": _text,
              "hide": st.integers(0, 2), "allValue": _text})
_dashboard = st.fixed_dictionaries(
    {"title": st.text(alphabet="abc XYZ", min_size=1, max_size=10).filter(str.strip)},
    optional={"uid": st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True), "tags": st.lists(_text, max_size=3),
              "panels": st.lists(st.one_of(_leaf, _row), max_size=6), "refresh": st.sampled_from(["", "30s"]),
              "variables": st.lists(_variable, max_size=3), "graphTooltip": st.integers(0, 2),
              "version": st.integers(0, 10), "custom": st.dictionaries(_text, st.integers(), max_size=2)})


@settings(max_examples=200, deadline=None)
@given(_dashboard)
def test_normalise_is_idempotent(raw: dict[str, Any]) -> None:
    for i, var in enumerate(raw.get("variables") or []):
        var["name"] = f"v{i}"
    once = normalise(raw)
    assert normalise(once) == once
    assert once["title"] == raw["title"] and len(once["panels"]) == len(raw.get("panels") or [])
    ids = [p["id"] for p in iter_panels(once)]
    assert len(ids) == len(set(ids))
    if "custom" in raw:
        assert once["custom"] == raw["custom"]
