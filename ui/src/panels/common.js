// Shared functions for the panel renderers.
import { formatValue } from '../lib/units.js';
import { namedColor as libNamedColor, palette, activeStep, withAlpha } from '../lib/thresholds.js';

export { withAlpha };

export function theme() {
  return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function namedColor(name) { return libNamedColor(name, theme()); }

export function fc(panel) { return panel.fieldConfig || {}; }

export function fmt(panel, v) {
  const f = fc(panel);
  if (v == null || Number.isNaN(v)) return '–';
  try {
    return formatValue(v, f.unit || 'short', f.decimals ?? null);
  } catch {
    return String(v);
  }
}

export function seriesColor(panel, i) {
  const f = fc(panel);
  const c = f.color || {};
  if (c.mode === 'fixed' && c.fixedColor) return namedColor(c.fixedColor);
  return palette(i);
}

export function thresholdColor(panel, v, min, max) {
  const f = fc(panel);
  const th = f.thresholds || { mode: 'absolute', steps: [{ value: null, color: 'green' }] };
  try {
    const step = activeStep(v, th, min ?? f.min ?? 0, max ?? f.max ?? 100);
    return namedColor(step ? step.color : 'green');
  } catch { return namedColor('green'); }
}

export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

export function useSize(ref, cb) {
  // Observe an element's size; cb(width, height).
  const ro = new ResizeObserver((entries) => {
    const r = entries[0].contentRect;
    cb(Math.floor(r.width), Math.floor(r.height));
  });
  ro.observe(ref);
  return () => ro.disconnect();
}

// uPlot axis settings: width fitted to the tick labels; binary (1024-based) tick steps for IEC units.
let measureCtx = null;
export const AXIS_FONT = '11px system-ui, sans-serif';
export function axisSize(u, values, axisIdx, cycleNum) {
  if (!values || !values.length) return 40;
  if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
  measureCtx.font = AXIS_FONT;
  let w = 0;
  for (const v of values) w = Math.max(w, measureCtx.measureText(String(v)).width);
  const size = Math.ceil(w) + 14;
  // uPlot re-runs the layout while sizes change; keep the first answer from growing forever
  return cycleNum > 1 ? Math.max(size, (u.axes[axisIdx]._size || 0)) : size;
}

const BINARY_UNITS = new Set(['bytes', 'bits', 'binBps', 'binbps', 'kbytes', 'mbytes', 'gbytes', 'tbytes', 'pbytes']);
const BIN_INCRS = [];
for (let p = 0; p <= 6; p++) for (const m of [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]) BIN_INCRS.push(m * 1024 ** p);
const DEC_INCRS = [];
for (let e = -9; e <= 15; e++) for (const m of [1, 2, 2.5, 5]) DEC_INCRS.push(+(m * 10 ** e).toPrecision(3));
const SEC_INCRS = [1e-9, 2e-9, 5e-9, 1e-8, 2e-8, 5e-8, 1e-7, 2e-7, 5e-7, 1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4,
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
  21600, 43200, 86400, 172800, 604800, 1209600, 2592000, 7776000, 31536000];
const TIME_BASE = { s: 1, ms: 1e-3, 'µs': 1e-6, us: 1e-6, ns: 1e-9, m: 60, h: 3600, d: 86400, dtdurations: 1, dtdurationms: 1e-3 };
const timeIncrs = new Map();
export function axisIncrs(unit) {
  if (BINARY_UNITS.has(unit)) return BIN_INCRS;
  const base = TIME_BASE[unit];
  if (base) {
    if (!timeIncrs.has(unit)) timeIncrs.set(unit, SEC_INCRS.map((v) => +(v / base).toPrecision(6)));
    return timeIncrs.get(unit);
  }
  return DEC_INCRS;
}

// One-line time axis labels by tick spacing: HH:mm:ss, HH:mm, or MM/DD for days and on midnight ticks; browser time or UTC.
const pad = (n) => (n < 10 ? '0' : '') + n;
export function timeAxisValues(timezone) {
  const utc = timezone === 'utc';
  return (u, splits, axisIdx, foundSpace, foundIncr) => splits.map((ts) => {
    const d = new Date(ts * 1000);
    const h = utc ? d.getUTCHours() : d.getHours();
    const m = utc ? d.getUTCMinutes() : d.getMinutes();
    const s = utc ? d.getUTCSeconds() : d.getSeconds();
    const mo = (utc ? d.getUTCMonth() : d.getMonth()) + 1;
    const da = utc ? d.getUTCDate() : d.getDate();
    if (foundIncr >= 86400 || (h === 0 && m === 0 && s === 0 && foundIncr >= 3600)) return `${pad(mo)}/${pad(da)}`;
    if (foundIncr >= 60) return `${pad(h)}:${pad(m)}`;
    return `${pad(h)}:${pad(m)}:${pad(s)}`;
  });
}
