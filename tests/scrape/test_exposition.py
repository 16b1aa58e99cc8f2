"""The text exposition parser: names kept as exposed, escapes, values and timestamps as Go reads them, errors
naming the line; a hypothesis round trip; and the same series and metadata as a real Prometheus scraping
the same awkward exposition."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.aiohttp_thread import AiohttpThread
from tests.contracts.prometheus_peer import PrometheusPeer
from tests.needs import needs_binary
from tsdb.config import ServerConfig
from tsdb.scrape.exposition import ExpositionError, parse_float, parse_text
from tsdb.server.app import Server

AWKWARD = """\
# HELP requests Requests without the _total suffix.
# TYPE requests counter
requests{code="200"} 1027
requests{code="500"} 3 1700000000123
# HELP escaped A label value with \\\\ and \\n in its help.
# TYPE escaped gauge
escaped{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb"} -0.5
# a comment that is not HELP or TYPE
untyped_metric 1e-7
spaced_metric{a="b"}   +Inf
nan_metric NaN
neg_inf -Inf
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.5"} 4
lat_seconds_bucket{le="+Inf"} 9
lat_seconds_sum 3.25
lat_seconds_count 9
trailing_comma{a="1",} 2
"""


def test_awkward_exposition() -> None:
    parsed = parse_text(AWKWARD)
    by_name = {(s[0]["__name__"], tuple(sorted(s[0].items()))): s for s in parsed.samples}
    names = [labels["__name__"] for labels, _, _ in parsed.samples]
    assert names[:2] == ["requests", "requests"], "counter names are kept as exposed"
    assert parsed.samples[1][2] == 1700000000123
    escaped = next(s for s in parsed.samples if s[0]["__name__"] == "escaped")
    assert escaped[0] == {"__name__": "escaped", "path": "C:\\dir", "quote": 'say "hi"', "nl": "a\nb"}
    values = {labels["__name__"]: value for labels, value, _ in parsed.samples}
    assert values["untyped_metric"] == 1e-7 and values["spaced_metric"] == math.inf
    assert math.isnan(values["nan_metric"]) and values["neg_inf"] == -math.inf
    assert len(by_name) == len(parsed.samples)
    meta = {m.metric: m for m in parsed.metadata}
    assert meta["requests"].type == "counter" and meta["requests"].help == "Requests without the _total suffix."
    assert meta["escaped"].help == "A label value with \\ and \n in its help."
    assert meta["lat_seconds"].type == "histogram" and "untyped_metric" not in meta


@pytest.mark.parametrize(("text", "message"), [
    ("x{a=\"1\" 2", "line 1"),
    ("ok 1\n  indented 1", "line 2: invalid metric name"),
    ("ok 1\nbad{=\"1\"} 2", "line 2: invalid label name"),
    ("x 1 2 3", "line 1: expected a value"),
    ("x abc", "line 1: invalid number"),
    ("x 1 1.5", "line 1: invalid timestamp"),
    ("# TYPE x countre\nx 1", "line 1: invalid metric type"),
    ('x{a="1",a="2"} 1', "duplicate label name"),
    ("x 1_000", "invalid number"),
    ('x{__name__="y"} 1', "reserved"),
])
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ExpositionError, match=message):
        parse_text(text)


def test_go_floats() -> None:
    assert parse_float("0x1p-2") == 0.25 and parse_float("-0X10") == -16.0
    assert parse_float("1E3") == 1000.0 and parse_float(".5") == 0.5 and parse_float("+Inf") == math.inf
    with pytest.raises(ValueError):
        parse_float("1_0")
    with pytest.raises(ValueError, match="out of range"):  # found by atheris: was an OverflowError
        parse_float("0x1p99999")


_label_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_samples = st.lists(st.tuples(st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,10}", fullmatch=True),
                              st.dictionaries(st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,6}", fullmatch=True),
                                              _label_values, max_size=3),
                              st.floats(allow_nan=False), st.one_of(st.none(), st.integers(0, 2**62))),
                    max_size=20)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@settings(max_examples=200, deadline=None)
@given(_samples)
def test_round_trip(samples: list[tuple[str, dict[str, str], float, int | None]]) -> None:
    lines = []
    for name, labels, value, stamp in samples:
        body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{body}}} {value!r}" + (f" {stamp}" if stamp is not None else ""))
    parsed = parse_text("\n".join(lines))
    assert [(s[0]["__name__"], {k: v for k, v in s[0].items() if k != "__name__"}, s[1], s[2])
            for s in parsed.samples] == [(n, lb, v, t) for n, lb, v, t in samples]


@needs_binary("prometheus", package="prometheus")
def test_same_series_and_metadata_as_prometheus(tmp_path: Path) -> None:
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=AWKWARD, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    target = AiohttpThread(app)
    job = {"job_name": "awkward", "honor_timestamps": False,
           "static_configs": [{"targets": [f"127.0.0.1:{target.port}"]}]}
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          scrape={"global": {"scrape_interval": "1s"}, "scrape_configs": [job]})
    prom_config = ("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: awkward\n"
                   f"    honor_timestamps: false\n    static_configs: [{{targets: ['127.0.0.1:{target.port}']}}]\n")
    selector = '{job="awkward", __name__!~"up|scrape_.*"}'

    async def ours() -> dict[str, Any]:
        server = Server(config)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}/api/v1/"
            async with aiohttp.ClientSession() as s:
                deadline = time.monotonic() + 30
                series: list[dict[str, str]] = []
                while time.monotonic() < deadline and not series:
                    async with s.get(base + "series", params={"match[]": selector}) as r:
                        series = (await r.json())["data"]
                    await asyncio.sleep(0.25)
                async with s.get(base + "metadata") as r:
                    metadata = (await r.json())["data"]
                async with s.get(base + "query", params={"query": selector}) as r:
                    result = (await r.json())["data"]["result"]
                    values = {tuple(sorted(x["metric"].items())): x["value"][1] for x in result}
            return {"series": series, "metadata": metadata, "values": values}
        finally:
            await server.stop()

    try:
        mine = asyncio.run(ours())
        with PrometheusPeer(tmp_path / "prom", prom_config) as prom:
            deadline = time.monotonic() + 30
            theirs: list[dict[str, str]] = []
            while time.monotonic() < deadline and len(theirs) < len(mine["series"]):
                theirs = prom.get_json("/api/v1/series", {"match[]": selector})[1]["data"]
                time.sleep(0.25)
            their_meta = prom.get_json("/api/v1/metadata")[1]["data"]
            their_values = {tuple(sorted(x["metric"].items())): x["value"][1]
                            for x in prom.get_json("/api/v1/query", {"query": selector})[1]["data"]["result"]}
    finally:
        target.close()
    key = lambda s: tuple(sorted(s.items()))  # noqa: E731
    assert sorted(map(key, mine["series"])) == sorted(map(key, theirs))
    assert mine["values"] == their_values
    for name in ("requests", "escaped", "lat_seconds"):
        assert mine["metadata"][name] == their_meta[name], name
