"""A client of one store: remote-read for samples, the HTTP API's label and series endpoints for names.

Samples come over Prometheus remote-read (``POST <url>/api/v1/read``, a snappy ``ReadRequest``) accepting
``STREAMED_XOR_CHUNKS`` first and ``SAMPLES`` second; the answer's content type says which one the store
chose. Streamed frames are checked (length, CRC32C) and their XOR chunks decoded in one numba pass; samples
never travel as JSON. Label names, label values and series come from ``/api/v1/labels``,
``/api/v1/label/<name>/values`` and ``/api/v1/series`` (``match[]``, ``start``, ``end``).

Every request is bounded by the client's timeout. Any failure (connection, status, timeout, a corrupt
answer) raises :class:`StoreUnavailableError` naming the store; credentials never appear in messages.
Thread-safe: a client holds no per-request state.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import cramjam
import numpy as np

from tsdb.config import StoreSpec
from tsdb.errors import QueryError
from tsdb.labels import Labels, Matcher, MatchType
from tsdb.server.pb.tsdb.v1 import remote_pb2 as pb
from tsdb.storage.chunks.xor import decode_chunks
from tsdb.storage.interfaces import FlatSeries, SelectHints, clip_flat
from tsdb.storage.merge import merge_samples
from tsdb.storage.remote.frames import split_frames
from tsdb.tls_client import client_ssl_context

STREAMED_CONTENT_TYPE = "application/x-streamed-protobuf"
MAX_RESPONSE_BYTES = 1 << 30
"""Largest answer read from a store (compressed or framed bytes)."""
_TIME_LIMIT_MS = 10 ** 14
"""Times beyond this (year 5138) are left out of label requests: the store's own default applies."""
_PB_TYPES = {MatchType.EQUAL: pb.LabelMatcher.EQ, MatchType.NOT_EQUAL: pb.LabelMatcher.NEQ,
             MatchType.REGEX: pb.LabelMatcher.RE, MatchType.NOT_REGEX: pb.LabelMatcher.NRE}

T = TypeVar("T")
Observer = Callable[[str, str, float], None]
"""Called after each request with (store name, outcome ``success``/``error``, seconds)."""


class StoreUnavailableError(QueryError):
    """A store failed to answer (connection, HTTP status, timeout or corrupt answer). ``store`` names it."""

    def __init__(self, store: str, reason: str) -> None:
        self.store = store
        super().__init__(f"store {store} failed: {reason}")


class StoreClient:
    """Requests to one store of ``query.stores`` (see the module docs)."""

    def __init__(self, spec: StoreSpec, timeout_s: float, observe: Observer | None = None) -> None:
        self.spec = spec
        self.timeout_s = timeout_s
        self._observe = observe
        self._headers = {"User-Agent": "tsdb-querier"}
        parts = urllib.parse.urlsplit(spec.url)
        self._base = spec.url
        user, password = (spec.basic_auth.username, spec.basic_auth.password) if spec.basic_auth else ("", "")
        if parts.username is not None:  # credentials in the URL: basic authentication, as Prometheus does
            user, password = urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
            self._base = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        self.name = spec.name or self._base
        if user:
            token = f"{user}:{password}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        elif spec.authorization is not None:
            self._headers["Authorization"] = f"{spec.authorization.type} {spec.authorization.credentials}"
        self._ssl = _ssl_context(spec) if spec.url.startswith("https://") else None

    # -- samples ---------------------------------------------------------------------------------
    def read(self, matchers: Sequence[Matcher], mint: int, maxt: int, hints: SelectHints | None = None
             ) -> FlatSeries:
        """Raw samples of the series matching ``matchers`` in ``[mint, maxt]``, sorted by labels."""
        query = pb.Query(start_timestamp_ms=mint, end_timestamp_ms=maxt,
                         matchers=[pb.LabelMatcher(type=_PB_TYPES[m.type], name=m.name, value=m.value)
                                   for m in matchers])
        if hints is not None:
            query.hints.CopyFrom(pb.ReadHints(step_ms=hints.step_ms, func=hints.func, start_ms=mint, end_ms=maxt,
                                              range_ms=hints.range_ms))
        request = pb.ReadRequest(queries=[query], accepted_response_types=[
            pb.ReadRequest.STREAMED_XOR_CHUNKS, pb.ReadRequest.SAMPLES])
        body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
        flat = self._request("/api/v1/read", body, {
            "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Read-Version": "0.1.0"}, self._decode_read)
        return clip_flat(flat, mint, maxt)

    def _decode_read(self, content_type: str, payload: bytes) -> FlatSeries:
        try:
            if content_type.startswith(STREAMED_CONTENT_TYPE):
                return decode_streamed(payload, self.name)
            return decode_samples(payload)
        except StoreUnavailableError:
            raise
        except Exception as err:  # protobuf, snappy or chunk decoding
            raise StoreUnavailableError(self.name, f"invalid remote-read answer: {err}") from err

    # -- names -----------------------------------------------------------------------------------
    def label_names(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> tuple[list[str], list[str]]:
        """(sorted label names, the store's warnings) of series matching ``matchers`` in the range."""
        return self._json_list("/api/v1/labels", matchers, mint, maxt)

    def label_values(self, name: str, matchers: Sequence[Matcher], mint: int, maxt: int
                     ) -> tuple[list[str], list[str]]:
        """(sorted values of label ``name``, the store's warnings)."""
        return self._json_list(f"/api/v1/label/{urllib.parse.quote(name, safe='')}/values", matchers, mint, maxt)

    def series(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> tuple[list[Labels], list[str]]:
        """(label sets of series matching ``matchers`` in the range, the store's warnings)."""
        data, warnings = self._json_list("/api/v1/series", matchers, mint, maxt, require_match=True)
        return [Labels(dict(item)) for item in data], warnings

    def _json_list(self, path: str, matchers: Sequence[Matcher], mint: int, maxt: int,
                   require_match: bool = False) -> tuple[list[Any], list[str]]:
        params: list[tuple[str, str]] = []
        if matchers or require_match:
            params.append(("match[]", selector_text(matchers)))
        if mint > -_TIME_LIMIT_MS:
            params.append(("start", _seconds(mint)))
        if maxt < _TIME_LIMIT_MS:
            params.append(("end", _seconds(maxt)))
        body = urllib.parse.urlencode(params).encode()
        return self._request(path, body, {"Content-Type": "application/x-www-form-urlencoded"},
                             lambda _, payload: self._decode_json(path, payload))

    def _decode_json(self, path: str, payload: bytes) -> tuple[list[Any], list[str]]:
        try:
            answer = json.loads(payload)
            data = answer["data"]
            if answer.get("status") != "success" or not isinstance(data, list):
                raise ValueError(f"status {answer.get('status')!r}")
        except (ValueError, KeyError, TypeError) as err:
            raise StoreUnavailableError(self.name, f"invalid answer from {path}: {err}") from err
        return data, [str(w) for w in answer.get("warnings") or ()]

    # -- transport -------------------------------------------------------------------------------
    def _request(self, path: str, body: bytes, headers: dict[str, str], decode: Callable[[str, bytes], T]) -> T:
        """POST ``body`` to ``path`` and ``decode(content type, answer body)`` of a 2xx answer; any failure
        as :class:`StoreUnavailableError`. Counted as a success only when decoded."""
        request = urllib.request.Request(self._base + path, data=body, method="POST",
                                         headers={**self._headers, **headers})
        started = time.monotonic()
        outcome = "error"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s, context=self._ssl) as response:
                payload = response.read(MAX_RESPONSE_BYTES + 1)
                content_type = response.headers.get("Content-Type", "")
            if len(payload) > MAX_RESPONSE_BYTES:
                raise StoreUnavailableError(self.name, f"answer larger than {MAX_RESPONSE_BYTES} bytes")
            if time.monotonic() - started > self.timeout_s:
                raise StoreUnavailableError(self.name, f"timed out after {self.timeout_s:g}s")
            answer = decode(content_type, payload)
            outcome = "success"
            return answer
        except urllib.error.HTTPError as err:
            detail = err.read(500).decode("utf-8", "replace").strip()
            raise StoreUnavailableError(self.name, f"{path} answered {err.code}: {detail}") from err
        except (TimeoutError, urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise StoreUnavailableError(self.name, f"{path}: {reason or type(err).__name__}") from err
        finally:
            if self._observe is not None:
                self._observe(self.name, outcome, time.monotonic() - started)


def _ssl_context(spec: StoreSpec) -> ssl.SSLContext:
    tls = spec.tls_config
    if tls is None:
        return client_ssl_context()
    return client_ssl_context(tls.ca_file, tls.cert_file, tls.key_file, tls.insecure_skip_verify)


def _seconds(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def selector_text(matchers: Sequence[Matcher]) -> str:
    """A PromQL selector ``{name="value",...}`` selecting what ``matchers`` select."""
    return "{" + ",".join(f"{m.name}{m.type.value}{json.dumps(m.value, ensure_ascii=False)}"
                          for m in matchers) + "}"


def decode_streamed(body: bytes, store: str) -> FlatSeries:
    """The series of a ``STREAMED_XOR_CHUNKS`` answer (one query) as columnar samples sorted by labels;
    frames continuing a series are joined. XOR chunks only (:class:`StoreUnavailableError` otherwise)."""
    labels: list[Labels] = []
    chunk_counts: list[int] = []
    datas: list[bytes] = []
    for message in split_frames(body, source=f"remote-read answer of {store}"):
        response = pb.ChunkedReadResponse.FromString(message)
        for series in response.chunked_series:
            lb = Labels({label.name: label.value for label in series.labels})
            for chunk in series.chunks:
                if chunk.type != pb.Chunk.XOR:
                    raise StoreUnavailableError(store, f"unsupported chunk encoding {chunk.type} in series {lb}")
                datas.append(chunk.data)
            if labels and labels[-1] == lb:
                chunk_counts[-1] += len(series.chunks)
            else:
                labels.append(lb)
                chunk_counts.append(len(series.chunks))
    if not datas:
        return FlatSeries([], np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(1, np.int64))
    chunk_offsets = np.zeros(len(datas) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in datas], out=chunk_offsets[1:])
    ts, values, sample_offsets = decode_chunks(np.frombuffer(b"".join(datas), dtype=np.uint8), chunk_offsets)
    series_chunks = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(chunk_counts, out=series_chunks[1:])
    return _normalise(labels, ts, values, sample_offsets[series_chunks])


def decode_samples(body: bytes) -> FlatSeries:
    """The series of a ``SAMPLES`` answer (snappy ``ReadResponse``, first query) as columnar samples."""
    response = pb.ReadResponse.FromString(bytes(cramjam.snappy.decompress_raw(body)))
    labels: list[Labels] = []
    ts_parts: list[np.ndarray] = []
    value_parts: list[np.ndarray] = []
    for result in response.results[:1]:
        for series in result.timeseries:
            labels.append(Labels({label.name: label.value for label in series.labels}))
            ts_parts.append(np.fromiter((s.timestamp for s in series.samples), np.int64, len(series.samples)))
            value_parts.append(np.fromiter((s.value for s in series.samples), np.float64, len(series.samples)))
    offsets = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in ts_parts], out=offsets[1:])
    if not labels:
        return FlatSeries([], np.zeros(0, np.int64), np.zeros(0, np.float64), offsets)
    return _normalise(labels, np.concatenate(ts_parts), np.concatenate(value_parts), offsets)


def _normalise(labels: list[Labels], ts: np.ndarray, values: np.ndarray, offsets: np.ndarray) -> FlatSeries:
    """Columnar series sorted by labels with ascending unique times, equal label sets merged and empty
    series dropped (a store is trusted to be in order; anything else is repaired, not rejected)."""
    step_ok = np.ones(len(ts), dtype=bool)
    step_ok[1:] = ts[1:] > ts[:-1]
    step_ok[offsets[:-1][offsets[:-1] < len(ts)]] = True
    in_order = all(labels[i] < labels[i + 1] for i in range(len(labels) - 1))
    counts = np.diff(offsets)
    if step_ok.all() and in_order and counts.all():
        return FlatSeries(labels, ts, values, offsets)
    merged: dict[Labels, list[tuple[np.ndarray, np.ndarray]]] = {}
    for i, lb in enumerate(labels):
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        part_ts, part_values = ts[lo:hi], values[lo:hi]
        if len(part_ts) > 1 and not (part_ts[1:] > part_ts[:-1]).all():
            order = np.argsort(part_ts, kind="stable")
            part_ts, part_values = part_ts[order], part_values[order]
            keep = np.ones(len(part_ts), dtype=bool)
            keep[1:] = part_ts[1:] != part_ts[:-1]
            part_ts, part_values = part_ts[keep], part_values[keep]
        merged.setdefault(lb, []).append((part_ts, part_values))
    return FlatSeries.from_series(_Plain(lb, merge_samples(parts)) for lb, parts in sorted(merged.items()))


class _Plain:
    __slots__ = ("_samples", "labels")

    def __init__(self, labels: Labels, samples: tuple[np.ndarray, np.ndarray]) -> None:
        self.labels = labels
        self._samples = samples

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        return self._samples
