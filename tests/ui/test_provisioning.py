"""Provisioned dashboards: files of either format, globs relative to the config directory, uids stable,
bad files named with the offending part; the component's reload is two-phase (a bad file changes nothing)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.server.components.context import server_context, with_sections
from tsdb.errors import ConfigError
from tsdb.server.components import dashboards
from tsdb.ui.provisioning import load_file, load_paths

GRAFANA = Path(__file__).resolve().parent / "grafana"


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_load_paths_detects_formats(tmp_path: Path) -> None:
    _write(tmp_path / "dash" / "model.json", {"uid": "m", "title": "Model", "schemaVersion": 1,
                                              "panels": [{"type": "stat"}]})
    _write(tmp_path / "dash" / "no-uid.json", {"title": "No uid", "variables": []})
    shutil.copy(GRAFANA / "node-exporter-full.json", tmp_path / "dash" / "node.json")
    found = load_paths(["dash/*.json", "missing/*.json"], tmp_path)
    assert sorted(found) == ["m", "no-uid", "rYdddlPWk"]
    assert found["m"].source == "provisioned" and found["m"].dashboard["version"] == 1
    assert found["rYdddlPWk"].warnings and found["m"].warnings == []
    assert found["no-uid"].dashboard["uid"] == "no-uid"  # stable across reloads: from the file name
    assert load_paths([str(tmp_path / "dash" / "model.json")], None).keys() == {"m"}


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "invalid JSON"),
    (json.dumps({"uid": "x", "title": "t", "schemaVersion": 1, "panels": [{"type": "stat", "gridPos": {"w": 30}}]}),
     "panels[0].gridPos.w: must be 1..24"),
    (json.dumps([1]), "expected a JSON object"),
])
def test_bad_file_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_file(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_duplicate_uids_refused(tmp_path: Path) -> None:
    _write(tmp_path / "a.json", {"uid": "same", "title": "A", "schemaVersion": 1})
    _write(tmp_path / "b.json", {"uid": "same", "title": "B", "schemaVersion": 1})
    with pytest.raises(ConfigError, match="uid 'same' is already used by"):
        load_paths(["*.json"], tmp_path)
    _write(tmp_path / "c" / "host.json", {"uid": "host-overview", "title": "Mine", "schemaVersion": 1})
    with pytest.raises(ConfigError, match="taken by the built-in dashboard"):
        dashboards._load(dashboards.DashboardsConfig(paths=("c/*.json",)), tmp_path)


@pytest.mark.parametrize(("section", "message"), [
    ({"pathz": []}, "dashboards: unknown key 'pathz'"),
    ({"paths": "x.json"}, "dashboards.paths: expected a list of strings"),
    ({"frame_ancestors": [1]}, "dashboards.frame_ancestors"),
    ({"builtin": "yes"}, "dashboards.builtin: expected true or false"),
    ([], "dashboards: expected a mapping"),
])
def test_bad_sections(section: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        dashboards.DashboardsConfig.parse(section)


def test_component_reload_is_two_phase(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    good = _write(conf / "dashboards" / "one.json", {"uid": "one", "title": "One", "schemaVersion": 1})

    async def scenario() -> None:
        with server_context(tmp_path, dashboards={"paths": ["dashboards/*.json"]}) as context:
            context.config = with_sections(context, config_dir=str(conf))
            component = dashboards.build(context)
            assert set(component.api.read_only) == {"one", "host-overview", "tsdb-self", "alerting-overview"}
            # a second file and new settings: applied together
            _write(conf / "dashboards" / "two.json", {"uid": "two", "title": "Two", "schemaVersion": 1})
            config = with_sections(context, dashboards={"paths": ["dashboards/*.json"], "builtin": False,
                                                        "frame_ancestors": ["https://wiki.example"]})
            plan = await component.prepare_reload(config)
            assert plan.changed and set(component.api.read_only) >= {"one", "host-overview"}  # not yet applied
            await plan.apply()
            assert set(component.api.read_only) == {"one", "two"}
            assert component.static.frame_ancestors == ["https://wiki.example"]
            assert not (await component.prepare_reload(config)).changed
            # a bad file: the reload fails naming it, nothing changes
            good.write_text(json.dumps({"uid": "one", "title": "", "schemaVersion": 1}))
            with pytest.raises(ConfigError, match=r"one\.json: title: required"):
                await component.prepare_reload(config)
            with pytest.raises(ConfigError, match="unknown key"):
                await component.prepare_reload(with_sections(context, dashboards={"bogus": 1}))
            assert component.api.read_only["one"].dashboard["title"] == "One"
            await component.stop()

    asyncio.run(scenario())
