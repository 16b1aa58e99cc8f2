// Shared helpers for panel renderers.
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
