"""InfluxDB line protocol -> columnar samples, mapped as VictoriaMetrics maps it.

Each numeric field of a line becomes a sample of the series ``{measurement}_{field}`` (just ``{field}`` when
the measurement is empty; ``-influxMeasurementFieldSeparator`` ``_`` and ``-influxSkipSingleField`` off,
VictoriaMetrics's defaults), the line's tags become labels, and the ``db`` of the request becomes label
``db`` unless the line has a ``db`` tag. Integers (``1i``), unsigned integers (``1u``) and floats are stored
as float64, booleans as 1/0; string fields are skipped. Metric and label names are made Prometheus-compatible
(characters outside the charset become ``_``). Timestamps in the request's precision become milliseconds; a
line without one gets the server's time.

:func:`parse` tokenizes the whole body in one numba pass (``influx_kernels``), converts the numeric text in
one numpy call and builds one :class:`Labels` per distinct series (cached across requests by the raw series
key bytes), so no Python code runs per sample. Malformed lines are reported by number; the others are kept.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from tsdb.errors import InvalidArgumentError
from tsdb.ingest import influx_kernels as k
from tsdb.ingest.batch import MAX_REPORTED_ERRORS, Batch, LineError, empty_batch
from tsdb.ingest.names import label_name, metric_name
from tsdb.labels import Labels, LabelsCache

PRECISIONS_V1 = {"ns": (1, 1_000_000), "n": (1, 1_000_000), "u": (1, 1000), "us": (1, 1000), "µ": (1, 1000),
                 "µs": (1, 1000), "ms": (1, 1), "s": (1000, 1), "m": (60_000, 1), "h": (3_600_000, 1)}
"""precision -> (multiply, floor-divide) to milliseconds; /write takes all of them."""
PRECISIONS_V2 = ("ns", "us", "ms", "s")
"""The precisions of /api/v2/write."""

_ERRORS = {
    k.ERR_MEASUREMENT: "missing measurement",
    k.ERR_TAG: "tag without a key or value",
    k.ERR_NO_FIELDS: "missing fields",
    k.ERR_FIELD: "field without a key or '='",
    k.ERR_FIELD_VALUE: "invalid field value",
    k.ERR_STRING: "unterminated string field value",
    k.ERR_TIMESTAMP: "invalid timestamp",
}
_UNESCAPE = re.compile(rb"\\([,= \\])")


def precision_factor(precision: str, v2: bool = False) -> tuple[int, int]:
    """(multiply, floor-divide) turning timestamps of ``precision`` into ms; InvalidArgumentError if unknown."""
    if precision == "":
        return PRECISIONS_V1["ns"]
    if (v2 and precision not in PRECISIONS_V2) or precision not in PRECISIONS_V1:
        known = ", ".join(PRECISIONS_V2 if v2 else ("ns", "u", "ms", "s", "m", "h"))
        raise InvalidArgumentError(f"invalid precision {precision!r} (one of {known})")
    return PRECISIONS_V1[precision]


def _unescape(raw: bytes) -> str:
    return _UNESCAPE.sub(rb"\1", raw).decode("utf-8", errors="replace")


def parse(body: bytes | bytearray, now_ms: int, precision: tuple[int, int] = (1, 1_000_000), db: str = "",
          cache: LabelsCache | None = None) -> Batch:
    """Decode a line-protocol body (see the module doc); ``now_ms`` stamps lines without a timestamp."""
    data = bytes(body)
    buf = np.frombuffer(data, dtype=np.uint8)
    n = len(data)
    lines = np.empty((data.count(b"\n") + 1, k.LINE_COLUMNS), np.int64)
    bound = n // 2 + 2
    tags = np.empty((bound, k.TAG_COLUMNS), np.int64)
    fields = np.empty((bound, k.FIELD_COLUMNS), np.int64)
    numbuf = np.empty(n + 2, np.uint8)
    counts = np.zeros(4, np.int64)
    k.tokenize(buf, lines, tags, fields, numbuf, counts)
    n_lines, _, n_fields, n_num = (int(c) for c in counts)
    lines = lines[:n_lines]
    fields = fields[:n_fields]
    mult, div = precision
    value_keep = _drop_overflowing(lines, fields, mult)
    if value_keep is not None:
        fields = fields[value_keep[1]]
        n_fields = len(fields)
    bad = np.flatnonzero(lines[:, k.L_STATUS] != k.OK)
    errors = [LineError(int(lines[i, k.L_NO]), _ERRORS[int(lines[i, k.L_STATUS])])
              for i in bad[:MAX_REPORTED_ERRORS].tolist()]
    if n_fields == 0:
        batch = empty_batch()
        batch.errors, batch.bad_lines = errors, len(bad)
        return batch
    ok = lines[lines[:, k.L_STATUS] == k.OK]
    # the line of every field
    field_line = np.repeat(np.arange(len(ok)), ok[:, k.L_FIELD_COUNT])
    numeric = fields[:, k.F_KIND] != k.KIND_STRING
    skipped = int(n_fields - numeric.sum())
    values = np.array(numbuf[:n_num].tobytes().split(), dtype=np.float64) if n_num else np.empty(0, np.float64)
    if value_keep is not None:
        values = values[value_keep[0]]
    field_line = field_line[numeric]
    fields = fields[numeric]
    raw_ts = ok[:, k.L_TS]
    line_ts = np.where(ok[:, k.L_HAS_TS] == 1, raw_ts * mult // div if mult != 1 or div != 1 else raw_ts, now_ms)
    ts = line_ts[field_line]
    # series identity: (raw measurement+tags bytes, raw field key bytes); one Labels per distinct pair
    prefix = db.encode() + b"\n"
    line_keys = list(map(data.__getitem__, map(slice, ok[:, k.L_KEY_S].tolist(), ok[:, k.L_KEY_E].tolist())))
    field_keys = list(map(data.__getitem__, map(slice, fields[:, k.F_KEY_S].tolist(),
                                                fields[:, k.F_KEY_E].tolist())))
    line_ids, _ = _factorize(line_keys)
    key_ids, key_first = _factorize(field_keys)
    combined = line_ids[field_line] * max(len(key_first), 1) + key_ids
    uniq, first, series_of = np.unique(combined, return_index=True, return_inverse=True)
    n_series = len(uniq)
    series_keys = [prefix + line_keys[field_line[f]] + b"\n" + field_keys[f] for f in first.tolist()]
    found: list[Labels | None] = cache.get_many(series_keys) if cache is not None else [None] * n_series
    for s in [i for i, labels in enumerate(found) if labels is None]:
        f = int(first[s])
        line = int(field_line[f])
        labels = _labels(data, ok[line], tags, field_keys[f], db)
        found[s] = labels
        if cache is not None:
            cache.put(series_keys[s], labels)
    order = np.argsort(series_of, kind="stable")
    counts_per = np.bincount(series_of, minlength=n_series)
    offsets = np.zeros(n_series + 1, np.int64)
    np.cumsum(counts_per, out=offsets[1:])
    return Batch(found, offsets, ts[order].astype(np.int64), values[order], errors, len(bad),  # type: ignore[arg-type]
                 skipped)


def _drop_overflowing(lines: npt.NDArray[np.int64], fields: npt.NDArray[np.int64], mult: int
                      ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | None:
    """Mark lines whose timestamp overflows int64 when turned into ms (``* mult``) as invalid timestamps;
    (numeric values to keep, fields to keep) when some were, else None."""
    if mult == 1:
        return None
    ok_rows = np.flatnonzero(lines[:, k.L_STATUS] == k.OK)
    rows = lines[ok_rows]
    over = (rows[:, k.L_HAS_TS] == 1) & (np.abs(rows[:, k.L_TS]) > np.iinfo(np.int64).max // mult)
    if not over.any():
        return None
    keep = ~over[np.repeat(np.arange(len(rows)), rows[:, k.L_FIELD_COUNT])]
    lines[ok_rows[over], k.L_STATUS] = k.ERR_TIMESTAMP
    return keep[fields[:, k.F_KIND] != k.KIND_STRING], keep


def _factorize(keys: list[bytes]) -> tuple[npt.NDArray[np.int64], list[int]]:
    """(id of each key, index of each id's first key); ids in first-seen order."""
    ids = {key: i for i, key in enumerate(dict.fromkeys(keys))}  # a loop over distinct keys only
    codes = np.fromiter(map(ids.__getitem__, keys), np.int64, len(keys))
    return codes, list(ids.values())


def _labels(data: bytes, row: npt.NDArray[np.int64], tags: npt.NDArray[np.int64], field_key: bytes,
            db: str) -> Labels:
    measurement = _unescape(data[row[k.L_KEY_S]:row[k.L_MEAS_E]])
    pairs: dict[str, str] = {}
    first, count = int(row[k.L_TAG_FIRST]), int(row[k.L_TAG_COUNT])
    for ks, ke, vs, ve in tags[first:first + count].tolist():
        name = label_name(_unescape(data[ks:ke]))
        if name != "__name__":
            pairs[name] = _unescape(data[vs:ve])
    if db and "db" not in pairs:
        pairs["db"] = db
    field_name = _unescape(field_key)
    pairs["__name__"] = metric_name(f"{measurement}_{field_name}" if measurement else field_name)
    return Labels(pairs)
