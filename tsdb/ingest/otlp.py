"""OTLP metrics -> Prometheus series, translated as Prometheus 3.x translates them.

:func:`decode_request` reads an ``ExportMetricsServiceRequest`` body (protobuf or OTLP's JSON mapping);
:func:`translate` turns it into columnar samples (:class:`Translation`) with Prometheus's rules:

- metric names escaped with unit and type suffixes (``UnderscoreEscapingWithSuffixes``): ``_seconds``,
  ``_bytes``, ``_per_second``..., ``_total`` for monotonic sums, ``_ratio`` for gauges of unit ``1``;
- attribute names sanitised into label names (``host.name`` -> ``host_name``, ``0x`` -> ``key_0x``,
  ``_x`` -> ``key_x``); attributes that collide after sanitising are joined with ``;``;
- ``job`` = ``service.namespace/service.name`` (or ``service.name``), ``instance`` = ``service.instance.id``;
  other resource attributes go to ``target_info`` (unless promoted), scope labels only when asked;
- gauges and sums as one series, histograms as ``_bucket{le}``/``_sum``/``_count``, summaries as
  ``{quantile}``/``_sum``/``_count``; exponential histograms are rejected (native histograms are not
  stored yet); the no-recorded-value flag gives a stale marker; exemplars are dropped; ns -> ms.

Delta sums and histograms are accumulated into cumulative series by a :class:`DeltaAccumulator` (or
rejected when none is given, as Prometheus does by default). Rejected data points are counted by reason
with a readable message, for OTLP's partial-success answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from tsdb.config import OtlpOptions
from tsdb.errors import InvalidArgumentError, InvalidLabelsError
from tsdb.ingest.otlp_names import any_value_text, format_float, label_name, metric_name, unit_name
from tsdb.labels import Labels
from tsdb.storage.interfaces import STALE_NAN
from tsdb.storage.metadata import MetricMetadata

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

SERVICE_NAME = "service.name"
SERVICE_NAMESPACE = "service.namespace"
SERVICE_INSTANCE_ID = "service.instance.id"
IDENTIFYING = (SERVICE_NAMESPACE, SERVICE_NAME, SERVICE_INSTANCE_ID)
TARGET_INFO = "target_info"

NO_RECORDED_VALUE = metrics_pb2.DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
DELTA = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE

# rejection reasons (also the reasons of the server's rejected-samples counter)
NATIVE_HISTOGRAM = "otlp_native_histogram_unsupported"
TEMPORALITY = "otlp_invalid_temporality"
INVALID_NAME = "otlp_invalid_name"
INVALID_LABEL = "otlp_invalid_label"
UNSUPPORTED = "otlp_unsupported_type"



def decode_request(body: bytes | bytearray, content_type: str) -> ExportMetricsServiceRequest:
    """Parse an (already decompressed) body of ``content_type`` (protobuf or JSON); InvalidArgumentError
    naming what is wrong otherwise. JSON follows OTLP's mapping: camelCase or snake_case field names, enums
    as numbers or names, 64-bit integers as strings or numbers; unknown fields are ignored."""
    request = ExportMetricsServiceRequest()
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(bytes(body))
        except (DecodeError, ValueError) as err:
            raise InvalidArgumentError(f"invalid ExportMetricsServiceRequest protobuf: {err}") from err
        return request
    if kind == JSON:
        try:
            json_format.Parse(bytes(body).decode("utf-8"), request, ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError, ValueError, RecursionError) as err:
            raise InvalidArgumentError(f"invalid ExportMetricsServiceRequest JSON: {err}") from err
        return request
    raise InvalidArgumentError(f"unsupported Content-Type {content_type!r}; expected {PROTOBUF} or {JSON}")


# -- delta accumulation -----------------------------------------------------------------------------------
class DeltaAccumulator:
    """Running totals of delta series (keyed by the output series' labels), so delta sums and histograms
    are stored as cumulative counters.

    A translation reads the totals and collects its new ones in a :class:`DeltaBatch`; they take effect
    only with :meth:`apply`, once the samples are stored, so an export that failed and is sent again is
    counted once. Hold :attr:`lock` from translating to applying, so that two exports of one series do not
    start from the same total. A point not newer than the series' last one is dropped. In memory: a
    restart, or passing ``max_series`` (all totals are then dropped), starts the totals again from zero,
    which queries see as a counter reset."""

    def __init__(self, max_series: int = 1_000_000) -> None:
        self.max_series = max_series
        self._totals: dict[Labels, tuple[int, float]] = {}
        self.lock = threading.Lock()

    def get(self, labels: Labels) -> tuple[int, float] | None:
        """(last timestamp in ms, total) of a series, None when unknown."""
        return self._totals.get(labels)

    def apply(self, batch: DeltaBatch) -> None:
        """Make a stored translation's totals current."""
        if len(self._totals) + len(batch.totals) > self.max_series:
            self._totals = {}
        self._totals.update(batch.totals)

    def __len__(self) -> int:
        return len(self._totals)


class DeltaBatch:
    """The totals one translation computed, on top of a :class:`DeltaAccumulator` (not yet applied)."""

    def __init__(self, accumulator: DeltaAccumulator) -> None:
        self.accumulator = accumulator
        self.totals: dict[Labels, tuple[int, float]] = {}

    def add(self, labels: Labels, ts: int, delta: float) -> float | None:
        """The cumulative value after adding ``delta`` at ``ts`` (ms); None for a point not newer than the
        last one of the series."""
        last = self.totals.get(labels) or self.accumulator.get(labels)
        if last is not None and ts <= last[0]:
            return None
        total = (last[1] if last is not None else 0.0) + delta
        self.totals[labels] = (ts, total)
        return total


def has_delta(request: ExportMetricsServiceRequest) -> bool:
    """Whether any sum or histogram of ``request`` has delta temporality (its export needs the
    accumulator's lock)."""
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                data = m.WhichOneof("data")
                if data in ("sum", "histogram", "exponential_histogram") and \
                        getattr(m, data).aggregation_temporality == DELTA:
                    return True
    return False


# -- translation ------------------------------------------------------------------------------------------
@dataclass
class Translation:
    """Translated samples: ``labels[i]`` owns ``ts``/``values`` ``offsets[i]:offsets[i+1]`` (time-ordered).

    ``rejected`` counts rejected OTLP data points by reason and ``messages`` says why (a few, readable);
    ``metadata`` has one entry per metric family; ``data_points`` counts the data points received."""

    labels: list[Labels]
    offsets: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    metadata: list[MetricMetadata] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    data_points: int = 0
    deltas: DeltaBatch | None = None
    """New totals of delta series: apply them to the accumulator once the samples are stored."""

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())

    @property
    def num_samples(self) -> int:
        return len(self.ts)


MAX_MESSAGES = 5


class _Builder:
    """Collects samples per series and rejections while one request is translated."""

    def __init__(self, delta: DeltaBatch | None) -> None:
        self.series: dict[Labels, tuple[list[int], list[float]]] = {}
        self.metadata: dict[str, MetricMetadata] = {}
        self.rejected: dict[str, int] = {}
        self.messages: list[str] = []
        self.delta = delta
        self.points = 0

    def add(self, labels: Labels, ts: int, value: float, delta: bool = False, stale: bool = False) -> None:
        if stale:
            value = STALE_NAN
        elif delta:
            assert self.delta is not None
            total = self.delta.add(labels, ts, value)
            if total is None:
                return
            value = total
        ts_list, values = self.series.setdefault(labels, ([], []))
        ts_list.append(ts)
        values.append(value)

    def reject(self, reason: str, count: int, message: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + count
        if len(self.messages) < MAX_MESSAGES and message not in self.messages:
            self.messages.append(message)

    def result(self) -> Translation:
        labels = list(self.series)
        counts = np.fromiter((len(self.series[lb][0]) for lb in labels), np.int64, len(labels))
        offsets = np.zeros(len(labels) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        ts = np.empty(int(offsets[-1]), np.int64)
        values = np.empty(int(offsets[-1]), np.float64)
        for i, lb in enumerate(labels):
            t, v = self.series[lb]
            lo, hi = int(offsets[i]), int(offsets[i + 1])
            ts[lo:hi] = t
            values[lo:hi] = v
            if hi - lo > 1 and np.any(np.diff(ts[lo:hi]) < 0):
                order = np.argsort(ts[lo:hi], kind="stable")
                ts[lo:hi] = ts[lo:hi][order]
                values[lo:hi] = values[lo:hi][order]
        return Translation(labels, offsets, ts, values, list(self.metadata.values()), self.rejected,
                           self.messages, self.points, self.delta)


@dataclass
class _Context:
    """Labels shared by the data points of one resource (and scope)."""

    job: str = ""
    instance: str = ""
    promoted: dict[str, str] = field(default_factory=dict)
    scope: dict[str, str] = field(default_factory=dict)


def _attribute_labels(attributes: Iterable[KeyValue], ignore: Sequence[str] = ("__name__",)) -> dict[str, str]:
    """Sanitised labels of attributes in sorted key order; colliding names join their values with ``;``."""
    out: dict[str, str] = {}
    for key, text in sorted((kv.key, any_value_text(kv.value)) for kv in attributes if kv.key not in ignore):
        name = label_name(key)
        if out.get(name):
            out[name] = out[name] + ";" + text
        else:
            out[name] = text
    return out


def _series_labels(attributes: Iterable[KeyValue], ctx: _Context, name: str, *extra: tuple[str, str]) -> Labels:
    base = _attribute_labels(attributes)
    for key, value in ctx.promoted.items():
        if not base.get(key):
            base[key] = value
    if ctx.job:
        base["job"] = ctx.job
    if ctx.instance:
        base["instance"] = ctx.instance
    base.update(ctx.scope)
    base.update(extra)
    base["__name__"] = name
    return Labels(base)


def _kind(metric: metrics_pb2.Metric, data: str) -> str:
    if data == "sum":
        return "counter" if metric.sum.is_monotonic else "sum"
    return {"exponential_histogram": "histogram"}.get(data, data)


def _points(metric: metrics_pb2.Metric, data: str) -> Sequence[Any]:
    return getattr(metric, data).data_points


def _metadata_type(kind: str) -> str:
    return {"counter": "counter", "sum": "gauge", "gauge": "gauge", "histogram": "histogram",
            "summary": "summary"}.get(kind, "unknown")


def translate(request: ExportMetricsServiceRequest, options: OtlpOptions | None = None,
              delta: DeltaAccumulator | None = None, lookback_delta_ms: int = 300_000) -> Translation:
    """Translate every resource, scope and metric of ``request`` (see the module docstring). Deltas are
    added to the totals of ``delta`` when given and ``options.convert_delta_to_cumulative`` (the new totals
    in ``Translation.deltas``, see :class:`DeltaAccumulator`), else rejected."""
    options = options or OtlpOptions()
    use_delta = delta is not None and options.convert_delta_to_cumulative
    out = _Builder(DeltaBatch(delta) if use_delta and delta is not None else None)
    suffixes = options.translation_strategy == "UnderscoreEscapingWithSuffixes"
    for rm in request.resource_metrics:
        attrs = {kv.key: kv.value for kv in rm.resource.attributes}
        ctx = _Context()
        if SERVICE_NAME in attrs:
            ctx.job = any_value_text(attrs[SERVICE_NAME])
            if SERVICE_NAMESPACE in attrs:
                ctx.job = any_value_text(attrs[SERVICE_NAMESPACE]) + "/" + ctx.job
        if SERVICE_INSTANCE_ID in attrs:
            ctx.instance = any_value_text(attrs[SERVICE_INSTANCE_ID])
        n_points = sum(len(_points(m, d)) for sm in rm.scope_metrics for m in sm.metrics
                       if (d := m.WhichOneof("data")) is not None)
        try:
            promote = set(options.promote_resource_attributes)
            ctx.promoted = _attribute_labels([kv for kv in rm.resource.attributes if kv.key in promote], ())
        except InvalidArgumentError as err:
            out.points += n_points
            out.reject(INVALID_LABEL, n_points, f"resource attribute: {err}")
            continue
        earliest, latest = None, None
        for sm in rm.scope_metrics:
            ctx.scope = {}
            if options.promote_scope_metadata and sm.scope.name:
                try:
                    scope = {label_name("otel_scope_" + kv.key): any_value_text(kv.value)
                             for kv in sm.scope.attributes}
                except InvalidArgumentError as err:
                    n = sum(len(_points(m, d)) for m in sm.metrics if (d := m.WhichOneof("data")) is not None)
                    out.points += n
                    out.reject(INVALID_LABEL, n, f"scope attribute: {err}")
                    continue
                scope.update(otel_scope_name=sm.scope.name, otel_scope_version=sm.scope.version,
                             otel_scope_schema_url=sm.schema_url)
                ctx.scope = scope
            for metric in sm.metrics:
                data = metric.WhichOneof("data")
                if data is None:
                    out.reject(UNSUPPORTED, 0, f"metric {metric.name!r} has no data of a supported type")
                    continue
                points = _points(metric, data)
                out.points += len(points)
                for p in points:
                    t = p.time_unix_nano
                    earliest = t if earliest is None else min(earliest, t)
                    latest = t if latest is None else max(latest, t)
                if points:
                    _metric(out, metric, data, points, ctx, suffixes)
        if earliest is not None and latest is not None:
            _target_info(out, rm, ctx, options, earliest, latest, lookback_delta_ms)
    return out.result()


def _metric(out: _Builder, metric: metrics_pb2.Metric, data: str, points: Sequence[Any], ctx: _Context,
            suffixes: bool) -> None:
    n = len(points)
    if data == "exponential_histogram":
        out.reject(NATIVE_HISTOGRAM, n, f"exponential histogram {metric.name!r}: native histograms are not "
                   "supported yet")
        return
    temporality = getattr(metric, data).aggregation_temporality if data in ("sum", "histogram") else CUMULATIVE
    is_delta = temporality == DELTA
    if temporality != CUMULATIVE and not (is_delta and out.delta is not None):
        what = "delta" if is_delta else "unspecified"
        hint = " (convert_delta_to_cumulative is off)" if is_delta else ""
        out.reject(TEMPORALITY, n, f"invalid temporality and type combination for metric {metric.name!r}: "
                   f"{what} temporality{hint}")
        return
    kind = _kind(metric, data)
    try:
        name = metric_name(metric.name, metric.unit, kind, suffixes)
    except InvalidArgumentError as err:
        out.reject(INVALID_NAME, n, str(err))
        return
    out.metadata[name] = MetricMetadata(name, _metadata_type(kind), metric.description,
                                        unit_name(metric.unit))
    for p in points:
        try:
            _point(out, data, name, p, ctx, is_delta)
        except (InvalidArgumentError, InvalidLabelsError) as err:
            out.reject(INVALID_LABEL, 1, f"metric {metric.name!r}: {err}")


def _point(out: _Builder, data: str, name: str, p: Any, ctx: _Context, is_delta: bool) -> None:
    ts = p.time_unix_nano // 1_000_000
    stale = bool(p.flags & NO_RECORDED_VALUE)
    if data in ("gauge", "sum"):
        value = float(p.as_int) if p.WhichOneof("value") == "as_int" else p.as_double
        out.add(_series_labels(p.attributes, ctx, name), ts, value, is_delta, stale)
    elif data == "histogram":
        if p.HasField("sum"):
            out.add(_series_labels(p.attributes, ctx, name + "_sum"), ts, p.sum, is_delta, stale)
        out.add(_series_labels(p.attributes, ctx, name + "_count"), ts, float(p.count), is_delta, stale)
        cumulative = 0
        for bound, count in zip(p.explicit_bounds, p.bucket_counts, strict=False):
            cumulative += count
            out.add(_series_labels(p.attributes, ctx, name + "_bucket", ("le", format_float(bound))), ts,
                    float(cumulative), is_delta, stale)
        out.add(_series_labels(p.attributes, ctx, name + "_bucket", ("le", "+Inf")), ts, float(p.count),
                is_delta, stale)
    else:  # summary
        out.add(_series_labels(p.attributes, ctx, name + "_sum"), ts, p.sum, False, stale)
        out.add(_series_labels(p.attributes, ctx, name + "_count"), ts, float(p.count), False, stale)
        for q in p.quantile_values:
            out.add(_series_labels(p.attributes, ctx, name, ("quantile", format_float(q.quantile))), ts,
                    q.value, False, stale)


def _target_info(out: _Builder, rm: metrics_pb2.ResourceMetrics, ctx: _Context, options: OtlpOptions,
                 earliest_ns: int, latest_ns: int, lookback_delta_ms: int) -> None:
    """``target_info`` of a resource with non-identifying attributes, as Prometheus writes it: value 1
    from the earliest to the latest data point of the resource, every half lookback delta."""
    attributes = rm.resource.attributes
    keys = {kv.key for kv in attributes}
    if not keys - set(IDENTIFYING):
        return
    ignore = ("__name__",) if options.keep_identifying_resource_attributes else ("__name__", *IDENTIFYING)
    try:
        base = _attribute_labels(attributes, ignore)
    except InvalidArgumentError as err:
        out.reject(INVALID_LABEL, 0, f"target_info: {err}")
        return
    if ctx.job:
        base["job"] = ctx.job
    if ctx.instance:
        base["instance"] = ctx.instance
    if not (base.get("job") or base.get("instance")):
        return
    base["__name__"] = TARGET_INFO
    labels = Labels(base)
    out.metadata.setdefault(TARGET_INFO, MetricMetadata(TARGET_INFO, "gauge", "Target metadata"))
    seen = set(out.series.get(labels, ([], []))[0])
    step_ns = max(1, lookback_delta_ms // 2) * 1_000_000
    stamps = [t // 1_000_000 for t in range(earliest_ns, latest_ns, step_ns)] + [latest_ns // 1_000_000]
    for ts in stamps:
        if ts not in seen:
            seen.add(ts)
            out.add(labels, ts, 1.0)
