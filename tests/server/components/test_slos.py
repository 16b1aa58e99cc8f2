"""The error-budget API (/api/v1/slos) in a real server over real samples (tests/slo/budget_data.py), with
hand-computed expectations: budget, consumption, burn rates, availability, time to exhaustion, alert states
from the running rule evaluator, filters, sorting, errors and reload."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.slo.budget_data import SPEC, write_requests
from tsdb.config import ServerConfig
from tsdb.server.app import Server

DAY = 86400
APPROX = {"rel": 1e-9}


async def _get(session: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, Any]:
    async with session.get(url, params=params) as response:
        return response.status, await response.json()


async def _poll(session: aiohttp.ClientSession, url: str, check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    body = None
    while time.monotonic() < deadline:
        _, body = await _get(session, url)
        if check(body):
            return body
        await asyncio.sleep(0.3)
    raise AssertionError(f"condition not met within {seconds} s; last answer: {body}")


def _check_availability_slo(slo: dict[str, Any]) -> None:
    """99.9 % with 1 % errors in the last of 24 hours: burn 10, 5/12 of the budget spent."""
    assert slo["objective"]["percent"] == 99.9 and slo["objective"]["ratio"] == pytest.approx(0.999, **APPROX)
    assert slo["period"] == {"duration": "30d", "seconds": 30 * DAY}
    assert slo["labels"] == {"owner": "web-team"}
    assert slo["sli"]["window"] == "5m" and slo["sli"]["error_ratio"] == pytest.approx(0.01, **APPROX)
    assert slo["availability"] == pytest.approx(1 - 1 / 2400, **APPROX)
    budget = slo["error_budget"]
    assert budget["ratio"] == pytest.approx(0.001, **APPROX) and budget["seconds"] == 2592.0  # 43.2 min
    assert budget["consumed_ratio"] == pytest.approx(5 / 12, **APPROX) and budget["consumed_seconds"] == 1080.0
    assert budget["remaining_ratio"] == pytest.approx(7 / 12, **APPROX) and budget["remaining_seconds"] == 1512.0
    assert slo["burn_rate"]["current"] == pytest.approx(10, **APPROX)
    assert slo["burn_rate"]["period"] == pytest.approx(5 / 12, **APPROX)
    assert slo["time_to_exhaustion_seconds"] == 151200.0  # 7/12 of 30 days at 10 times the budget rate
    windows = [(w["alert"], w["short_window"], w["long_window"], w["factor"]) for w in slo["windows"]]
    assert windows == [("page", "5m", "1h", 14.4), ("page", "30m", "6h", 6.0), ("ticket", "2h", "1d", 3.0),
                       ("ticket", "6h", "3d", 1.0)]
    burns = [(w["short"], w["long"]) for w in slo["windows"]]
    expected = [(10, 10), (10, 10 / 6), (5, 5 / 12), (10 / 6, 5 / 12)]
    for (short, long), (want_short, want_long) in zip(burns, expected, strict=True):
        assert short == pytest.approx(want_short, rel=1e-4) and long == pytest.approx(want_long, rel=1e-4)
    assert [w["over"] for w in slo["windows"]] == [False, False, False, False]


def test_slo_status_api(tmp_path: Path) -> None:
    spec = tmp_path / "slos.yml"
    spec.write_text(SPEC)
    end_ms = int(time.time()) // 15 * 15 * 1000
    write_requests(tmp_path / "data", end_ms)
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          web_enable_lifecycle=True, rules={"evaluation_interval": "1s"},
                          slos={"files": [str(spec)]})
    at = str(end_ms / 1000)

    async def scenario() -> None:
        server = Server(config)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}/api/v1/slos"
            async with aiohttp.ClientSession() as session:
                # the rule evaluator runs the generated alerts: the strict SLO pages, nothing else fires
                await _poll(session, base, lambda b: b["data"][0]["alert_state"] == "firing")
                status, body = await _get(session, base, time=at)
                assert status == 200 and body["status"] == "success"
                ids = [s["id"] for s in body["data"]]
                assert ids == ["shop-requests-strict", "shop-requests-availability", "search-latency"]
                strict, plain, idle = body["data"]
                _check_availability_slo(plain)
                assert plain["alert_state"] == "inactive"
                assert [(a["severity"], a["name"], a["state"]) for a in plain["alerts"]] == [
                    ("page", "ShopHighErrorRate", "inactive"), ("ticket", "ShopHighErrorRate", "inactive")]
                assert strict["error_budget"]["seconds"] == 1296.0
                assert strict["error_budget"]["remaining_ratio"] == pytest.approx(1 / 6, **APPROX)
                assert strict["burn_rate"]["current"] == pytest.approx(20, **APPROX)
                assert strict["time_to_exhaustion_seconds"] == 21600.0
                assert [w["over"] for w in strict["windows"]] == [True, False, False, False]
                page, ticket = strict["alerts"]
                assert (page["severity"], page["state"], ticket["state"]) == ("page", "firing", "inactive")
                assert page["alerts"][0]["labels"]["sloth_id"] == "shop-requests-strict"
                assert page["alerts"][0]["labels"]["severity"] == "page"
                # no data: numbers are null, not zero, and the SLO sorts last
                assert idle["availability"] is None and idle["error_budget"]["remaining_ratio"] is None
                assert idle["time_to_exhaustion_seconds"] is None and idle["alert_state"] == "none"
                assert idle["error_budget"]["ratio"] == pytest.approx(0.01, **APPROX)
                assert "queries" not in idle

                # filters: words of the search, labels as name=value
                _, body = await _get(session, base, search="CHECKOUT server", time=at)
                assert [s["id"] for s in body["data"]] == ["shop-requests-availability"]
                _, body = await _get(session, base, label="owner=search-team")
                assert [s["id"] for s in body["data"]] == ["search-latency"]
                status, body = await _get(session, base, label="owner")
                assert status == 400 and body["errorType"] == "bad_data" and "'owner'" in body["error"]
                status, body = await _get(session, base, time="yesterday")
                assert status == 400 and body["errorType"] == "bad_data" and '"time"' in body["error"]

                # detail: the same numbers, plus the queries behind them (they give the same values)
                status, body = await _get(session, base + "/shop-requests-availability", time=at)
                assert status == 200
                detail = body["data"]
                _check_availability_slo(detail)
                queries = detail["queries"]
                assert set(queries["burn_rate"]) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"}
                for expr, want in ((queries["budget_remaining"], 7 / 12), (queries["burn_rate"]["5m"], 10),
                                   (queries["availability"], 1 - 1 / 2400)):
                    _, answer = await _get(session, base.replace("/slos", "/query"), query=expr, time=at)
                    assert float(answer["data"]["result"][0]["value"][1]) == pytest.approx(want, **APPROX)

                status, body = await _get(session, base + "/shop-nope")
                assert status == 404 and body["status"] == "error" and body["errorType"] == "not_found"
                assert "'shop-nope'" in body["error"]
                # the compliance report's path is not taken for an SLO id
                day = time.strftime("%Y-%m-%d", time.gmtime(end_ms / 1000))
                status, body = await _get(session, base + "/report", start=f"{day}T00:00:00Z",
                                          end=f"{day}T23:59:59Z", format="json")
                assert status == 200 and "shop-requests-strict" in json.dumps(body)

                # reload reads the specs again; a bad one is refused and the old SLOs stay
                spec.write_text(SPEC.split("---")[1])
                async with session.post(f"http://127.0.0.1:{server.http_port}/-/reload") as response:
                    assert response.status == 200
                _, body = await _get(session, base)
                assert [s["id"] for s in body["data"]] == ["search-latency"]
                spec.write_text(SPEC.replace("objective: 99\n", "objective: 120\n").split("---")[1])
                async with session.post(f"http://127.0.0.1:{server.http_port}/-/reload") as response:
                    assert response.status == 500 and "objective" in await response.text()
                _, body = await _get(session, base)
                assert [s["id"] for s in body["data"]] == ["search-latency"]
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_no_slos_configured(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0")

    async def scenario() -> None:
        server = Server(config)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}/api/v1/slos"
            async with aiohttp.ClientSession() as session:
                assert await _get(session, base) == (200, {"status": "success", "data": []})
                status, body = await _get(session, base + "/x")
                assert status == 404 and body["errorType"] == "not_found"
        finally:
            await server.stop()

    asyncio.run(scenario())
