"""Where the REPL and ``tsdb query`` get results: a Prometheus-compatible HTTP server or an embedded DB.

Both implement :class:`QuerySource` and return :class:`tsdb.query.result.QueryResult`. The HTTP source
works against tsdb and against Prometheus itself.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol

import numpy as np

from tsdb.errors import InvalidArgumentError, QueryError, TsdbError
from tsdb.labels import Labels
from tsdb.query.result import QueryResult, ResultSeries


class QuerySource(Protocol):
    def instant(self, query: str, t_ms: int) -> QueryResult: ...

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult: ...

    def label_names(self) -> list[str]: ...

    def label_values(self, name: str) -> list[str]: ...

    def close(self) -> None: ...


def _value_float(text: str) -> float:
    return float(text.replace("Inf", "inf"))


def result_from_json(data: dict[str, Any]) -> QueryResult:
    """A Prometheus API ``data`` object -> QueryResult."""
    kind = data["resultType"]
    result = data["result"]
    if kind == "scalar":
        t, v = result
        return QueryResult("scalar", [ResultSeries(Labels(), np.array([round(t * 1000)]), np.array([_value_float(v)]))])
    if kind == "string":
        return QueryResult("string", text=result[1])
    series = []
    for item in result:
        points = [item["value"]] if kind == "vector" else item["values"]
        series.append(ResultSeries(Labels(item["metric"]), np.array([round(p[0] * 1000) for p in points], np.int64),
                                   np.array([_value_float(p[1]) for p in points], np.float64)))
    return QueryResult(kind, series)


class HttpSource:
    """Queries a Prometheus-compatible HTTP API at ``url`` (e.g. http://127.0.0.1:9201)."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _get(self, path: str, params: dict[str, str]) -> Any:
        body = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(self.url + path, data=body, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                doc = json.loads(response.read())
        except urllib.error.HTTPError as err:
            try:
                doc = json.loads(err.read())
            except ValueError:
                raise QueryError(f"{self.url}{path}: HTTP {err.code}") from err
        except (urllib.error.URLError, OSError) as err:
            raise QueryError(f"cannot reach {self.url}: {err}") from err
        if doc.get("status") != "success":
            message = doc.get("error", "unknown error")
            if doc.get("errorType") == "bad_data":
                raise InvalidArgumentError(message)
            raise QueryError(message)
        return doc["data"]

    def instant(self, query: str, t_ms: int) -> QueryResult:
        return result_from_json(self._get("/api/v1/query", {"query": query, "time": str(t_ms / 1000)}))

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        data = self._get("/api/v1/query_range", {"query": query, "start": str(start_ms / 1000),
                                                 "end": str(end_ms / 1000), "step": str(step_ms / 1000)})
        return result_from_json(data)

    def label_names(self) -> list[str]:
        return list(self._get("/api/v1/labels", {}))

    def label_values(self, name: str) -> list[str]:
        return list(self._get(f"/api/v1/label/{urllib.parse.quote(name)}/values", {}))

    def close(self) -> None:
        pass


class EmbeddedSource:
    """Queries a data directory directly (no server), through the embedded API."""

    def __init__(self, data_dir: str) -> None:
        from tsdb.embedded import open_db

        self.db = open_db(data_dir)

    def instant(self, query: str, t_ms: int) -> QueryResult:
        return self.db.query(query, t_ms)

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        return self.db.query_range(query, start_ms, end_ms, step_ms)

    def label_names(self) -> list[str]:
        return self.db.label_names()

    def label_values(self, name: str) -> list[str]:
        return self.db.label_values(name)

    def close(self) -> None:
        self.db.close()


def open_source(url: str | None, data_dir: str | None) -> QuerySource:
    """The HTTP source when ``url`` is given, else the embedded one over ``data_dir``."""
    if url:
        return HttpSource(url)
    if data_dir:
        return EmbeddedSource(data_dir)
    raise TsdbError("give --url or --data-dir")
