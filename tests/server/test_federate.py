"""Federation (``GET /federate``): the text exposition of the latest samples, as Prometheus writes it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from tests.server.test_remote_read import ReadApi
from tsdb.labels import Labels
from tsdb.query.parser.parser import parse_matchers
from tsdb.server import federate as fed
from tsdb.storage.interfaces import STALE_NAN
from tsdb.storage.memory import MemoryStore

NOW = 10_000_000


def _store(now: int = NOW) -> MemoryStore:
    store = MemoryStore()
    store.add(Labels({"__name__": "up", "job": "x", "instance": "b:9100"}), [now - 60_000, now - 1_000], [0.0, 1.0])
    store.add(Labels({"__name__": "up", "job": "x", "instance": "a:9100"}), [now - 30_000], [1.0])
    store.add(Labels({"__name__": "cpu_seconds", "job": "x", "mode": 'i"d\\le\n'}), [now - 5_000, now + 5_000],
              [1.5e-7, 99.0])
    store.add(Labels({"__name__": "old", "job": "x"}), [now - 300_001], [1.0])  # past the lookback delta
    store.add(Labels({"__name__": "edge", "job": "x"}), [now - 300_000], [2.0])  # on it: kept, as Prometheus
    store.add(Labels({"__name__": "ended", "job": "x"}), [now - 20_000, now - 10_000], [1.0, STALE_NAN])
    store.add(Labels({"__name__": "other", "job": "y", "instance": ""}), [now - 1_000], [3.0])
    return store


def _federate(store: MemoryStore, *selectors: str, external: dict[str, str] | None = None) -> str:
    return fed.federate(store, [parse_matchers(s) for s in selectors], external or {}, 300_000, now_ms=NOW)


def test_latest_samples_grouped_by_name_with_type_lines() -> None:
    assert _federate(_store(), '{job="x"}') == (
        "# TYPE cpu_seconds untyped\n"
        'cpu_seconds{job="x",mode="i\\"d\\\\le\\n",instance=""} 1.5e-07 9995000\n'
        "# TYPE edge untyped\n"
        'edge{job="x",instance=""} 2 9700000\n'
        "# TYPE up untyped\n"
        'up{instance="a:9100",job="x"} 1 9970000\n'
        'up{instance="b:9100",job="x"} 1 9999000\n')


def test_union_of_selectors_and_external_labels() -> None:
    text = _federate(_store(), "up", '{job="y"}', '{instance="a:9100"}', external={"cluster": "eu", "job": "z"})
    assert text == (
        "# TYPE other untyped\n"
        'other{job="y",cluster="eu",instance=""} 3 9999000\n'
        "# TYPE up untyped\n"
        'up{instance="a:9100",job="x",cluster="eu"} 1 9970000\n'
        'up{instance="b:9100",job="x",cluster="eu"} 1 9999000\n')
    assert _federate(_store(), '{job="nothing"}') == ""


@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1"), (0.0, "0"), (-0.0, "-0"), (-1.0, "-1"), (0.1, "0.1"), (1e-4, "0.0001"), (1e-5, "1e-05"),
    (123456789.0, "123456789"), (1e20, "100000000000000000000"), (1e21, "1e+21"), (2.5e-300, "2.5e-300"),
    (float("inf"), "+Inf"), (float("-inf"), "-Inf"), (float("nan"), "NaN"), (1 / 3, "0.3333333333333333"),
])
def test_values_as_go_formats_them(value: float, text: str) -> None:
    assert fed.format_float(value) == text


@pytest.fixture
def api() -> Iterator[ReadApi]:
    now = int(time.time() * 1000)
    client = ReadApi(_store(now), external_labels={"cluster": "eu"})
    yield client
    client.close()


def test_endpoint(api: ReadApi) -> None:
    status, headers, body = api.request("GET", "/federate", params=[("match[]", "up"), ("match[]", "other")])
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    lines = body.decode().splitlines()
    assert (lines[0], lines[2]) == ("# TYPE other untyped", "# TYPE up untyped")
    assert [line.split(" ")[0] for line in lines[3:]] == ['up{instance="a:9100",job="x",cluster="eu"}',
                                                         'up{instance="b:9100",job="x",cluster="eu"}']


def test_missing_or_bad_match_answers_400(api: ReadApi) -> None:
    status, _, body = api.request("GET", "/federate")
    assert status == 400 and b'"match[]"' in body
    status, _, body = api.request("GET", "/federate", params=[("match[]", "up"), ("match[]", "up{job=~")])
    assert status == 400 and b"up{job=~" in body
    status, _, body = api.request("GET", "/federate", params={"match[]": '{job=~"a("}'})
    assert status == 400 and b'{job=~"a("}' in body


def test_stale_and_empty_values(api: ReadApi) -> None:
    assert np.isnan(STALE_NAN)
    status, _, body = api.request("GET", "/federate", params={"match[]": '{__name__=~"ended|other"}'})
    assert status == 200
    assert b"ended" not in body
    assert body.decode().splitlines()[1].startswith('other{job="y",cluster="eu",instance=""} 3 ')


def test_large_answers_gzip_compressed() -> None:
    now = int(time.time() * 1000)
    store = MemoryStore()
    for i in range(1000):
        store.add(Labels({"__name__": "many", "job": "x", "i": f"{i:04d}"}), [now - 1000], [float(i)])
    client = ReadApi(store)
    try:
        status, headers, body = client.request("GET", "/federate", params={"match[]": "many"},
                                               headers={"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        lines = body.decode().splitlines()  # the client decompresses
        assert len(lines) == 1001 and lines[-1].startswith('many{i="0999",job="x",instance=""} 999 ')
    finally:
        client.close()
