"""The TSDB admin API over real HTTP: the admin gate, Prometheus's answers, status codes and parameter errors,
and the effects of snapshot, delete_series (raw data and downsampled tiers) and clean_tombstones."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.server_thread import ServerThread
from tsdb.config import ServerConfig, StorageOptions
from tsdb.labels import Labels
from tsdb.storage.db import DB

H = 3_600_000
PATHS = ("snapshot", "delete_series", "clean_tombstones")


def _config(tmp_path: Path, admin: bool) -> ServerConfig:
    return ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                        web_enable_admin_api=admin, storage=StorageOptions(wal_fsync="never"))


def call(base: str, method: str, path: str, form: dict[str, Any] | None = None,
         body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """One request (``form`` in the query string, ``body`` url-encoded); status and decoded JSON body."""
    url = base + path + ("?" + urllib.parse.urlencode(form, doseq=True) if form else "")
    data = urllib.parse.urlencode(body, doseq=True).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw[:1] == b"{" else raw.decode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerThread, str]]:
    with ServerThread(_config(tmp_path, admin=True)) as running:
        yield running, f"http://127.0.0.1:{running.server.http_port}"


def _fill(db: DB, start: int, hours: int, names: tuple[str, ...] = ("g",)) -> None:
    """Series ``<name>{i="0"|"1"}`` every minute over ``hours`` hours from ``start``, with blocks cut."""
    step = 60_000
    ts = start + np.arange(hours * H // step, dtype=np.int64) * step
    per = 4 * H // step
    for lo in range(0, len(ts), per):
        app = db.appender()
        for name in names:
            for i in range(2):
                chunk = ts[lo:lo + per]
                app.append(Labels({"__name__": name, "i": str(i)}), chunk, np.full(len(chunk), 1.0 + i))
        app.commit()
        db.maintain(now_ms=int(ts[min(lo + per, len(ts)) - 1]))


def _hours(base: str, query: str, start: int, end: int, resolution: str) -> dict[str, set[int]]:
    """Per series ``i``: the steps (hours after ``start``) with a value."""
    status, body = call(base, "GET", "/api/v1/query_range", {"query": query, "start": start / 1000,
                                                             "end": end / 1000, "step": "1h",
                                                             "max_source_resolution": resolution})
    assert status == 200, body
    return {s["metric"]["i"]: {(int(float(t) * 1000) - start) // H for t, _ in s["values"]}
            for s in body["data"]["result"]}


def test_admin_disabled_answers_500(tmp_path: Path) -> None:
    with ServerThread(_config(tmp_path, admin=False)) as running:
        base = f"http://127.0.0.1:{running.server.http_port}"
        for path in PATHS:
            for method in ("POST", "PUT"):
                assert call(base, method, "/api/v1/admin/tsdb/" + path, {"match[]": "up"}) == (
                    500, {"status": "error", "errorType": "unavailable", "error": "admin APIs disabled"})
        assert not (tmp_path / "data" / "snapshots").exists()


def test_parameter_errors_name_the_parameter(server: tuple[ServerThread, str]) -> None:
    _, base = server
    admin = "/api/v1/admin/tsdb/"
    cases = [
        ("snapshot", {"skip_head": "maybe"}, 'invalid parameter "skip_head": unable to parse boolean'),
        ("delete_series", {}, "no match[] parameter provided"),
        ("delete_series", {"match[]": "up", "start": "soon"}, 'invalid parameter "start"'),
        ("delete_series", {"match[]": "up", "end": "later"}, 'invalid parameter "end"'),
        ("delete_series", {"match[]": "up{"}, 'invalid parameter "match[]"'),
    ]
    for path, form, message in cases:
        status, body = call(base, "POST", admin + path, form)
        assert status == 400 and body["status"] == "error" and body["errorType"] == "bad_data", (path, body)
        assert body["error"].startswith(message), (path, body)
    assert call(base, "GET", admin + "snapshot")[0] == 405  # POST and PUT only, as Prometheus routes them


def test_snapshot_answers_its_name_and_holds_every_sample(server: tuple[ServerThread, str], tmp_path: Path) -> None:
    running, base = server
    db = running.server.db
    assert db is not None
    start = (int(time.time() * 1000) - 2 * 24 * H) // H * H
    _fill(db, start, 12)
    assert db.blocks and db.head.num_series
    for method, form, with_head in (("POST", {}, True), ("PUT", {"skip_head": "true"}, False)):
        status, body = call(base, method, "/api/v1/admin/tsdb/snapshot", form)
        assert status == 200 and body["status"] == "success", body
        name = body["data"]["name"]
        assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{16}", name)
        snap = tmp_path / "data" / "snapshots" / name
        blocks = {p.name for p in snap.iterdir() if (p / "meta.json").exists()}
        assert {b.ulid for b in db.blocks} <= blocks
        assert len(blocks) == len(db.blocks) + (1 if with_head else 0)  # the head as one more block


def test_delete_series_and_clean_tombstones(server: tuple[ServerThread, str]) -> None:
    running, base = server
    db = running.server.db
    assert db is not None
    start = (int(time.time() * 1000) - 2 * 24 * H) // H * H
    _fill(db, start, 12, names=("g", "other"))
    every = set(range(12))
    assert _hours(base, "count_over_time(g[1h])", start, start + 11 * H, "raw") == {"0": every, "1": every}
    status, body = call(base, "POST", "/api/v1/admin/tsdb/delete_series",
                        body={"match[]": ['g{i="1"}'], "start": str((start + 2 * H) / 1000),
                              "end": str((start + 6 * H - 1) / 1000)})
    assert (status, body) == (204, None)
    hours = _hours(base, "count_over_time(g[1h])", start, start + 11 * H, "raw")
    assert hours["0"] == every and hours["1"] == every - {3, 4, 5}
    # a whole series, two selectors, PUT
    assert call(base, "PUT", "/api/v1/admin/tsdb/delete_series", {"match[]": ['other{i="0"}', 'other{i="9"}']})[0] \
        == 204
    assert set(_hours(base, "count_over_time(other[1h])", start, start + 11 * H, "raw")) == {"1"}
    tombstoned = [b.ulid for b in db.blocks if b.tombstones().total()]
    assert tombstoned
    assert call(base, "POST", "/api/v1/admin/tsdb/clean_tombstones") == (204, None)
    assert not any(b.tombstones().total() for b in db.blocks)
    assert not {b.ulid for b in db.blocks} & set(tombstoned)
    assert _hours(base, "count_over_time(g[1h])", start, start + 11 * H, "raw") == hours
    assert call(base, "PUT", "/api/v1/admin/tsdb/clean_tombstones") == (204, None)


@pytest.mark.parametrize("resolution", ["5m", "1h"])
def test_delete_series_reaches_the_tiers(server: tuple[ServerThread, str], resolution: str) -> None:
    running, base = server
    db = running.server.db
    assert db is not None and db.tiers is not None
    start = (int(time.time() * 1000) - 20 * 24 * H) // H * H  # old enough for both tiers
    _fill(db, start, 24)
    db.maintain()  # now: the blocks are downsampled
    assert db.tiers.files("5m") and db.tiers.files("1h")
    every = set(range(1, 17))  # at 0h a tier window ends just after
    query = "count_over_time(g[1h])"
    assert _hours(base, query, start, start + 16 * H, resolution) == {"0": every, "1": every}
    status, _ = call(base, "POST", "/api/v1/admin/tsdb/delete_series",
                     {"match[]": 'g{i="1"}', "start": (start + 4 * H) / 1000, "end": (start + 10 * H - 1) / 1000})
    assert status == 204
    for _ in range(2):  # hidden at once, and still after the tier files are rewritten
        hours = _hours(base, query, start, start + 16 * H, resolution)
        assert hours["0"] == every and not hours["1"] & set(range(5, 10))
        assert hours["1"] >= every - set(range(5, 11))
        assert call(base, "POST", "/api/v1/admin/tsdb/clean_tombstones")[0] == 204
        assert not db.tiers.pending_deletions()
