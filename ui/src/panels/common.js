// Shared helpers for panel renderers.
import { formatValue } from '../lib/units.js';
import { namedColor, palette, colorForValue } from '../lib/thresholds.js';

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
  try { return namedColor(colorForValue(v, th, min ?? f.min ?? 0, max ?? f.max ?? 100)); } catch { return namedColor('green'); }
}

export function withAlpha(color, alpha) {
  // color: #rgb, #rrggbb or rgb()/rgba(); falls back to the colour itself.
  if (/^#[0-9a-f]{3}$/i.test(color)) color = '#' + color.slice(1).split('').map((c) => c + c).join('');
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(color);
  if (m) return `rgba(${parseInt(m[1], 16)},${parseInt(m[2], 16)},${parseInt(m[3], 16)},${alpha})`;
  const r = /^rgba?\(([^,]+),([^,]+),([^,)]+)/.exec(color);
  if (r) return `rgba(${r[1]},${r[2]},${r[3]},${alpha})`;
  return color;
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
