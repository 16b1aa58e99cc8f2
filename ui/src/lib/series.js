// Prometheus results as columns for charts (uPlot's layout: one shared time axis, one value array per series).
// Times in this module are Unix SECONDS (as Prometheus sends them and uPlot expects); absent points are NaN.

import { seriesName } from './legend.js';

/**
 * Parses a Prometheus sample value: "1.5", "NaN", "+Inf", "-Inf", "Inf".
 * @param {string|number} s
 * @returns {number}
 */
export function parseSampleValue(s) {
  if (typeof s === 'number') return s;
  switch (s) {
    case '+Inf':
    case 'Inf':
    case '+inf':
    case 'inf':
      return Infinity;
    case '-Inf':
    case '-inf':
      return -Infinity;
    default:
      return s === null || s === undefined || s === '' ? NaN : Number(s);
  }
}

function pointsOf(s) {
  if (s.values) return s.values;
  if (s.value) return [s.value];
  return [];
}

/**
 * Aligns a Prometheus `query_range` result (matrix; an instant vector works too) on the union of its timestamps.
 * Typed arrays only, no per-point objects; points in ascending time (as Prometheus sends them) are fastest, any order works.
 * @param {{metric: Object<string,string>, values?: [number, string][], value?: [number, string]}[]} result
 * @returns {{times: Float64Array, series: {labels: Object<string,string>, values: Float64Array}[]}} times in
 *   seconds ascending; values[i] belongs to times[i], NaN where the series has no point
 */
export function matrixToColumns(result) {
  const list = result || [];
  const times = unionTimes(list);
  const n = times.length;
  const series = list.map((s) => {
    const values = new Float64Array(n).fill(NaN);
    const pts = pointsOf(s);
    let j = 0;
    for (const p of pts) {
      const t = Number(p[0]);
      if (j >= n || times[j] !== t) j = lowerBound(times, t, j < n && times[j] < t ? j : 0);
      values[j] = parseSampleValue(p[1]);
      j++;
    }
    return { labels: s.metric || {}, values };
  });
  return { times, series };
}

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

// base64 -> bytes: natively where the browser can (Uint8Array.fromBase64), else through atob
function base64Bytes(text) {
  if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(text || '');
  const bin = atob(text || '');
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

// base64 of little-endian float64s -> Float64Array
function decodeFloats(text) {
  const bytes = base64Bytes(text);
  const n = bytes.length >> 3;
  if (LITTLE_ENDIAN && bytes.byteOffset === 0 && bytes.length === n * 8) return new Float64Array(bytes.buffer, 0, n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/**
 * Columns from the server's columnar range result (`query_range` with `format=columns`): one time axis, and per
 * series the base64 of its float64 values, with the indexes where it has no point in `absent`.
 * @param {{times: number[], result: {metric: Object<string,string>, values: string, absent?: number[]}[]}} data
 * @returns {{times: Float64Array, series: {labels: Object<string,string>, values: Float64Array}[]}} as matrixToColumns
 */
export function decodeColumns(data) {
  const times = Float64Array.from((data && data.times) || []);
  const series = ((data && data.result) || []).map((s) => {
    const values = decodeFloats(s.values);
    if (values.length !== times.length) throw new Error(`a series has ${values.length} values for ${times.length} times`);
    for (const j of s.absent || []) values[j] = NaN;
    return { labels: s.metric || {}, values };
  });
  return { times, series };
}

/**
 * Several column sets on one time axis (the union of theirs); a series keeps its labels, NaN where its set has
 * no such time. Sets with equal axes are joined without copying.
 * @param {{times: Float64Array, series: {labels: object, values: Float64Array}[]}[]} sets
 * @returns {{times: Float64Array, series: {labels: object, values: Float64Array}[]}}
 */
export function joinColumns(sets) {
  const list = sets || [];
  if (!list.length) return { times: new Float64Array(0), series: [] };
  let times = list[0].times;
  for (const c of list.slice(1)) if (!equalArrays(times, c.times)) times = mergeSorted(times, c.times);
  const series = [];
  for (const c of list) {
    if (equalArrays(times, c.times)) { series.push(...c.series); continue; }
    const at = Array.from(c.times, (t) => lowerBound(times, t));
    for (const s of c.series) {
      const values = new Float64Array(times.length).fill(NaN);
      at.forEach((j, i) => { values[j] = s.values[i]; });
      series.push({ labels: s.labels, values });
    }
  }
  return { times, series };
}

// Union of the series' timestamps, ascending. Range results usually share one step-aligned axis, so the
// series are merged one by one (cheap when equal); many differing axes fall back to one sort.
function unionTimes(list) {
  let union = new Float64Array(0);
  let merges = 0;
  for (const s of list) {
    const pts = pointsOf(s);
    const ts = new Float64Array(pts.length);
    let sorted = true;
    for (let i = 0; i < pts.length; i++) {
      ts[i] = Number(pts[i][0]);
      if (i > 0 && !(ts[i] > ts[i - 1])) sorted = false;
    }
    if (!sorted || merges > 32) return sortedUnique(list);
    if (equalArrays(union, ts)) continue;
    const merged = mergeSorted(union, ts);
    if (merged.length !== union.length) merges++;
    union = merged;
  }
  return union;
}

function equalArrays(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function mergeSorted(a, b) {
  const out = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length || j < b.length) {
    let v;
    if (j >= b.length || (i < a.length && a[i] < b[j])) v = a[i++];
    else if (i >= a.length || b[j] < a[i]) v = b[j++];
    else {
      v = a[i++];
      j++;
    }
    out[k++] = v;
  }
  return out.slice(0, k);
}

function sortedUnique(list) {
  let total = 0;
  for (const s of list) total += pointsOf(s).length;
  const all = new Float64Array(total);
  let k = 0;
  for (const s of list) for (const p of pointsOf(s)) all[k++] = Number(p[0]);
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i];
  return all.slice(0, n);
}

function lowerBound(arr, t, lo = 0) {
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function key(labels) {
  return seriesName(labels);
}

/**
 * Live mode: merges a newer result (the tail) into columns. Points before `windowStartSec` are dropped; from the
 * tail's first timestamp on, the tail replaces the old data (a series missing from the tail has no points
 * there); series are matched by their labels and new series are appended; series with no point left are removed.
 * Neither input is changed.
 * @param {{times: Float64Array, series: {labels: object, values: Float64Array}[]}} columns
 * @param {{times: Float64Array, series: {labels: object, values: Float64Array}[]}} tailColumns
 * @param {number} windowStartSec Unix seconds; points with time < windowStartSec are dropped
 * @returns {{times: Float64Array, series: {labels: object, values: Float64Array}[]}}
 */
export function mergeTail(columns, tailColumns, windowStartSec) {
  const old = columns || { times: new Float64Array(0), series: [] };
  const tail = tailColumns || { times: new Float64Array(0), series: [] };
  const tailStart = tail.times.length ? tail.times[0] : Infinity;
  const from = Number.isFinite(windowStartSec) ? windowStartSec : -Infinity;
  const keepOld = [];
  for (let i = 0; i < old.times.length; i++) if (old.times[i] >= from && old.times[i] < tailStart) keepOld.push(i);
  const keepTail = [];
  for (let i = 0; i < tail.times.length; i++) if (tail.times[i] >= from) keepTail.push(i);
  const n = keepOld.length + keepTail.length;
  const times = new Float64Array(n);
  keepOld.forEach((idx, j) => (times[j] = old.times[idx]));
  keepTail.forEach((idx, j) => (times[keepOld.length + j] = tail.times[idx]));
  const byKey = new Map();
  const out = [];
  for (const s of old.series) {
    const values = new Float64Array(n).fill(NaN);
    keepOld.forEach((idx, j) => (values[j] = s.values[idx]));
    const entry = { labels: s.labels, values };
    byKey.set(key(s.labels), entry);
    out.push(entry);
  }
  for (const s of tail.series) {
    let entry = byKey.get(key(s.labels));
    if (!entry) {
      entry = { labels: s.labels, values: new Float64Array(n).fill(NaN) };
      byKey.set(key(s.labels), entry);
      out.push(entry);
    }
    keepTail.forEach((idx, j) => (entry.values[keepOld.length + j] = s.values[idx]));
  }
  return { times, series: out.filter((s) => s.values.some((v) => !Number.isNaN(v))) };
}

/** The reducers `reduce` knows, for pickers. */
export const REDUCERS = ['lastNotNull', 'last', 'firstNotNull', 'first', 'mean', 'max', 'min', 'sum', 'count', 'range', 'delta', 'diff'];

/**
 * Reduces values to one number, NaN-aware (NaN counts as a missing point, like Grafana's null):
 * lastNotNull, last (the last element even if NaN), firstNotNull, first, mean, max, min, sum (0 when empty),
 * count (number of non-NaN values), range (max - min), diff (lastNotNull - firstNotNull), delta (sum of
 * increases between consecutive values; after a decrease — a counter reset — the new value is added, as Grafana).
 * Without any non-NaN value every reducer but sum and count gives NaN.
 * @param {ArrayLike<number>} values
 * @param {string} how one of REDUCERS
 * @returns {number}
 * @throws {Error} for an unknown reducer
 */
export function reduce(values, how) {
  const v = values || [];
  const len = v.length;
  switch (how) {
    case 'last':
      return len ? v[len - 1] : NaN;
    case 'first':
      return len ? v[0] : NaN;
    case 'lastNotNull':
      for (let i = len - 1; i >= 0; i--) if (!Number.isNaN(v[i]) && v[i] !== null) return v[i];
      return NaN;
    case 'firstNotNull':
      for (let i = 0; i < len; i++) if (!Number.isNaN(v[i]) && v[i] !== null) return v[i];
      return NaN;
    default:
  }
  let count = 0;
  let sum = 0;
  let max = -Infinity;
  let min = Infinity;
  let first = NaN;
  let prev = NaN;
  let delta = 0;
  for (let i = 0; i < len; i++) {
    const x = v[i];
    if (x === null || Number.isNaN(x)) continue;
    if (count === 0) first = x;
    else delta += x >= prev ? x - prev : x;
    count++;
    sum += x;
    if (x > max) max = x;
    if (x < min) min = x;
    prev = x;
  }
  switch (how) {
    case 'count': return count;
    case 'sum': return sum;
    case 'mean': return count ? sum / count : NaN;
    case 'max': return count ? max : NaN;
    case 'min': return count ? min : NaN;
    case 'range': return count ? max - min : NaN;
    case 'diff': return count ? prev - first : NaN;
    case 'delta': return count ? delta : NaN;
    default: throw new Error(`unknown reducer: ${how}`);
  }
}

/**
 * Stacks series point by point, in the given order. 'normal': each output is the running sum of the series up to
 * it; 'percent': the running sum divided by the total of all series at that time (0..1; 0 when the total is 0);
 * anything else ('none'): copies. A NaN stays NaN in its own output and adds nothing to the later ones.
 * @param {ArrayLike<number>[]} seriesValues all of the same length
 * @param {'normal'|'percent'|'none'} mode
 * @returns {Float64Array[]}
 */
export function stack(seriesValues, mode) {
  const list = seriesValues || [];
  const out = list.map((v) => Float64Array.from(v));
  if (mode !== 'normal' && mode !== 'percent') return out;
  const n = list.reduce((m, v) => Math.max(m, v.length), 0);
  for (let t = 0; t < n; t++) {
    let total = 0;
    if (mode === 'percent') for (const v of list) if (!Number.isNaN(v[t]) && v[t] !== undefined) total += v[t];
    let acc = 0;
    for (let s = 0; s < list.length; s++) {
      const x = list[s][t];
      if (x === undefined || Number.isNaN(x)) {
        out[s][t] = NaN;
        continue;
      }
      acc += x;
      out[s][t] = mode === 'percent' ? (total === 0 ? 0 : acc / total) : acc;
    }
  }
  return out;
}

/**
 * Heatmap buckets from classic histogram series (each with an `le` label). Series with the same `le` are
 * summed (all other labels are summed over, e.g. across instances); series without `le` are ignored. The
 * cumulative counts are de-cumulated: counts[i] = cum[i] - cum[i-1] per time (NaN where either is NaN).
 * @param {{times: Float64Array, series: {labels: object, values: ArrayLike<number>}[]}
 *   | {labels: object, values: ArrayLike<number>}[]} columnsOrSeries columns from matrixToColumns, or a series list
 * @param {Float64Array} [times] the time axis when a bare series list is given
 * @returns {{times: Float64Array, bounds: Float64Array, counts: Float64Array[]}} bounds ascending upper bounds,
 *   +Inf last when present; counts[i] per bucket i, aligned with times
 */
export function heatmapBuckets(columnsOrSeries, times) {
  const list = Array.isArray(columnsOrSeries) ? columnsOrSeries : columnsOrSeries?.series || [];
  const t = Array.isArray(columnsOrSeries) ? times || new Float64Array(list[0]?.values.length || 0) : columnsOrSeries?.times || new Float64Array(0);
  const n = t.length;
  const byLe = new Map();
  for (const s of list) {
    const le = s.labels?.le;
    if (le === undefined) continue;
    const bound = parseSampleValue(le);
    if (Number.isNaN(bound)) continue;
    let acc = byLe.get(bound);
    if (!acc) {
      acc = new Float64Array(n);
      byLe.set(bound, acc);
    }
    for (let i = 0; i < n; i++) acc[i] += s.values[i];
  }
  const bounds = Float64Array.from([...byLe.keys()].sort((a, b) => a - b));
  const cum = [...bounds].map((b) => byLe.get(b));
  const counts = cum.map((c, i) => {
    if (i === 0) return Float64Array.from(c);
    const prev = cum[i - 1];
    const d = new Float64Array(n);
    for (let j = 0; j < n; j++) d[j] = c[j] - prev[j];
    return d;
  });
  return { times: Float64Array.from(t), bounds, counts };
}

function csvField(s) {
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function rfc3339(sec) {
  const iso = new Date(Math.round(sec * 1000)).toISOString();
  return iso.endsWith('.000Z') ? iso.slice(0, -5) + 'Z' : iso;
}

function num(v) {
  if (Number.isNaN(v)) return '';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * CSV of columns (RFC 4180: CRLF line ends, fields with `"` `,` or line breaks quoted, quotes doubled):
 * header `time,<name>…`, one row per time with the time in RFC 3339 UTC (`2024-01-02T03:04:05Z`, milliseconds
 * only when not whole), values as JavaScript prints them, `+Inf`/`-Inf`, empty where absent (NaN).
 * @param {{times: ArrayLike<number>, series: {labels: object, values: ArrayLike<number>}[]}} columns times in seconds
 * @param {string[]} [names] column names; default seriesName(labels)
 * @returns {string}
 */
export function toCSV(columns, names) {
  const series = columns?.series || [];
  const times = columns?.times || [];
  const header = ['time', ...series.map((s, i) => (names && names[i] !== undefined ? String(names[i]) : seriesName(s.labels)))];
  const lines = [header.map(csvField).join(',')];
  for (let i = 0; i < times.length; i++) {
    const row = [rfc3339(times[i])];
    for (const s of series) row.push(num(s.values[i]));
    lines.push(row.map(csvField).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}
