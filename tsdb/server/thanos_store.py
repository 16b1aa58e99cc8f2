"""The Thanos StoreAPI on the gRPC port: ``thanos.Store/Series``, ``LabelNames``, ``LabelValues`` and
``thanos.info.Info/Info`` (protos/thanos/, wire-compatible with Thanos's own), so Thanos Query can use a
tsdb node as a store endpoint with no sidecar.

- ``Series`` streams one ``SeriesResponse`` per series, sorted by labels (external labels included), each
  holding all of the series' raw samples in ``[min_time, max_time]`` as XOR chunks (``AggrChunk.raw``, cut
  as the head cuts them); ``skip_chunks`` sends labels only. Requested aggregates are ignored: tsdb serves
  raw data, as a Prometheus sidecar does.
- Matchers on an external label's name are evaluated against the external value, as Thanos stores do: one
  that does not match empties the answer, one that does is dropped. The others select stored series.
- ``Info`` answers the external labels as the one label set, component type ``store``, and the raw time
  range held (``min_time`` the oldest raw sample, ``max_time`` int64 max since the node keeps receiving).

Bad requests (``min_time`` after ``max_time``, an unknown matcher type, a bad regex) end with
``INVALID_ARGUMENT`` naming the part; query limits ``RESOURCE_EXHAUSTED``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import numpy as np

from tsdb.errors import InvalidArgumentError, InvalidMatcherError, QueryLimitError
from tsdb.labels import Labels, Matcher, MatchType
from tsdb.server.params import MAX_TIME_MS, MIN_TIME_MS
from tsdb.server.pb.thanos.info.infopb import rpc_pb2 as info_pb
from tsdb.server.pb.thanos.store.labelpb import types_pb2 as label_pb
from tsdb.server.pb.thanos.store.storepb import rpc_pb2 as store_pb
from tsdb.server.pb.thanos.store.storepb import types_pb2 as types_pb
from tsdb.server.pb.tsdb.v1 import remote_pb2
from tsdb.server.remote_read import ReadLimits, select
from tsdb.storage.chunks.xor import chunk_offsets_many, encode_chunks
from tsdb.storage.interfaces import FlatSeries, Queryable

STORE_SERVICE = "thanos.Store"
INFO_SERVICE = "thanos.info.Info"
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

_MATCH_TYPES = {types_pb.LabelMatcher.EQ: MatchType.EQUAL, types_pb.LabelMatcher.NEQ: MatchType.NOT_EQUAL,
                types_pb.LabelMatcher.RE: MatchType.REGEX, types_pb.LabelMatcher.NRE: MatchType.NOT_REGEX}

TimeRange = Callable[[], tuple[int, int]]
"""Oldest and newest raw sample time held (ms); ``(INT64_MAX, INT64_MIN)`` when empty."""


def store_matchers(matchers: Sequence[types_pb.LabelMatcher], external: Mapping[str, str]
                   ) -> list[Matcher] | None:
    """The matchers to select stored series with, or None when one on an external label rules the node out;
    :class:`InvalidArgumentError` names a bad matcher."""
    out: list[Matcher] = []
    for index, m in enumerate(matchers):
        kind = _MATCH_TYPES.get(m.type)
        if kind is None:
            raise InvalidArgumentError(f"matcher {index} on label {m.name!r} has unknown type {m.type}")
        try:
            matcher = Matcher(kind, m.name, m.value)
        except InvalidMatcherError as err:
            raise InvalidArgumentError(f"matcher {index}: bad matcher {m.name}{kind.value}{m.value!r}: {err}"
                                       ) from err
        if m.name in external:
            if not matcher.matches(external[m.name]):
                return None
            continue
        out.append(matcher)
    return out


def _labels_pb(labels: Labels, external: Mapping[str, str]) -> list[label_pb.Label]:
    """``labels`` plus the external labels it lacks, sorted by name (the series' own value wins)."""
    merged = dict(external)
    merged.update(labels.items())
    return [label_pb.Label(name=n, value=merged[n]) for n in sorted(merged)]


def series_responses(flat: FlatSeries, external: Mapping[str, str], skip_chunks: bool
                     ) -> list[store_pb.SeriesResponse]:
    """One ``SeriesResponse`` per series of ``flat`` (sorted by their labels with the external ones), raw
    XOR chunks unless ``skip_chunks``."""
    pb_labels = [_labels_pb(labels, external) for labels in flat.labels]
    order = sorted(range(len(pb_labels)), key=lambda i: [(lb.name, lb.value) for lb in pb_labels[i]])
    if skip_chunks or not flat.labels:
        return [store_pb.SeriesResponse(series=types_pb.Series(labels=pb_labels[i])) for i in order]
    sample_offsets = chunk_offsets_many(flat.ts, flat.values, flat.offsets)
    payload, byte_offsets = encode_chunks(flat.ts, flat.values, sample_offsets)
    data, ts = payload.tobytes(), flat.ts
    starts, ends, bounds = sample_offsets[:-1].tolist(), sample_offsets[1:].tolist(), byte_offsets.tolist()
    first_chunk = np.searchsorted(sample_offsets[:-1], flat.offsets).tolist()
    out: list[store_pb.SeriesResponse] = []
    for i in order:
        chunks = [types_pb.AggrChunk(min_time=int(ts[starts[c]]), max_time=int(ts[ends[c] - 1]),
                                     raw=types_pb.Chunk(type=types_pb.Chunk.XOR, data=data[bounds[c]:bounds[c + 1]]))
                  for c in range(first_chunk[i], first_chunk[i + 1])]
        out.append(store_pb.SeriesResponse(series=types_pb.Series(labels=pb_labels[i], chunks=chunks)))
    return out


def _span(start: int, end: int) -> tuple[int, int]:
    """A label request's range: both 0 (unset) means everything."""
    if start == 0 and end == 0:
        return MIN_TIME_MS, MAX_TIME_MS
    if start > end:
        raise InvalidArgumentError(f"start ({start}) is after end ({end})")
    return start, end


class ThanosStore:
    """Handlers of ``thanos.Store`` and ``thanos.info.Info`` over one queryable.

    ``external_labels`` is read on every request, so a reload takes effect at once."""

    def __init__(self, queryable: Queryable, executor: ThreadPoolExecutor,
                 external_labels: Callable[[], Mapping[str, str]], time_range: TimeRange,
                 limits: ReadLimits | None = None) -> None:
        self.queryable = queryable
        self.executor = executor
        self.external_labels = external_labels
        self.time_range = time_range
        self.limits = limits or ReadLimits()

    async def _run(self, context: grpc.aio.ServicerContext, func: Callable[..., Any], *args: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)
        except (InvalidArgumentError, ValueError) as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        except QueryLimitError as err:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(err))
        except Exception as err:
            await context.abort(grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}")

    def _series(self, request: store_pb.SeriesRequest) -> list[store_pb.SeriesResponse]:
        if request.min_time > request.max_time:
            raise InvalidArgumentError(f"min_time ({request.min_time}) is after max_time ({request.max_time})")
        external = dict(self.external_labels())
        matchers = store_matchers(request.matchers, external)
        if matchers is None:
            return []
        query = remote_pb2.Query(start_timestamp_ms=max(request.min_time, MIN_TIME_MS),
                                 end_timestamp_ms=min(request.max_time, MAX_TIME_MS))
        flat = select(self.queryable, query, matchers, self.limits)
        return series_responses(flat, external, request.skip_chunks)

    async def series(self, request: store_pb.SeriesRequest, context: grpc.aio.ServicerContext
                     ) -> AsyncIterator[store_pb.SeriesResponse]:
        for response in await self._run(context, self._series, request):
            yield response

    def _label_names(self, request: store_pb.LabelNamesRequest) -> list[str]:
        external = dict(self.external_labels())
        mint, maxt = _span(request.start, request.end)
        matchers = store_matchers(request.matchers, external)
        if matchers is None:
            return []
        querier = self.queryable.querier(mint, maxt)
        try:
            names = set(querier.label_names(matchers))
        finally:
            querier.close()
        names.update(external)
        out = sorted(names)
        return out[:request.limit] if request.limit > 0 else out

    async def label_names(self, request: store_pb.LabelNamesRequest, context: grpc.aio.ServicerContext
                          ) -> store_pb.LabelNamesResponse:
        return store_pb.LabelNamesResponse(names=await self._run(context, self._label_names, request))

    def _label_values(self, request: store_pb.LabelValuesRequest) -> list[str]:
        if not request.label:
            raise InvalidArgumentError("label: a label name is required")
        external = dict(self.external_labels())
        mint, maxt = _span(request.start, request.end)
        matchers = store_matchers(request.matchers, external)
        if matchers is None:
            return []
        if request.label in external:
            return [external[request.label]]
        querier = self.queryable.querier(mint, maxt)
        try:
            values = sorted(set(querier.label_values(request.label, matchers)))
        finally:
            querier.close()
        return values[:request.limit] if request.limit > 0 else values

    async def label_values(self, request: store_pb.LabelValuesRequest, context: grpc.aio.ServicerContext
                           ) -> store_pb.LabelValuesResponse:
        return store_pb.LabelValuesResponse(values=await self._run(context, self._label_values, request))

    async def info(self, request: info_pb.InfoRequest, context: grpc.aio.ServicerContext
                   ) -> info_pb.InfoResponse:
        external = self.external_labels()
        label_sets = [label_pb.ZLabelSet(labels=_labels_pb(Labels({}), external))] if external else []
        mint, _ = self.time_range()
        return info_pb.InfoResponse(label_sets=label_sets, ComponentType="store",
                                    store=info_pb.StoreInfo(min_time=mint if mint != INT64_MAX else INT64_MIN,
                                                            max_time=INT64_MAX))

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        """The generic handlers of both services, for ``grpc.aio.Server.add_generic_rpc_handlers``."""
        store = {
            "Series": grpc.unary_stream_rpc_method_handler(
                self.series, store_pb.SeriesRequest.FromString, store_pb.SeriesResponse.SerializeToString),
            "LabelNames": grpc.unary_unary_rpc_method_handler(
                self.label_names, store_pb.LabelNamesRequest.FromString,
                store_pb.LabelNamesResponse.SerializeToString),
            "LabelValues": grpc.unary_unary_rpc_method_handler(
                self.label_values, store_pb.LabelValuesRequest.FromString,
                store_pb.LabelValuesResponse.SerializeToString),
        }
        info = {"Info": grpc.unary_unary_rpc_method_handler(
            self.info, info_pb.InfoRequest.FromString, info_pb.InfoResponse.SerializeToString)}
        return [grpc.method_handlers_generic_handler(STORE_SERVICE, store),
                grpc.method_handlers_generic_handler(INFO_SERVICE, info)]


def raw_time_range(db: Any) -> tuple[int, int]:
    """Oldest and newest raw sample time of a :class:`tsdb.storage.db.DB` (its blocks and head)."""
    mints = [b.meta.min_time for b in db.blocks]
    maxts = [b.meta.max_time for b in db.blocks]
    if db.head.min_time <= db.head.max_time:
        mints.append(db.head.min_time)
        maxts.append(db.head.max_time)
    return (min(mints), max(maxts)) if mints else (INT64_MAX, INT64_MIN)
