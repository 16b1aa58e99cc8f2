"""``tsdb serve`` with a ``datadog:`` config section: the ``datadog`` library and an agent-style protobuf
payload in, PromQL out, and the data still there after a restart."""

from __future__ import annotations

import time
import zlib
from pathlib import Path

from tests.integration.serve import ServeProcess
from tsdb.server.pb.datadog.agent_payload_pb2 import MetricPayload


def test_serve_takes_datadog_metrics(tmp_path: Path) -> None:
    from datadog import api, initialize

    config = tmp_path / "tsdb.yml"
    config.write_text("datadog:\n  dots_to_underscores: false\n  extra_labels:\n    source: datadog\n")
    server = ServeProcess(tmp_path / "data", "--config", str(config), "--no-collect")
    try:
        initialize(api_key="key", app_key="app", api_host=server.url + "/datadog")
        now = time.time()
        assert api.Metric.send(metric="web.hits", points=[(now, 5)], host="web-1", tags=["env:prod"],
                               compress_payload=True) == {"status": "ok"}
        payload = MetricPayload()
        series = payload.series.add(metric="agent.cpu", type=MetricPayload.GAUGE, tags=["core:0"])
        series.resources.add(type="host", name="node-1")
        series.points.add(timestamp=int(now), value=0.5)
        status, _ = server.post("/api/v2/series", zlib.compress(payload.SerializeToString()),
                                {"Content-Type": "application/x-protobuf", "Content-Encoding": "deflate"})
        assert status == 202

        def query(promql: str) -> list[dict[str, object]]:
            status, body = server.get("/api/v1/query", query=promql, time=str(now))
            assert status == 200
            return body["data"]["result"]  # type: ignore[no-any-return]

        (hits,) = query('{"web.hits"}')
        assert hits["metric"] == {"__name__": "web.hits", "env": "prod", "host": "web-1", "source": "datadog"}
        assert hits["value"][1] == "5"  # type: ignore[index]
        (cpu,) = query('{"agent.cpu", host="node-1", core="0"}')
        assert cpu["value"][1] == "0.5"  # type: ignore[index]
        assert server.stop() == 0
        server.restart()
        assert len(query('{"web.hits"}')) == 1
    finally:
        server.kill()
