"""The on-call HTTP API of a real server: the timeline, runtime overrides (create, list, delete, persisted
across a restart, seen by escalation), the errors (bad times, unknown user or schedule, read-only config
overrides) and the roles needed to change overrides."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.server.components.context import server_context, with_sections
from tests.server.test_webauth import _web_yml, fetch
from tests.server_thread import ServerThread
from tsdb.alerting.oncall import Override
from tsdb.config import ServerConfig
from tsdb.server.components import escalation, notifications

ONCALL = {"users": {"ann": {"email": "ann@example.com"}, "bob": {"email": "bob@example.com"}, "cid": {}},
          "schedules": {"primary": {"layers": [{"users": ["ann", "bob"], "shift": "1d", "start": "2026-01-05",
                                                "handoff": "09:00"}],
                                    "overrides": [{"user": "cid", "start": "2026-01-06T12:00:00Z",
                                                   "end": "2026-01-06T14:00:00Z"}]}}}


def _config(tmp_path: Path, **kw: Any) -> ServerConfig:
    return ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                        notifications={"oncall": ONCALL}, **kw)


def _call(running: ServerThread, method: str, path: str, body: Any = None,
          auth: tuple[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    status, _, text = fetch(f"http://127.0.0.1:{running.server.http_port}{path}", method, auth=auth,
                            headers={"Content-Type": "application/json"} if data else None, body=data)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _timeline(running: ServerThread, start: str, end: str) -> tuple[int, Any]:
    query = urllib.parse.urlencode({"start": start, "end": end})
    return _call(running, "GET", f"/api/v1/oncall/primary/timeline?{query}")


@pytest.fixture
def running(tmp_path: Path) -> Any:
    server = ServerThread(_config(tmp_path))
    try:
        yield server
    finally:
        server.close()


def test_timeline_shape_and_time_formats(running: ServerThread) -> None:
    status, body = _timeline(running, "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z")
    assert status == 200, body
    data = body["data"]
    assert data["schedule"] == "primary" and data["users"] == ["ann", "bob", "cid"]
    assert [(s["user"], s["source"], s["start"][11:16], s["end"][11:16]) for s in data["final"]] == [
        ("ann", "layer 0", "00:00", "09:00"), ("bob", "layer 0", "09:00", "12:00"),
        ("cid", "override", "12:00", "14:00"), ("bob", "layer 0", "14:00", "00:00")]
    assert data["final"][2]["override_id"] == "config-0"
    assert [s["user"] for s in data["layers"][0]["segments"]] == ["ann", "bob"]
    assert data["layers"][0]["users"] == ["ann", "bob"] and data["layers"][0]["time_zone"] == "UTC"
    (override,) = data["overrides"]
    assert override["id"] == "config-0" and override["runtime"] is False
    assert [(h["from"], h["to"]) for h in data["handoffs"]] == [("ann", "bob"), ("bob", "cid"), ("cid", "bob")]
    # unix seconds work as well, and give the same answer
    status, again = _timeline(running, "1767657600", "1767744000")
    assert status == 200 and again["data"]["final"] == data["final"]
    # without parameters: now for 7 days
    status, default = _call(running, "GET", "/api/v1/oncall/primary/timeline")
    assert status == 200 and len(default["data"]["handoffs"]) >= 6


@pytest.mark.parametrize(("start", "end", "message"), [
    ("yesterday", "2026-01-07T00:00:00Z", 'invalid parameter "start"'),
    ("2026-01-06T00:00:00Z", "soon", 'invalid parameter "end"'),
    ("2026-01-07T00:00:00Z", "2026-01-06T00:00:00Z", 'invalid parameter "end": end must be after start'),
    ("2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z", "longer than 92 days"),
    ("1e15", "1e15", 'invalid parameter "start"'),
    ("-5", "10", 'invalid parameter "start"'),
])
def test_timeline_bad_parameters(running: ServerThread, start: str, end: str, message: str) -> None:
    status, body = _timeline(running, start, end)
    assert status == 400 and body["status"] == "error" and message in body["error"]


def test_unknown_schedule_is_404(running: ServerThread) -> None:
    assert _call(running, "GET", "/api/v1/oncall/nope/timeline")[0] == 404
    status, body = _call(running, "POST", "/api/v1/oncall/nope/overrides",
                         {"user": "ann", "start": 0, "end": 10})
    assert status == 404 and "unknown schedule 'nope'" in body["error"]
    assert _call(running, "DELETE", "/api/v1/oncall/nope/overrides/x")[0] == 404


@pytest.mark.parametrize(("body", "message"), [
    ({"user": "zed", "start": "2026-01-06T00:00:00Z", "end": "2026-01-06T01:00:00Z"}, "unknown user 'zed'"),
    ({"start": "2026-01-06T00:00:00Z", "end": "2026-01-06T01:00:00Z"}, 'missing "user"'),
    ({"user": "ann", "start": "2026-01-06T01:00:00Z", "end": "2026-01-06T01:00:00Z"}, '"end" must be after'),
    ({"user": "ann", "start": "2026-01-06T02:00:00Z", "end": "2026-01-06T01:00:00Z"}, '"end" must be after'),
    ({"user": "ann", "start": "nope", "end": "2026-01-06T01:00:00Z"}, 'invalid "start"'),
    ({"user": "ann", "start": "2026-01-06T00:00:00Z"}, 'missing or invalid "end"'),
    ({"user": "ann", "start": 0, "end": 1e300}, 'invalid "end"'),
    ({"user": "ann", "start": "2026-01-06T00:00:00Z", "end": True}, 'missing or invalid "end"'),
    ([1, 2], "JSON object"),
])
def test_create_override_errors(running: ServerThread, body: Any, message: str) -> None:
    status, answer = _call(running, "POST", "/api/v1/oncall/primary/overrides", body)
    assert status == 400 and message in answer["error"], answer


def test_invalid_json_is_400(running: ServerThread) -> None:
    status, _, text = fetch(f"http://127.0.0.1:{running.server.http_port}/api/v1/oncall/primary/overrides", "POST",
                            headers={"Content-Type": "application/json"}, body=b"{nope")
    assert status == 400 and "invalid JSON" in text


def test_runtime_override_lifecycle_survives_restart(tmp_path: Path) -> None:
    running = ServerThread(_config(tmp_path))
    try:
        status, created = _call(running, "POST", "/api/v1/oncall/primary/overrides",
                                {"user": "cid", "start": "2026-01-06T10:00:00Z", "end": 1767697200,
                                 "created_by": "ops", "comment": "swap"})
        assert status == 200, created
        override = created["data"]
        assert override["runtime"] is True and override["created_by"] == "ops" and override["comment"] == "swap"
        assert override["end"] == "2026-01-06T11:00:00+00:00"
        status, body = _timeline(running, "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z")
        assert [(s["user"], s.get("override_id")) for s in body["data"]["final"]][1:3] == [
            ("bob", None), ("cid", override["id"])]
        # escalation asks the same merged schedule
        component = next(c for c in running.server.components if c.name == "escalation")
        user, source = component.hook.oncall.who_is_on_call("primary", 1767695400)  # 10:30
        assert user.name == "cid" and source == "override"
        # a config override cannot be deleted
        status, answer = _call(running, "DELETE", "/api/v1/oncall/primary/overrides/config-0")
        assert status == 400 and "read-only" in answer["error"]
    finally:
        running.close()
    running = ServerThread(_config(tmp_path))
    try:
        status, body = _timeline(running, "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z")
        ids = [o["id"] for o in body["data"]["overrides"]]
        assert override["id"] in ids and "config-0" in ids  # survived the restart
        status, answer = _call(running, "DELETE", f"/api/v1/oncall/primary/overrides/{override['id']}")
        assert status == 200 and answer["data"]["id"] == override["id"]
        assert _call(running, "DELETE", f"/api/v1/oncall/primary/overrides/{override['id']}")[0] == 404
        status, body = _timeline(running, "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z")
        assert [o["id"] for o in body["data"]["overrides"]] == ["config-0"]
    finally:
        running.close()


def test_list_shows_current_runtime_overrides(running: ServerThread) -> None:
    status, created = _call(running, "POST", "/api/v1/oncall/primary/overrides",
                            {"user": "cid", "start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"})
    assert status == 200
    status, body = _call(running, "GET", "/api/v1/oncall")
    (primary,) = body["data"]
    assert primary["user"] == "cid" and primary["source"] == "override"
    assert [o["id"] for o in primary["overrides"]] == [created["data"]["id"]]  # the config one has ended


def test_changing_overrides_needs_the_write_role(tmp_path: Path) -> None:
    web = _web_yml(tmp_path / "web.yml", None, {"reader": "r-pass", "writer": "w-pass"})
    running = ServerThread(_config(tmp_path, web_config_file=str(web),
                                   web_roles={"reader": "read", "writer": "write"}))
    try:
        body = {"user": "ann", "start": "2026-01-06T00:00:00Z", "end": "2026-01-06T01:00:00Z"}
        assert _call(running, "POST", "/api/v1/oncall/primary/overrides", body)[0] == 401
        assert _call(running, "POST", "/api/v1/oncall/primary/overrides", body, ("reader", "r-pass"))[0] == 403
        assert _call(running, "GET", "/api/v1/oncall/primary/timeline", auth=("reader", "r-pass"))[0] == 200
        status, created = _call(running, "POST", "/api/v1/oncall/primary/overrides", body, ("writer", "w-pass"))
        assert status == 200 and created["data"]["created_by"] == "writer"  # defaults to the signed-in user
        path = f"/api/v1/oncall/primary/overrides/{created['data']['id']}"
        assert _call(running, "DELETE", path, auth=("reader", "r-pass"))[0] == 403
        assert _call(running, "DELETE", path, auth=("writer", "w-pass"))[0] == 200
    finally:
        running.close()


def test_runtime_overrides_outlive_a_reload(tmp_path: Path) -> None:
    """A reload replaces the config's schedules and keeps the runtime overrides, for escalation too."""
    async def scenario() -> None:
        with server_context(tmp_path, notifications={"oncall": ONCALL}) as context:
            notifications.build(context)
            component = escalation.build(context)
            assert component is not None
            at = 1767695400.0  # 2026-01-06T10:30Z: bob by layer
            override = Override("cid", at - 60, at + 60, "r1", True, created_at=1.0)
            component.runtime_overrides = {"primary": [override]}
            component._merge_overrides()
            assert component.hook.oncall.who_is_on_call("primary", at)[0].name == "cid"  # type: ignore[union-attr]
            changed = json.loads(json.dumps(ONCALL))
            changed["schedules"]["primary"]["layers"][0]["users"] = ["ann"]
            plan = await component.prepare_reload(with_sections(context, notifications={"oncall": changed}))
            await plan.apply()
            assert component.hook.oncall is component.oncall
            assert component.oncall.who_is_on_call("primary", at)[0].name == "cid"  # type: ignore[union-attr]
            assert component.oncall.who_is_on_call("primary", at + 120)[0].name == "ann"  # type: ignore[union-attr]
            await component.stop()

    asyncio.run(scenario())
