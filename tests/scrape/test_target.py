"""One target against an aiohttp exposition server: honor_labels both ways, limits, file_sd refresh
(keeping the last good targets), synthetic series and stale markers; config errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from tsdb.errors import ConfigError
from tsdb.scrape.config import parse_scrape_section
from tsdb.scrape.target import FileSD, discover
from tsdb.storage.interfaces import is_stale

EXPOSITION = ("# TYPE requests_total counter\nrequests_total{job=\"app\",path=\"/\"} 7\n"
              "requests_total{job=\"app\",path=\"/x\"} 3\n# TYPE temp gauge\ntemp 21.5 1700000000000\n")


async def _serve(text: list[str]) -> tuple[web.AppRunner, int]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text[0], content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def _job(port: int, **extra: object) -> object:
    (job,) = parse_scrape_section({"scrape_configs": [{"job_name": "scrapejob", "static_configs": [
        {"targets": [f"127.0.0.1:{port}"]}], **extra}]})
    (target,), _ = discover(job, FileSD())
    return target


def test_scrape_honor_labels_limits_and_staleness() -> None:
    text = [EXPOSITION]

    async def scenario() -> dict[str, object]:
        runner, port = await _serve(text)
        out: dict[str, object] = {}
        try:
            async with aiohttp.ClientSession() as session:
                plain = _job(port)
                out["plain"] = await plain.scrape(session, 1000.0)  # type: ignore[attr-defined]
                honor = _job(port, honor_labels=True, honor_timestamps=False)
                out["honor"] = await honor.scrape(session, 1000.0)  # type: ignore[attr-defined]
                limited = _job(port, sample_limit=2)
                out["limited"] = await limited.scrape(session, 1000.0)  # type: ignore[attr-defined]
                out["limited_error"] = limited.last_error  # type: ignore[attr-defined]
                text[0] = "requests_total{job=\"app\",path=\"/\"} 8\n"
                out["second"] = await plain.scrape(session, 1015.0)  # type: ignore[attr-defined]
        finally:
            await runner.cleanup()
        return out

    out = asyncio.run(scenario())
    plain = {tuple(sorted(lb.items())): (v, ts) for lb, v, ts in out["plain"]}  # type: ignore[attr-defined]
    row = dict(next(k for k in plain if dict(k).get("path") == "/"))
    assert row["job"] == "scrapejob" and row["exported_job"] == "app"  # conflict: target label wins
    temp = next(v for k, v in plain.items() if dict(k).get("__name__") == "temp")
    assert temp == (21.5, 1_700_000_000.0)  # honor_timestamps (default)
    honor = [lb for lb, _, ts in out["honor"] if lb.get("__name__") == "requests_total"]  # type: ignore[attr-defined]
    assert {lb["job"] for lb in honor} == {"app"} and "exported_job" not in honor[0]
    assert all(ts == 1000.0 for lb, _, ts in out["honor"])  # type: ignore[attr-defined]
    up = {lb["__name__"]: v for lb, v, _ in out["limited"] if lb["__name__"].startswith(("up", "scrape_"))}  # type: ignore[attr-defined]
    assert up["up"] == 0.0 and "sample limit exceeded" in str(out["limited_error"])
    second = out["second"]
    stale = [lb for lb, v, _ in second if is_stale(np.array([v]))[0]]  # type: ignore[attr-defined]
    assert {lb.get("path", lb["__name__"]) for lb in stale} == {"/x", "temp"}  # gone since the last scrape
    synthetic = {lb["__name__"]: v for lb, v, _ in second if lb["__name__"].startswith("scrape_")}  # type: ignore[attr-defined]
    assert synthetic["scrape_samples_scraped"] == 1.0 and synthetic["scrape_series_added"] == 0.0


def test_file_sd_refresh_keeps_last_good(tmp_path: Path) -> None:
    sd = tmp_path / "targets.json"
    sd.write_text(json.dumps([{"targets": ["a:1", "b:2"], "labels": {"team": "x"}}]))
    (job,) = parse_scrape_section({"scrape_configs": [{"job_name": "j", "file_sd_configs": [{"files": [str(sd)]}],
                                                        "relabel_configs": [{"source_labels": ["__address__"],
                                                                             "regex": "b:.*", "action": "drop"}]}]})
    fsd = FileSD()
    targets, dropped = discover(job, fsd)
    assert [t.labels for t in targets] == [{"job": "j", "team": "x", "instance": "a:1"}]
    assert dropped[0]["__address__"] == "b:2"
    sd.write_text("not json")
    targets, _ = discover(job, fsd)
    assert [t.url for t in targets] == ["http://a:1/metrics"] and fsd.errors


@pytest.mark.parametrize(("section", "message"), [
    ({"scrape_configs": [{"job_name": "a", "colour": 1}]}, "field colour not found"),
    ({"scrape_configs": [{"job_name": "a"}, {"job_name": "a"}]}, "multiple scrape configs"),
    ({"scrape_configs": [{"job_name": "a", "scrape_interval": "5s", "scrape_timeout": "10s"}]}, "greater than"),
    ({"bogus": 1}, "unknown key"),
])
def test_config_errors(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_scrape_section(section)


def test_body_size_limit_bounds_the_decompressed_exposition() -> None:
    lines = "".join(f'big_metric{{i="{i}"}} {i}\n' for i in range(50_000))  # about 1.2 MB, gzip'd to little

    async def scenario() -> dict[str, object]:
        async def handler(request: web.Request) -> web.Response:
            response = web.Response(text=lines, content_type="text/plain")
            response.enable_compression(web.ContentCoding.gzip)
            return response

        app = web.Application()
        app.router.add_get("/metrics", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        out: dict[str, object] = {}
        try:
            async with aiohttp.ClientSession() as session:
                for name, limit in (("small", "64KB"), ("ample", "2MiB")):
                    target = _job(port, body_size_limit=limit)
                    samples = await target.scrape(session, 1000.0)  # type: ignore[attr-defined]
                    out[name] = sum(1 for lb, _, _ in samples if lb["__name__"] == "big_metric")
                    out[f"{name}_error"] = target.last_error  # type: ignore[attr-defined]
        finally:
            await runner.cleanup()
        return out

    out = asyncio.run(scenario())
    assert out["small"] == 0 and out["small_error"] == f"body size limit exceeded ({64 << 10} bytes)"
    assert out["ample"] == 50_000 and out["ample_error"] == ""


@pytest.mark.parametrize(("value", "error"), [("10XB", "invalid size '10XB'"), ("-1MB", "invalid size '-1MB'")])
def test_body_size_limit_must_be_a_size(value: str, error: str) -> None:
    with pytest.raises(ConfigError, match=f"body_size_limit: {error}"):
        parse_scrape_section({"scrape_configs": [{"job_name": "j", "body_size_limit": value}]})


def test_global_body_size_limit_is_the_default() -> None:
    (job,) = parse_scrape_section({"global": {"body_size_limit": "1GB"}, "scrape_configs": [{"job_name": "j"}]})
    assert job.body_size_limit == 1 << 30
