"""The server's global view: built only with stores, its store metrics, warnings in the HTTP answers."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from tests.server.test_remote_read import ReadApi
from tests.storage.remote.store_server import StoreServer, memory_store
from tsdb.config import QueryOptions
from tsdb.server.global_view import global_queryable


def test_built_only_with_stores_and_counts_requests() -> None:
    store = memory_store(({"__name__": "up", "job": "a"}, [0, 15_000], [1.0, 1.0]))
    assert global_queryable(store, QueryOptions(), CollectorRegistry()) is None
    server = StoreServer(memory_store(({"__name__": "up", "job": "b"}, [0, 15_000], [1.0, 0.0])))
    registry = CollectorRegistry()
    view = global_queryable(store, QueryOptions(stores=(server.url, "http://127.0.0.1:1"),  # type: ignore[arg-type]
                                                store_timeout_ms=2000), registry)
    assert view is not None
    api = ReadApi(view)  # type: ignore[arg-type]
    try:
        status, _, body = api.request("GET", "/api/v1/query", params={"query": "up", "time": "20"})
        assert status == 200
        assert b'"job":"a"' in body and b'"job":"b"' in body
        assert b'"warnings":["partial response: store http://127.0.0.1:1 failed' in body
        status, _, body = api.request("GET", "/api/v1/series", params={"match[]": "up"})
        assert status == 200 and b'"warnings":["partial response' in body
        status, _, body = api.request("GET", "/api/v1/label/job/values")
        assert status == 200 and body.startswith(b'{"status":"success","data":["a","b"],"warnings":')
        text = generate_latest(registry).decode()
        assert f'tsdb_store_requests_total{{outcome="success",store="{server.url}"}}' in text or \
            f'tsdb_store_requests_total{{store="{server.url}",outcome="success"}}' in text
        assert 'store="http://127.0.0.1:1"' in text
    finally:
        api.close()
        view.close()
        server.close()
