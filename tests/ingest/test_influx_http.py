"""InfluxDB line protocol over HTTP with the real clients (influxdb-client for 2.x, influxdb for 1.x), read
back with PromQL through the HTTP API of a real server."""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.needs import require_module
from tests.server_thread import ServerThread
from tsdb.config import ServerConfig

T0_S = int(time.time()) - 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data = tmp_path_factory.mktemp("influx") / "data"
    with ServerThread(ServerConfig(data_dir=str(data), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0")) as st:
        yield st


def _base(server: ServerThread) -> str:
    return f"http://127.0.0.1:{server.server.http_port}"


def query(server: ServerThread, promql: str, t_s: float | None = None) -> list[dict[str, Any]]:
    params = {"query": promql, "time": str(t_s if t_s is not None else time.time())}
    with urllib.request.urlopen(f"{_base(server)}/api/v1/query?{urllib.parse.urlencode(params)}") as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def post(server: ServerThread, path: str, body: bytes, headers: dict[str, str] | None = None
         ) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{_base(server)}{path}", data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_v2_client_points_and_raw_lines_gzip(server: ServerThread) -> None:
    client_mod = require_module("influxdb_client")
    from influxdb_client.client.write_api import SYNCHRONOUS

    with client_mod.InfluxDBClient(url=_base(server), token="any", org="acme", enable_gzip=True) as client:
        write_api = client.write_api(write_options=SYNCHRONOUS)
        point = (client_mod.Point("weather").tag("city", "Oslo").tag("sensor id", "a=1")
                 .field("temp", 21.5).field("humidity", 40).field("ok", True).field("note", "sunny")
                 .time(T0_S * 1_000_000_000, client_mod.WritePrecision.NS))
        write_api.write(bucket="iot", record=point)
        write_api.write(bucket="iot", record=f"weather,city=Bergen temp=-3.25 {T0_S * 1000}",
                        write_precision=client_mod.WritePrecision.MS)
    oslo = query(server, 'weather_temp{city="Oslo"}', T0_S)
    assert oslo == [{"metric": {"__name__": "weather_temp", "city": "Oslo", "sensor_id": "a=1", "db": "iot"},
                     "value": [T0_S, "21.5"]}]
    assert query(server, "weather_humidity", T0_S)[0]["value"] == [T0_S, "40"]
    assert query(server, "weather_ok", T0_S)[0]["value"] == [T0_S, "1"]
    assert query(server, "weather_note", T0_S) == []  # string fields are skipped
    bergen = query(server, 'weather_temp{city="Bergen"}', T0_S)
    assert bergen[0]["metric"]["db"] == "iot" and bergen[0]["value"] == [T0_S, "-3.25"]


def test_v1_client_write_points(server: ServerThread) -> None:
    influxdb = require_module("influxdb")
    client = influxdb.InfluxDBClient(host="127.0.0.1", port=server.server.http_port, database="telegraf")
    try:
        assert client.ping()
        points = [{"measurement": "cpu", "tags": {"host": "web-1"}, "time": (T0_S + i) * 1000,
                   "fields": {"usage_user": 1.5 + i, "cores": 4}} for i in range(3)]
        assert client.write_points(points, time_precision="ms")
        assert client.write_points([{"measurement": "cpu", "tags": {"host": "web-2", "db": "own"},
                                     "time": T0_S, "fields": {"usage_user": 9.0}}], time_precision="s")
    finally:
        client.close()
    got = query(server, 'cpu_usage_user{host="web-1"}', T0_S + 2)
    assert got == [{"metric": {"__name__": "cpu_usage_user", "host": "web-1", "db": "telegraf"},
                    "value": [T0_S + 2, "3.5"]}]
    assert query(server, "cpu_cores", T0_S + 2)[0]["value"][1] == "4"
    own = query(server, 'cpu_usage_user{host="web-2"}', T0_S)
    assert own[0]["metric"]["db"] == "own"  # a db tag wins over the db of the request


def test_malformed_lines_answer_400_naming_them_and_keep_the_valid_ones(server: ServerThread) -> None:
    body = (f"good,k=v a=1 {T0_S}\n"
            f"bad,k=v a=nope {T0_S}\n"
            f"good,k=w a=2 {T0_S}\n"
            "nofields\n").encode()
    status, answer = post(server, "/write?db=x&precision=s", body)
    assert status == 400
    error = json.loads(answer)
    assert error["code"] == "invalid"
    assert "line 2: invalid field value" in error["message"] and "line 4: missing fields" in error["message"]
    assert "2 samples stored" in error["message"]
    assert sorted(r["metric"]["k"] for r in query(server, "good_a", T0_S)) == ["v", "w"]


@pytest.mark.parametrize(("path", "precision", "factor"), [
    ("/write", "h", 1 / 3600), ("/write", "m", 1 / 60), ("/write", "s", 1), ("/write", "ms", 1000),
    ("/write", "u", 1_000_000), ("/write", "", 1_000_000_000), ("/api/v2/write", "us", 1_000_000),
    ("/api/v2/write", "ns", 1_000_000_000), ("/api/v2/write", "s", 1)])
def test_precisions(server: ServerThread, path: str, precision: str, factor: float) -> None:
    t_s = (T0_S // 3600) * 3600  # whole hours: every precision can say it
    stamp = round(t_s * factor)
    name = f"prec_{path.count('/')}_{precision or 'default'}"
    status, answer = post(server, f"{path}?precision={precision}&db=p", f"{name} v=7 {stamp}".encode())
    assert status == 204, answer
    assert query(server, f"{name}_v", t_s)[0]["value"] == [t_s, "7"]


def test_unknown_precision_and_gzip_body(server: ServerThread) -> None:
    status, answer = post(server, "/api/v2/write?bucket=b&precision=m", b"x v=1")
    assert status == 400 and b"precision" in answer
    body = gzip.compress(f"zipped,a=b v=5 {T0_S}".encode())
    status, _ = post(server, "/write?precision=s", body, {"Content-Encoding": "gzip"})
    assert status == 204
    assert query(server, "zipped_v", T0_S) == [{"metric": {"__name__": "zipped_v", "a": "b"},
                                                "value": [T0_S, "5"]}]


def test_escaping_and_missing_timestamp(server: ServerThread) -> None:
    line = r'esc\ me\,x,tag\ key=va\,l\=ue,t2=x\ y fi\=eld=1,s="q \"x\", y=1" '
    status, answer = post(server, "/write", line.encode())
    assert status == 204, answer
    got = query(server, '{__name__="esc_me_x_fi_eld"}')
    assert got[0]["metric"] == {"__name__": "esc_me_x_fi_eld", "tag_key": "va,l=ue", "t2": "x y"}
    assert abs(got[0]["value"][0] - time.time()) < 60  # server time for a line without a timestamp


def test_ping_health_and_metrics(server: ServerThread) -> None:
    with urllib.request.urlopen(f"{_base(server)}/ping") as resp:
        assert resp.status == 204
    with urllib.request.urlopen(f"{_base(server)}/api/v2/health") as resp:
        assert json.load(resp)["status"] == "pass"
    post(server, "/write", b"m1 v=1\nbroken\n")
    with urllib.request.urlopen(f"{_base(server)}/metrics") as resp:
        text = resp.read().decode()
    assert 'tsdb_ingest_rejected_total{protocol="influx",reason="invalid_line"}' in text
    assert 'tsdb_ingest_samples_total{protocol="influx"}' in text
    assert 'tsdb_write_requests_total{code="400",protocol="influx"}' in text


def test_write_limit_answers_429(tmp_path: Path) -> None:
    from tsdb.config import IngestOptions

    config = ServerConfig(data_dir=str(tmp_path / "d"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          ingest=IngestOptions(max_inflight_bytes=10))
    with ServerThread(config) as st:
        limiter = st.server.context.backend.write_limiter  # type: ignore[union-attr]
        held = limiter.admit(5)  # another request in flight
        try:
            status, answer = post(st, "/write", b"m v=1 1\n" * 4)
        finally:
            held.release()  # type: ignore[union-attr]
        assert status == 429 and b"busy" in answer
        assert post(st, "/write", b"m v=1 1\n")[0] == 204


def test_gzip_body_inflating_past_the_byte_limit_answers_429(tmp_path: Path) -> None:
    from tsdb.config import IngestOptions

    config = ServerConfig(data_dir=str(tmp_path / "d"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          ingest=IngestOptions(max_inflight_bytes=4096))
    with ServerThread(config) as st:
        limiter = st.server.context.backend.write_limiter  # type: ignore[union-attr]
        held = limiter.admit(100)  # another request in flight
        try:
            body = gzip.compress(b"m v=1 1\n" * 2000)  # small on the wire, 16 kB inflated
            status, _ = post(st, "/write", body, {"Content-Encoding": "gzip"})
        finally:
            held.release()  # type: ignore[union-attr]
        assert status == 429
        assert post(st, "/write", body, {"Content-Encoding": "gzip"})[0] == 204  # alone it is admitted


def test_body_past_the_size_limit_answers_413(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=str(tmp_path / "d"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          max_body_bytes=1000)
    with ServerThread(config) as st:
        status, answer = post(st, "/api/v2/write?bucket=b", b"m v=1 1\n" * 200)
        assert status == 413 and b"larger than the limit" in answer


def test_v2_client_sees_the_error_naming_the_line(server: ServerThread) -> None:
    client_mod = require_module("influxdb_client")
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.rest import ApiException

    with client_mod.InfluxDBClient(url=_base(server), token="any", org="acme") as client:
        write_api = client.write_api(write_options=SYNCHRONOUS)
        with pytest.raises(ApiException) as caught:
            write_api.write(bucket="iot", record=[f"v2ok v=1 {T0_S}", "v2bad v=1 notatime"],
                            write_precision=client_mod.WritePrecision.S)
    assert caught.value.status == 400
    assert "line 2: invalid timestamp" in json.loads(caught.value.body)["message"]
    assert query(server, "v2ok_v", T0_S)[0]["value"] == [T0_S, "1"]
