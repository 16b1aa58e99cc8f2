export function matrixToColumns(result) {
  const ts = new Set();
  for (const r of result) for (const [t] of r.values) ts.add(t);
  const times = Float64Array.from([...ts].sort((a, b) => a - b));
  const idx = new Map(); times.forEach((t, i) => idx.set(t, i));
  const series = result.map((r) => { const v = new Float64Array(times.length).fill(NaN); for (const [t, x] of r.values) v[idx.get(t)] = parseFloat(x); return { labels: r.metric, values: v }; });
  return { times, series };
}
const key = (l) => JSON.stringify(Object.entries(l).sort());
export function mergeTail(ex, tail, fromMs) {
  const from = fromMs / 1000;
  const ts = new Set();
  for (const t of ex.times) if (t >= from) ts.add(t);
  for (const t of tail.times) if (t >= from) ts.add(t);
  const times = Float64Array.from([...ts].sort((a, b) => a - b));
  const idx = new Map(); times.forEach((t, i) => idx.set(t, i));
  const map = new Map();
  const put = (cols) => cols.series.forEach((s) => {
    const k = key(s.labels);
    if (!map.has(k)) map.set(k, { labels: s.labels, values: new Float64Array(times.length).fill(NaN) });
    const o = map.get(k);
    cols.times.forEach((t, i) => { const j = idx.get(t); if (j !== undefined && Number.isFinite(s.values[i])) o.values[j] = s.values[i]; });
  });
  put(ex); put(tail);
  return { times, series: [...map.values()] };
}
export function reduce(values, how) {
  const f = [...values].filter(Number.isFinite);
  switch (how) {
    case 'last': return values.length ? values[values.length - 1] : NaN;
    case 'first': return f.length ? f[0] : NaN;
    case 'mean': return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
    case 'max': return f.length ? Math.max(...f) : NaN;
    case 'min': return f.length ? Math.min(...f) : NaN;
    case 'sum': return f.reduce((a, b) => a + b, 0);
    case 'count': return f.length;
    case 'range': return f.length ? Math.max(...f) - Math.min(...f) : NaN;
    case 'delta': return f.length ? f[f.length - 1] - f[0] : NaN;
    default: return f.length ? f[f.length - 1] : NaN;
  }
}
export function stack(series, mode) {
  const n = series.length ? series[0].values.length : 0;
  const acc = new Float64Array(n);
  const tot = new Float64Array(n);
  if (mode === 'percent') series.forEach((s) => s.values.forEach((v, i) => { if (Number.isFinite(v)) tot[i] += v; }));
  return series.map((s) => ({ ...s, values: Float64Array.from(s.values, (v, i) => { if (!Number.isFinite(v)) return NaN; acc[i] += mode === 'percent' ? (tot[i] ? v / tot[i] : 0) : v; return acc[i]; }) }));
}
export function heatmapBuckets(cols) {
  const withLe = cols.series.filter((s) => s.labels.le !== undefined).map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : parseFloat(s.labels.le), values: s.values }));
  withLe.sort((a, b) => a.le - b.le);
  const counts = withLe.map((s, b) => Array.from(s.values, (v, i) => (Number.isFinite(v) ? v - (b ? (withLe[b - 1].values[i] || 0) : 0) : NaN)));
  return { times: cols.times, bounds: withLe.map((s) => s.le), counts };
}
export function toCSV(cols, names) {
  const rows = ['time,' + names.map((n) => JSON.stringify(n)).join(',')];
  cols.times.forEach((t, i) => rows.push([new Date(t * 1000).toISOString(), ...cols.series.map((s) => (Number.isFinite(s.values[i]) ? s.values[i] : ''))].join(',')));
  return rows.join('\n') + '\n';
}
