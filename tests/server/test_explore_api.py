"""``/api/v1/parse_query`` (the syntax tree as JSON) and the storage fields of ``/api/v1/status/tsdb``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.server.test_http_api import Api, api  # noqa: F401  (the fixture)
from tsdb.config import StorageOptions
from tsdb.labels import Labels
from tsdb.storage.db import DB


def test_parse_query_returns_the_tree(api: Api) -> None:  # noqa: F811
    query = 'sum by (mode) (rate(node_cpu_seconds_total{mode!="idle"}[5m])) / 2'
    status, body, _ = api.request("GET", "/api/v1/parse_query", params={"query": query})
    assert status == 200, body
    tree = body["data"]
    assert tree["type"] == "binaryExpr" and tree["op"] == "/"
    assert tree["rhs"] == {"type": "numberLiteral", "val": "2", "valueType": "scalar", "text": "2"}
    agg = tree["lhs"]
    assert (agg["type"], agg["op"], agg["grouping"], agg["without"]) == ("aggregation", "sum", ["mode"], False)
    call = agg["expr"]
    assert call["type"] == "call" and call["func"]["name"] == "rate" and call["func"]["argTypes"] == ["matrix"]
    sel = call["args"][0]
    assert sel["type"] == "matrixSelector" and sel["range"] == 300_000 and sel["name"] == "node_cpu_seconds_total"
    assert {"type": "!=", "name": "mode", "value": "idle"} in sel["matchers"]
    assert sel["text"] == 'node_cpu_seconds_total{mode!="idle"}[5m]'
    # POST form works too, as for every query endpoint
    status, body, _ = api.request("POST", "/api/v1/parse_query", data={"query": "x[5m:1m] offset 1m"})
    assert status == 200 and body["data"]["type"] == "subquery"
    assert (body["data"]["range"], body["data"]["step"], body["data"]["offset"]) == (300_000, 60_000, 60_000)


def test_parse_query_reports_syntax_errors(api: Api) -> None:  # noqa: F811
    status, body, _ = api.request("GET", "/api/v1/parse_query", params={"query": "sum(rate(x[5m])"})
    assert status == 400 and body["errorType"] == "bad_data" and "unexpected" in body["error"]
    status, body, _ = api.request("GET", "/api/v1/parse_query")
    assert status == 400 and body["errorType"] == "bad_data"


def test_status_reports_blocks_wal_and_label_pairs(tmp_path: Path) -> None:
    options = StorageOptions(block_range_ms=10_000, retention_ms=10**12, out_of_order_window_ms=0)
    with DB.open(tmp_path, options) as db:
        app = db.appender()
        for t in range(0, 60_000, 1000):
            for i in range(3):
                app.append(Labels({"__name__": "m", "job": "j", "i": str(i)}), np.array([t], np.int64),
                           np.array([1.0]))
        app.commit()
        assert db.status()["walSizeBytes"] > 0
        db.maintain()
        status = db.status()
    assert status["blocks"], status
    block = status["blocks"][0]
    assert block["minTime"] < block["maxTime"] and block["numSeries"] == 3 and block["sizeBytes"] > 0
    assert block["level"] >= 1 and block["ulid"]
    assert status["walSizeBytes"] >= 0
    pairs = {p["name"]: p["value"] for p in status["seriesCountByLabelValuePair"]}
    assert pairs["job=j"] == 3 and pairs["__name__=m"] == 3 and pairs["i=0"] == 1
    assert status["tiers"] == [] or {t["name"] for t in status["tiers"]} == {"5m", "1h"}
