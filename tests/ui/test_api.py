"""The dashboards HTTP API on a real in-process server: the whole contract of docs/dashboards.md (list,
get, create, save with 409 on conflicts, delete, versions, diff, restore, import, export), read-only built-in
dashboards (403), error bodies naming the problem, and the CSP header from the config."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from tsdb.config import ServerConfig
from tsdb.server.app import Server

GRAFANA = Path(__file__).resolve().parent / "grafana"
Call = Callable[..., Awaitable[tuple[int, Any]]]


def _run(tmp_path: Path, scenario: Callable[[Call, Server], Awaitable[None]], **sections: Any) -> None:
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          **sections)

    async def main() -> None:
        server = Server(config)
        await server.start()
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{server.http_port}") as session:
                async def call(method: str, path: str, body: Any = None, raw: bytes | None = None,
                               **params: str) -> tuple[int, Any]:
                    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
                    async with session.request(method, path, data=data, params=params) as response:
                        text = await response.text()
                        if response.content_type == "application/json":
                            return response.status, json.loads(text)
                        return response.status, text
                await scenario(call, server)
        finally:
            await server.stop()

    asyncio.run(main())


def test_api_contract(tmp_path: Path) -> None:
    async def scenario(call: Call, server: Server) -> None:
        status, listing = await call("GET", "/api/v1/dashboards")
        assert status == 200 and [d["uid"] for d in listing] == ["alerting-overview", "host-overview", "tsdb-self"]
        assert listing[1] == {"uid": "host-overview", "title": "Host overview", "tags": ["builtin", "host"],
                              "version": 1, "updated": listing[1]["updated"], "url": "/ui/d/host-overview",
                              "source": "builtin"}
        # create, then save on top of the version it was based on
        dash = {"uid": "web", "title": "Web", "tags": ["web"], "panels": [{"type": "timeseries", "title": "rps",
                                                                           "targets": [{"expr": "up"}]}]}
        assert await call("POST", "/api/v1/dashboards", {"dashboard": dash, "message": "first"}) == \
            (200, {"uid": "web", "version": 1, "url": "/ui/d/web"})
        status, got = await call("GET", "/api/v1/dashboards/web")
        assert status == 200 and got["dashboard"]["version"] == 1 and got["dashboard"]["panels"][0]["id"] == 1
        assert got["meta"]["source"] == "api" and got["meta"]["url"] == "/ui/d/web" and got["meta"]["version"] == 1
        assert set(got["meta"]) == {"version", "created", "updated", "source", "url"}
        edited = {**got["dashboard"], "title": "Web frontends"}
        assert (await call("POST", "/api/v1/dashboards", {"dashboard": edited, "message": "rename"}))[1]["version"] == 2
        status, error = await call("POST", "/api/v1/dashboards", {"dashboard": edited})
        assert status == 409 and "dashboard.version: 1 is not the stored version 2" in error["error"]
        status, error = await call("POST", "/api/v1/dashboards", {"dashboard": dash})
        assert status == 409 and "already exists" in error["error"]
        assert (await call("POST", "/api/v1/dashboards", {"dashboard": edited, "overwrite": True}))[1]["version"] == 3
        # PUT names the uid in the path
        status, saved = await call("PUT", "/api/v1/dashboards/web", {"dashboard": {**edited, "version": 3,
                                                                                   "uid": None}, "message": "put"})
        assert (status, saved) == (200, {"uid": "web", "version": 4, "url": "/ui/d/web"})
        status, error = await call("PUT", "/api/v1/dashboards/web", {"dashboard": {**edited, "uid": "other"}})
        assert status == 400 and "dashboard.uid" in error["error"]
        # versions, one version, diff, restore
        status, versions = await call("GET", "/api/v1/dashboards/web/versions")
        assert [v["version"] for v in versions] == [4, 3, 2, 1] and versions[0]["message"] == "put"
        assert set(versions[0]) == {"version", "created", "message"}
        status, one = await call("GET", "/api/v1/dashboards/web/versions/1")
        assert status == 200 and one["dashboard"]["title"] == "Web" and one["message"] == "first"
        assert (await call("GET", "/api/v1/dashboards/web/versions/9"))[0] == 404
        status, diff = await call("GET", "/api/v1/dashboards/web/diff", **{"from": "1", "to": "2"})
        assert status == 200 and diff["from"] == 1 and diff["to"] == 2 and '+  "title": "Web frontends"' in diff["diff"]
        assert {"path": "title", "op": "replace", "old": "Web", "new": "Web frontends"} in diff["changes"]
        status, error = await call("GET", "/api/v1/dashboards/web/diff", **{"from": "x", "to": "2"})
        assert status == 400 and error["error"].startswith("from:")
        assert await call("POST", "/api/v1/dashboards/web/restore", {"version": 1}) == \
            (200, {"uid": "web", "version": 5, "url": "/ui/d/web"})
        assert (await call("GET", "/api/v1/dashboards/web"))[1]["dashboard"]["title"] == "Web"
        status, error = await call("POST", "/api/v1/dashboards/web/restore", {"version": "1"})
        assert status == 400 and "version" in error["error"]
        # search and tags
        assert [d["uid"] for d in (await call("GET", "/api/v1/dashboards", query="WE"))[1]] == ["web"]
        assert [d["uid"] for d in (await call("GET", "/api/v1/dashboards", tag="builtin"))[1]] == \
            ["alerting-overview", "host-overview", "tsdb-self"]
        assert (await call("GET", "/api/v1/dashboards", query="web", tag="nope"))[1] == []
        # export in both formats, import of the Grafana export under a new uid
        status, model = await call("GET", "/api/v1/dashboards/web/export")
        assert status == 200 and model["uid"] == "web" and model["schemaVersion"] == 1
        status, grafana = await call("GET", "/api/v1/dashboards/web/export", format="grafana")
        assert status == 200 and grafana["schemaVersion"] == 39 and grafana["panels"][0]["type"] == "timeseries"
        assert grafana["panels"][0]["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert (await call("GET", "/api/v1/dashboards/web/export", format="pdf"))[0] == 400
        status, error = await call("POST", "/api/v1/dashboards/import", grafana)
        assert status == 409 and "already exists" in error["error"]
        status, imported = await call("POST", "/api/v1/dashboards/import", {"dashboard": {**grafana, "uid": "web2"}})
        assert status == 200 and imported == {"uid": "web2", "url": "/ui/d/web2", "warnings": []}
        status, imported = await call("POST", "/api/v1/dashboards/import", {**grafana, "title": "Over"},
                                      overwrite="true")
        assert status == 200 and (await call("GET", "/api/v1/dashboards/web"))[1]["dashboard"]["title"] == "Over"
        node = (GRAFANA / "node-exporter-full.json").read_bytes()
        status, imported = await call("POST", "/api/v1/dashboards/import", raw=node)
        assert status == 200 and imported["uid"] == "rYdddlPWk" and imported["warnings"]
        status, node_model = await call("GET", "/api/v1/dashboards/rYdddlPWk")
        assert len(node_model["dashboard"]["panels"]) == 31
        # delete keeps nothing
        assert await call("DELETE", "/api/v1/dashboards/web") == (200, {"uid": "web", "deleted": True})
        assert (await call("GET", "/api/v1/dashboards/web"))[0] == 404
        assert (await call("GET", "/api/v1/dashboards/web/versions"))[0] == 404
        assert (await call("DELETE", "/api/v1/dashboards/web"))[0] == 404

    _run(tmp_path, scenario)


def test_read_only_and_bad_input(tmp_path: Path) -> None:
    async def scenario(call: Call, server: Server) -> None:
        status, host = await call("GET", "/api/v1/dashboards/host-overview")
        assert status == 200 and host["meta"]["source"] == "builtin" and host["dashboard"]["version"] == 1
        for method, path, body in (
                ("POST", "/api/v1/dashboards", {"dashboard": host["dashboard"]}),
                ("PUT", "/api/v1/dashboards/host-overview", {"dashboard": host["dashboard"]}),
                ("DELETE", "/api/v1/dashboards/host-overview", None),
                ("POST", "/api/v1/dashboards/host-overview/restore", {"version": 1}),
                ("POST", "/api/v1/dashboards/import", {**host["dashboard"]})):
            status, error = await call(method, path, body)
            assert status == 403 and "read-only" in error["error"], (method, path)
        assert (await call("GET", "/api/v1/dashboards/host-overview/versions"))[1][0]["version"] == 1
        assert (await call("GET", "/api/v1/dashboards/host-overview/versions/1"))[0] == 200
        assert (await call("GET", "/api/v1/dashboards/host-overview/diff", **{"from": "1", "to": "1"}))[1][
            "changes"] == []
        status, grafana = await call("GET", "/api/v1/dashboards/tsdb-self/export", format="grafana")
        assert status == 200 and grafana["uid"] == "tsdb-self"
        for body, message in ((b"{nope", "body: invalid JSON"), (b"[1]", "body: expected a JSON object"),
                              (b'{"dashboard": 3}', "dashboard: expected a JSON object"),
                              (b'{"dashboard": {"title": "x", "panels": [{"type": "pie"}]}}',
                               "panels[0].type: unknown panel type 'pie'"),
                              (b'{"dashboard": {"title": "x"}, "overwrite": "yes"}', "overwrite"),
                              (b'{"dashboard": {"title": "x", "max": NaN}}', "NaN is not valid JSON"),
                              (b'{"dashboard": {"title": "x", "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
                               "nested too deeply")):
            status, error = await call("POST", "/api/v1/dashboards", raw=body)
            assert status == 400 and message in error["error"], body
        status, error = await call("POST", "/api/v1/dashboards/import", raw=b'{"hello": 1}')
        assert status == 400 and "not a Grafana dashboard" in error["error"]
        status, error = await call("POST", "/api/v1/dashboards/import", raw=b"<html>")
        assert status == 400 and "invalid JSON" in error["error"]
        assert (await call("GET", "/api/v1/dashboards/nope"))[0] == 404
        assert (await call("GET", "/api/v1/dashboards/nope/export"))[0] == 404
        # a generated uid when none is given
        status, created = await call("POST", "/api/v1/dashboards", {"dashboard": {"title": "Fresh"}})
        assert status == 200 and len(created["uid"]) == 12 and created["version"] == 1

    _run(tmp_path, scenario)


def test_ui_headers_from_config(tmp_path: Path) -> None:
    async def scenario(call: Call, server: Server) -> None:
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{server.http_port}"
            async with session.get(base + "/", allow_redirects=False) as response:
                assert response.status == 302 and response.headers["Location"] == "/ui/"
            for path in ("/ui", "/ui/", "/ui/d/host-overview", "/ui/assets/nope.js"):
                async with session.get(base + path) as response:
                    assert response.status in (200, 404, 503)
                    assert response.headers["Content-Security-Policy"] == \
                        "frame-ancestors 'self' https://wiki.example"
                    assert response.headers["X-Content-Type-Options"] == "nosniff"
        await server.reload()  # the same config again: nothing breaks

    _run(tmp_path, scenario, dashboards={"frame_ancestors": ["'self'", "https://wiki.example"]})
