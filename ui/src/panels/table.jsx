// Table panel: instant targets give one row per series, range targets one row per series and time.
import { useState } from 'preact/hooks';
import { fmt } from './common.js';

export function tableRows(frame) {
  const labelKeys = new Set();
  for (const s of frame.series) for (const k of Object.keys(s.labels)) labelKeys.add(k);
  const keys = [...labelKeys].sort((a, b) => (a === '__name__' ? -1 : b === '__name__' ? 1 : a < b ? -1 : 1));
  const anyRange = frame.series.some((s) => !s.instant);
  const cols = [...(anyRange ? ['Time'] : []), ...keys, 'Value'];
  const rows = [];
  for (const s of frame.series) {
    if (s.instant) {
      rows.push([...(anyRange ? [null] : []), ...keys.map((k) => s.labels[k] ?? ''), s.value]);
    } else {
      for (let i = 0; i < s.values.length; i++) {
        if (!Number.isFinite(s.values[i])) continue;
        rows.push([frame.times[i] * 1000, ...keys.map((k) => s.labels[k] ?? ''), s.values[i]]);
      }
    }
  }
  return { cols, rows, anyRange };
}

export function Table({ panel, frame }) {
  const o = panel.options || {};
  const { cols, rows, anyRange } = tableRows(frame);
  const initial = (o.sortBy && o.sortBy[0]) || null;
  const [sort, setSort] = useState(() => (initial ? { col: Math.max(0, cols.indexOf(initial.displayName)), desc: !!initial.desc } : null));
  const sorted = sort && sort.col >= 0 ? [...rows].sort((a, b) => {
    const x = a[sort.col], y = b[sort.col];
    const r = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
    return sort.desc ? -r : r;
  }) : rows;
  const shown = sorted.slice(0, 2000);
  const click = (i) => setSort((s) => (s && s.col === i ? (s.desc ? null : { col: i, desc: true }) : { col: i, desc: false }));
  return (
    <div class="table-wrap">
      <table class="data-table">
        {o.showHeader !== false && (
          <thead><tr>{cols.map((c, i) => (
            <th key={c} onClick={() => click(i)} class={sort && sort.col === i ? (sort.desc ? 'desc' : 'asc') : ''}>{c}</th>
          ))}</tr></thead>
        )}
        <tbody>
          {shown.map((r, ri) => (
            <tr key={ri}>{r.map((v, i) => (
              <td key={i} class={i === r.length - 1 ? 'num' : ''}>
                {i === r.length - 1 ? fmt(panel, v) : (anyRange && i === 0 ? (v == null ? '' : new Date(v).toLocaleString()) : v)}
              </td>
            ))}</tr>
          ))}
        </tbody>
      </table>
      {sorted.length > shown.length && <div class="muted small">{sorted.length - shown.length} more rows not shown</div>}
    </div>
  );
}
