"""End to end: ``tsdb serve`` in a subprocess with a ``dashboards:`` section; built-in and provisioned
dashboards (globs relative to the config file) are listed, saved dashboards survive a restart, and a reload
re-reads the provisioned files (a bad one fails the reload and the old ones stay)."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from tests.integration.serve import ServeProcess

GRAFANA = Path(__file__).resolve().parent / "grafana"
JSON = {"Content-Type": "application/json"}


def test_serve_dashboards(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "dashboards").mkdir(parents=True)
    shutil.copy(GRAFANA / "node-exporter-full-old.json", conf / "dashboards" / "old-node.json")
    (conf / "dashboards" / "mine.json").write_text(json.dumps({"uid": "mine", "title": "Mine", "schemaVersion": 1}))
    config = conf / "tsdb.yml"
    config.write_text("collect: {host: false, self: false}\n"
                      "dashboards:\n  paths: ['dashboards/*.json']\n  frame_ancestors: ['https://wiki.example']\n")
    server = ServeProcess(tmp_path / "data", "--config", str(config), "--web.enable-lifecycle")
    try:
        status, listing = server.get("/api/v1/dashboards")
        assert status == 200
        sources = {d["uid"]: d["source"] for d in listing}
        assert sources == {"alerting-overview": "builtin", "host-overview": "builtin", "tsdb-self": "builtin",
                           "mine": "provisioned", "old-node": "provisioned"}
        status, old = server.get("/api/v1/dashboards/old-node")
        assert status == 200 and len(old["dashboard"]["panels"]) == 35
        status, text = server.post("/api/v1/dashboards", json.dumps({"dashboard": {"uid": "saved", "title": "Saved"}}
                                                                    ).encode(), JSON)
        assert status == 200 and json.loads(text)["version"] == 1
        status, text = server.post("/api/v1/dashboards", json.dumps({"dashboard": {"uid": "mine", "title": "X"}}
                                                                    ).encode(), JSON)
        assert status == 403 and "read-only" in json.loads(text)["error"]
        # reload: a changed file applies; a bad file fails the reload and changes nothing
        (conf / "dashboards" / "mine.json").write_text(json.dumps({"uid": "mine", "title": "Mine v2",
                                                                   "schemaVersion": 1}))
        assert server.post("/-/reload", b"", {})[0] == 200
        assert server.get("/api/v1/dashboards/mine")[1]["dashboard"]["title"] == "Mine v2"
        (conf / "dashboards" / "broken.json").write_text('{"uid": "b", "title": "B", "schemaVersion": 1, '
                                                         '"panels": [{"type": "stat", "gridPos": {"w": 40}}]}')
        status, text = server.post("/-/reload", b"", {})
        assert status == 500 and "broken.json" in text and "panels[0].gridPos.w" in text
        assert server.get("/api/v1/dashboards/b")[0] == 404
        assert server.get("/api/v1/dashboards/mine")[1]["dashboard"]["title"] == "Mine v2"
        try:
            with urllib.request.urlopen(server.url + "/ui/", timeout=30) as response:
                headers = response.headers
        except urllib.error.HTTPError as err:  # 503 while the UI bundle is not built
            assert err.code == 503
            headers = err.headers
        assert headers["Content-Security-Policy"] == "frame-ancestors https://wiki.example"
        (conf / "dashboards" / "broken.json").unlink()  # else the restart refuses to start, naming it
        server.stop()
        server.restart()
        status, saved = server.get("/api/v1/dashboards/saved")
        assert status == 200 and saved["dashboard"]["title"] == "Saved" and saved["meta"]["source"] == "api"
    finally:
        server.stop()
