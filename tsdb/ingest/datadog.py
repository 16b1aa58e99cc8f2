"""DataDog metric submissions -> Prometheus series, mapped as VictoriaMetrics maps them.

Translations of the three payloads the DataDog agent and client libraries send:

- :func:`decode_v1_json`: ``/api/v1/series`` JSON, ``{"series": [{"metric", "points": [[ts, value]], "tags",
  "host", "device", "type", "interval"}]}``, timestamps in (fractional) seconds;
- :func:`decode_v2_json` / :func:`translate_v2_payload`: ``/api/v2/series`` JSON or the agent's ``MetricPayload``
  (parsed by the server with the classes generated from ``protos/datadog``), ``points`` of ``{"timestamp",
  "value"}`` in whole seconds, ``resources`` of ``{"type", "name"}``;
- :func:`translate_sketches`: ``/api/beta/sketches`` ``SketchPayload`` (DDSketch bins), stored as a summary:
  ``{name}{quantile="0.5"|"0.75"|"0.9"|"0.95"|"0.99"}`` estimated from the bins, ``{name}_sum`` and
  ``{name}_count``.

Mapping (docs/integrations.md, "DataDog"): the metric name as the DogStatsD listener names it (characters outside
``[a-zA-Z0-9_]`` become ``_``, a leading digit gets a ``_`` prefix; ``datadog.dots_to_underscores: false`` keeps
dots); ``host`` -> label ``host``, ``device`` -> ``device``, a v2 resource -> a label named by its type; tags
``key:value`` split at the first colon, keys sanitised like label names, a tag without a colon gets the value
``no_label_value``; several values of one key are joined with ``;``. A tag whose name is taken by those labels,
by ``datadog.extra_labels`` or ``quantile`` (sketches), or starts with ``__``, is renamed ``exported_<name>``.
Timestamps become milliseconds; the metric type, unit and interval are not stored.

A body that is not a payload at all raises :class:`InvalidArgumentError`; a malformed series, point or sketch is
skipped, counted by reason and named in :attr:`Translation.errors` (e.g. ``series[3].points[1]: value is not a
number``), and the rest of the body is kept.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.config import DatadogOptions
from tsdb.errors import InvalidArgumentError
from tsdb.ingest.names import label_name
from tsdb.labels import METRIC_NAME, Labels

NO_LABEL_VALUE = "no_label_value"
"""The value of a label made from a tag without a colon (VictoriaMetrics's choice)."""
QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
"""The quantiles a sketch is stored as."""
MAX_ERRORS = 10
"""At most this many problems are named in an answer (all are counted)."""

# rejection reasons (also the reasons of the server's rejected-samples counter)
INVALID_SERIES = "datadog_invalid_series"
INVALID_POINT = "datadog_invalid_point"
INVALID_SKETCH = "datadog_invalid_sketch"

# DDSketch key -> value mapping of the DataDog agent (pkg/quantile): relative accuracy 1/128, keys offset so
# that the smallest positive value (0.981e-9) has key 1; keys +-32767 stand for +-infinity.
_EPSILON = 1.0 / 128
GAMMA = 1 + 2 * _EPSILON
_GAMMA_LN = math.log(GAMMA)
_DEFAULT_MIN = 0.981e-9
BIAS = 1 - math.floor(math.log(_DEFAULT_MIN) / _GAMMA_LN)
_INF_KEY = 32767

_MAX_MS = 2**63 - 1
_MIN_MS = -(2**63)

_DATADOG_BAD = re.compile(r"[^a-zA-Z0-9_.]")


@dataclass
class Translation:
    """Columnar samples of one payload (the shape of a remote-write request), what was skipped by reason,
    and the first :data:`MAX_ERRORS` problems, each naming its part of the payload."""

    labels: list[Labels]
    offsets: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    rejected: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def num_samples(self) -> int:
        return len(self.ts)

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())


class _Builder:
    """Collects samples per label set (a series sent twice in one body is stored as one)."""

    def __init__(self, options: DatadogOptions) -> None:
        self.options = options
        self.series: dict[Labels, tuple[list[int], list[float]]] = {}
        self.rejected: dict[str, int] = {}
        self.errors: list[str] = []

    def reject(self, reason: str, count: int, where: str, problem: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + count
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"{where}: {problem}")

    def add(self, labels: Labels, ts: int, value: float) -> None:
        samples = self.series.get(labels)
        if samples is None:
            samples = self.series[labels] = ([], [])
        samples[0].append(ts)
        samples[1].append(value)

    def labels(self, metric: str, own: Mapping[str, str], tags: Iterable[str],
               reserved: Iterable[str] = ()) -> Labels:
        """The label set of a series: ``own`` labels (host, device, resources) and the extra labels win over
        tags of the same name (renamed ``exported_<name>``)."""
        merged = {**self.options.extra_labels, **{k: v for k, v in own.items() if v}}
        taken = set(merged) | set(reserved)
        from_tags: dict[str, list[str]] = {}
        for tag in tags:
            key, sep, value = tag.partition(":")
            name = label_name(key) if key else ""
            if not name:
                continue
            if name in taken or name.startswith("__"):
                name = "exported_" + name
            values = from_tags.setdefault(name, [])
            text = value if sep else NO_LABEL_VALUE
            if text not in values:
                values.append(text)
        for name, values in from_tags.items():
            merged[name] = ";".join(sorted(values))
        merged[METRIC_NAME] = metric
        labels = Labels(merged)
        try:
            labels.encode()
        except UnicodeEncodeError:  # JSON's "\ud800": a lone surrogate
            raise _MalformedError("", "the metric name, a tag or a resource is not valid UTF-8") from None
        return labels

    def metric_name(self, name: str) -> str:
        if self.options.dots_to_underscores:
            return label_name(name)
        out = _DATADOG_BAD.sub("_", name)
        return "_" + out if out[:1].isdigit() else out

    def build(self) -> Translation:
        for key, (times, samples) in self.series.items():
            if any(a > b for a, b in itertools.pairwise(times)):  # storage takes each series in time order
                pairs = sorted(zip(times, samples, strict=True), key=lambda pair: pair[0])
                self.series[key] = ([t for t, _ in pairs], [v for _, v in pairs])
        labels = list(self.series)
        counts = [len(ts) for ts, _ in self.series.values()]
        offsets = np.zeros(len(labels) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        ts = np.fromiter((t for series_ts, _ in self.series.values() for t in series_ts), np.int64,
                         int(offsets[-1]))
        values = np.fromiter((v for _, series_values in self.series.values() for v in series_values), np.float64,
                             int(offsets[-1]))
        return Translation(labels, offsets, ts, values, self.rejected, self.errors)


# -- JSON ---------------------------------------------------------------------------------------------
def _load_json(body: bytes | bytearray) -> list[Any]:
    """The ``series`` list of a JSON body; InvalidArgumentError when the body is not such an object."""
    try:
        doc = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise InvalidArgumentError(f"invalid JSON body: {err}") from err
    if not isinstance(doc, dict):
        raise InvalidArgumentError(f"expected a JSON object with a \"series\" list, got {type(doc).__name__}")
    series = doc.get("series")
    if not isinstance(series, list):
        raise InvalidArgumentError("expected a JSON object with a \"series\" list")
    return series


class _MalformedError(Exception):
    """A malformed part of a series: ``args`` are (part, problem); part "" for the series as a whole."""


def _part(where: str, part: str) -> str:
    return f"{where}.{part}" if part else where


def _timestamp_ms(value: Any) -> int | None:
    """Seconds (a JSON number) as milliseconds; None when not a number or outside the storable range."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        ms = round(value * 1000)
    except (OverflowError, ValueError):  # inf, nan
        return None
    return ms if _MIN_MS <= ms <= _MAX_MS else None


def _value(value: Any) -> float | None:
    """A JSON number as a float; None when not a number (or too large for a float)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _json_tags(item: dict[str, Any]) -> list[str]:
    """The tags of a JSON series; _MalformedError(part, problem) when malformed."""
    tags = item.get("tags")
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _MalformedError("tags", "expected a list of strings")
    return tags


def _json_string(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _MalformedError(key, "expected a string")
    return value


def _series_head(builder: _Builder, item: Any, where: str, points_key: str = "points"
                 ) -> tuple[str, list[Any]] | None:
    """(metric name, points) of a JSON series, None (rejected, counted) when malformed."""
    if not isinstance(item, dict):
        builder.reject(INVALID_SERIES, 1, where, "expected an object")
        return None
    points = item.get(points_key)
    count = len(points) if isinstance(points, list) else 1
    metric = item.get("metric")
    if not isinstance(metric, str) or not metric.strip():
        builder.reject(INVALID_SERIES, count, f"{where}.metric", "missing or not a non-empty string")
        return None
    if not isinstance(points, list):
        builder.reject(INVALID_SERIES, 1, f"{where}.{points_key}", "expected a list")
        return None
    return builder.metric_name(metric.strip()), points


def decode_v1_json(body: bytes | bytearray, options: DatadogOptions) -> Translation:
    """Translate a ``/api/v1/series`` JSON body (already decompressed)."""
    builder = _Builder(options)
    for i, item in enumerate(_load_json(body)):
        where = f"series[{i}]"
        head = _series_head(builder, item, where)
        if head is None:
            continue
        name, points = head
        try:
            labels = builder.labels(name, {"host": _json_string(item, "host"),
                                           "device": _json_string(item, "device")},
                                    _json_tags(item))
        except _MalformedError as err:
            builder.reject(INVALID_SERIES, max(1, len(points)), _part(where, err.args[0]), err.args[1])
            continue
        for j, point in enumerate(points):
            at = f"{where}.points[{j}]"
            if not isinstance(point, list) or len(point) != 2:
                builder.reject(INVALID_POINT, 1, at, "expected [timestamp, value]")
                continue
            ts, value = _timestamp_ms(point[0]), _value(point[1])
            if ts is None:
                builder.reject(INVALID_POINT, 1, at, "timestamp is not a number of seconds")
            elif value is None:
                builder.reject(INVALID_POINT, 1, at, "value is not a number")
            else:
                builder.add(labels, ts, value)
    return builder.build()


def _resources(resources: Iterable[tuple[str, str]]) -> dict[str, str]:
    own: dict[str, str] = {}
    for kind, name in resources:
        key = label_name(kind) if kind else ""
        if key and name and not key.startswith("__"):
            own[key] = name
    return own


def decode_v2_json(body: bytes | bytearray, options: DatadogOptions) -> Translation:
    """Translate a ``/api/v2/series`` JSON body (already decompressed)."""
    builder = _Builder(options)
    for i, item in enumerate(_load_json(body)):
        where = f"series[{i}]"
        head = _series_head(builder, item, where)
        if head is None:
            continue
        name, points = head
        try:
            resources = item.get("resources") or []
            if not isinstance(resources, list) or not all(
                    isinstance(r, dict) and isinstance(r.get("type", ""), str) and isinstance(r.get("name", ""), str)
                    for r in resources):
                raise _MalformedError("resources", "expected a list of {\"type\", \"name\"} strings")
            own = _resources((r.get("type", ""), r.get("name", "")) for r in resources)
            labels = builder.labels(name, own, _json_tags(item))
        except _MalformedError as err:
            builder.reject(INVALID_SERIES, max(1, len(points)), _part(where, err.args[0]), err.args[1])
            continue
        for j, point in enumerate(points):
            at = f"{where}.points[{j}]"
            if not isinstance(point, dict):
                builder.reject(INVALID_POINT, 1, at, "expected {\"timestamp\", \"value\"}")
                continue
            ts, value = _timestamp_ms(point.get("timestamp")), _value(point.get("value"))
            if ts is None:
                builder.reject(INVALID_POINT, 1, at, "timestamp is not a number of seconds")
            elif value is None:
                builder.reject(INVALID_POINT, 1, at, "value is not a number")
            else:
                builder.add(labels, ts, value)
    return builder.build()


# -- protobuf -----------------------------------------------------------------------------------------
def translate_v2_payload(payload: Any, options: DatadogOptions) -> Translation:
    """Translate the agent's parsed ``MetricPayload`` (``/api/v2/series`` as ``application/x-protobuf``)."""
    builder = _Builder(options)
    for i, series in enumerate(payload.series):
        where = f"series[{i}]"
        if not series.metric.strip():
            builder.reject(INVALID_SERIES, max(1, len(series.points)), f"{where}.metric", "missing")
            continue
        labels = builder.labels(builder.metric_name(series.metric.strip()),
                                _resources((r.type, r.name) for r in series.resources), series.tags)
        for j, point in enumerate(series.points):
            ts = _timestamp_ms(point.timestamp)
            if ts is None:
                builder.reject(INVALID_POINT, 1, f"{where}.points[{j}]", "timestamp out of range")
            else:
                builder.add(labels, ts, point.value)
    return builder.build()


def sketch_key_value(key: int) -> float:
    """The lower bound of the DDSketch bin ``key`` (negative keys mirror positive ones)."""
    if key < 0:
        return -sketch_key_value(-key)
    if key == 0:
        return 0.0
    if key >= _INF_KEY:
        return math.inf
    return float(GAMMA ** (key - BIAS))


def sketch_quantile(q: float, count: int, minimum: float, maximum: float, keys: list[int], counts: list[int]
                    ) -> float:
    """The ``q`` quantile of a DDSketch, interpolated within the bin holding its rank (VictoriaMetrics's
    estimate), kept within ``[minimum, maximum]``: the first bin starts at ``minimum``; past the last bin it is
    ``maximum``."""
    if count <= 0:
        return 0.0
    if q <= 0:
        return minimum
    if q >= 1:
        return maximum
    rank = q * (count - 1)
    seen = 0.0
    for i, n in enumerate(counts):
        seen += n
        if seen <= rank:
            continue
        weight = (seen - rank) / n
        low = sketch_key_value(keys[i])
        high = low * GAMMA
        if i == 0:
            low = minimum
        return min(max(low * weight + high * (1 - weight), minimum), maximum)
    return maximum


def translate_sketches(payload: Any, options: DatadogOptions) -> Translation:
    """Translate a parsed ``SketchPayload`` (``/api/beta/sketches``) into summaries."""
    builder = _Builder(options)
    per_sketch = len(QUANTILES) + 2
    for i, sketch in enumerate(payload.sketches):
        where = f"sketches[{i}]"
        if not sketch.metric.strip():
            builder.reject(INVALID_SKETCH, per_sketch * max(1, len(sketch.dogsketches)), f"{where}.metric",
                           "missing")
            continue
        name = builder.metric_name(sketch.metric.strip())
        own = {"host": sketch.host}
        summary = [builder.labels(name, {**own, "quantile": _quantile_text(q)}, sketch.tags) for q in QUANTILES]
        total = builder.labels(name + "_sum", own, sketch.tags, reserved=("quantile",))
        count = builder.labels(name + "_count", own, sketch.tags, reserved=("quantile",))
        for j, dog in enumerate(sketch.dogsketches):
            keys, counts = list(dog.k), list(dog.n)
            if len(keys) != len(counts):
                builder.reject(INVALID_SKETCH, per_sketch, f"{where}.dogsketches[{j}]",
                               f"{len(keys)} keys but {len(counts)} counts")
                continue
            ts = _timestamp_ms(dog.ts)
            if ts is None:
                builder.reject(INVALID_SKETCH, per_sketch, f"{where}.dogsketches[{j}]", "ts out of range")
                continue
            for labels, q in zip(summary, QUANTILES, strict=True):
                builder.add(labels, ts, sketch_quantile(q, dog.cnt, dog.min, dog.max, keys, counts))
            builder.add(total, ts, dog.sum)
            builder.add(count, ts, float(dog.cnt))
    return builder.build()


def _quantile_text(q: float) -> str:
    return f"{q:g}"
