// Running a panel's queries: interpolation, step choice, range/instant requests, shaping results.
import { promApi } from './api.js';
import { chooseStep, parseDuration } from './lib/time.js';
import { interpolate, builtinVars } from './lib/vars.js';
import { formatLegend } from './lib/legend.js';
import { decodeColumns, joinColumns, matrixToColumns, mergeTail } from './lib/series.js';

export const SCRAPE_INTERVAL_MS = 15000;
const REF = '__tsdb_ref';

// Does this target of this panel use an instant query?
export function isInstant(panel, target) {
  if (target.instant) return true;
  const o = panel.options || {};
  switch (panel.type) {
    case 'gauge':
    case 'bargauge':
      return true;
    case 'stat':
      return o.graphMode === 'none' && (!o.reduce || o.reduce === 'last' || o.reduce === 'lastNotNull');
    default:
      return false;
  }
}

function safeDuration(text) {
  if (!text) return 0;
  try {
    const v = parseDuration(String(text).replace(/^>/, ''));
    return Number.isFinite(v) ? v : 0;
  } catch { return 0; }
}

// Per panel: step, builtins and the interpolated expression of each visible target.
export function planPanel(panel, ctx) {
  const { fromMs, toMs, widthPx, vars } = ctx;
  const targets = (panel.targets || []).filter((t) => !t.hide && t.expr && t.expr.trim());
  return targets.map((t) => {
    const pre = builtinVars({ fromMs, toMs, stepMs: 0, intervalMs: 0, scrapeIntervalMs: SCRAPE_INTERVAL_MS });
    // a target's own min interval, else the scrape interval (as Grafana's data source minimum)
    const minStep = safeDuration(interpolate(t.interval || '', vars, pre)) || SCRAPE_INTERVAL_MS;
    const stepMs = chooseStep(fromMs, toMs, Math.max(50, Math.round(widthPx || 800)), minStep);
    const builtins = builtinVars({ fromMs, toMs, stepMs, intervalMs: stepMs, scrapeIntervalMs: SCRAPE_INTERVAL_MS });
    const expr = interpolate(t.expr, vars, builtins);
    const legend = t.legendFormat ? interpolate(t.legendFormat, vars, builtins) : '';
    return { target: t, refId: t.refId || 'A', expr, legend, stepMs, instant: isInstant(panel, t) };
  });
}

function legendName(plan, labels) {
  const clean = { ...labels };
  delete clean[REF];
  return formatLegend(plan.legend || '', clean);
}

function stripRef(labels) {
  if (!(REF in labels)) return labels;
  const c = { ...labels };
  delete c[REF];
  return c;
}

function instantRows(data) {
  if (!data) return [];
  if (data.resultType === 'vector') return data.result.map((r) => ({ labels: r.metric, value: parseFloat(r.value[1]), ts: r.value[0] }));
  if (data.resultType === 'scalar') return [{ labels: {}, value: parseFloat(data.result[1]), ts: data.result[0] }];
  if (data.resultType === 'matrix') {
    return data.result.map((r) => {
      const last = r.values[r.values.length - 1];
      return { labels: r.metric, value: last ? parseFloat(last[1]) : NaN, ts: last ? last[0] : 0 };
    });
  }
  return [];
}

// A range result as columns, each series labelled with its target's refId when the panel has several targets.
function rangeColumns(data, refId, multi) {
  if (!data || data.resultType !== 'matrix') return null;
  const columns = data.format === 'columns' ? decodeColumns(data) : matrixToColumns(data.result);
  if (multi) for (const s of columns.series) s.labels = { ...s.labels, [REF]: refId };
  return columns;
}

// Build a frame: {times, columns, series: [{name, labels, refId, expr, values?, value?, instant}], stepMs}
function buildFrame(plans, results) {
  const sets = [];
  const instant = [];
  const multi = plans.length > 1;
  plans.forEach((p, i) => {
    const data = results[i];
    if (p.instant) {
      for (const r of instantRows(data)) {
        instant.push({ name: legendName(p, r.labels), labels: r.labels, refId: p.refId, expr: p.expr, value: r.value, instant: true });
      }
    } else {
      const columns = rangeColumns(data, p.refId, multi);
      if (columns && columns.series.length) sets.push(columns);
    }
  });
  return finishFrame(plans, sets.length ? joinColumns(sets) : null, instant);
}

function finishFrame(plans, columns, instant) {
  const byRef = Object.fromEntries(plans.map((p) => [p.refId, p]));
  const series = [];
  if (columns) {
    for (const s of columns.series) {
      const ref = s.labels[REF];
      const p = (ref && byRef[ref]) || plans.find((x) => !x.instant) || plans[0];
      series.push({ name: legendName(p, s.labels), labels: stripRef(s.labels), refId: p.refId, expr: p.expr, values: s.values, instant: false });
    }
  }
  const stepMs = plans.length ? Math.min(...plans.map((p) => p.stepMs)) : 0;
  return { times: columns ? columns.times : null, columns, series: series.concat(instant), stepMs, plans };
}

export function frameHasData(frame) {
  if (!frame) return false;
  for (const s of frame.series) {
    if (s.instant) { if (Number.isFinite(s.value)) return true; continue; }
    for (let i = 0; i < s.values.length; i++) if (Number.isFinite(s.values[i])) return true;
  }
  return false;
}

// Range queries run on a grid of multiples of their step (as Grafana aligns them): the points stay on the
// same grid as time moves on, so the server's result cache answers every step it has seen before. The end
// is rounded up, so the newest samples are always in the last point.
export function alignedRange(fromMs, toMs, stepMs) {
  if (!(stepMs > 0)) return { start: fromMs, end: toMs };
  return { start: Math.floor(fromMs / stepMs) * stepMs, end: Math.ceil(toMs / stepMs) * stepMs };
}

export async function runPanel(panel, ctx, signal) {
  const plans = planPanel(panel, ctx);
  const results = await Promise.all(plans.map((p) => {
    if (p.instant) return promApi.query(p.expr, ctx.toMs, signal);
    const { start, end } = alignedRange(ctx.fromMs, ctx.toMs, p.stepMs);
    return promApi.queryRange(p.expr, start, end, p.stepMs, signal, 'columns');
  }));
  return { ...buildFrame(plans, results), fromMs: ctx.fromMs, toMs: ctx.toMs };
}

// Live mode: only query the tail since the last received point (minus one step) and slide the window.
export async function runTail(panel, prev, ctx, signal) {
  const plans = planPanel(panel, ctx);
  if (!prev || !prev.columns || plans.some((p) => p.instant) || prev.plans.length !== plans.length ||
      prev.plans.some((p, i) => p.expr !== plans[i].expr || p.stepMs !== plans[i].stepMs)) {
    return runPanel(panel, ctx, signal);
  }
  const t = prev.columns.times;
  const lastMs = t.length ? t[t.length - 1] * 1000 : ctx.fromMs;
  const results = await Promise.all(plans.map((p) => {
    const start = Math.max(ctx.fromMs, Math.floor((lastMs - p.stepMs) / p.stepMs) * p.stepMs);
    return promApi.queryRange(p.expr, start, ctx.toMs, p.stepMs, signal, 'columns');
  }));
  const multi = plans.length > 1;
  const tail = joinColumns(plans.map((p, i) => rangeColumns(results[i], p.refId, multi)).filter(Boolean));
  const columns = mergeTail(prev.columns, tail, ctx.fromMs / 1000);
  return { ...finishFrame(plans, columns, []), fromMs: ctx.fromMs, toMs: ctx.toMs };
}

// "Explore series": an expression selecting just this series.
export function seriesExpr(expr, labels) {
  const entries = Object.entries(labels).filter(([k]) => k !== '__name__' && k !== REF);
  if (!entries.length) return expr;
  const esc = (v) => String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const m = expr.trim().match(/^([a-zA-Z_:][\w:]*)?\s*(?:\{([^{}]*)\})?$/);
  if (m && (m[1] || m[2] !== undefined)) {
    const existing = (m[2] || '').trim().replace(/,\s*$/, '');
    const extra = entries.map(([k, v]) => `${k}="${esc(v)}"`).join(', ');
    return `${m[1] || ''}{${existing ? existing + ', ' : ''}${extra}}`;
  }
  let sel = 'vector(1)';
  for (const [k, v] of entries) sel = `label_replace(${sel}, "${k}", "${esc(v)}", "", "")`;
  return `(${expr}) and on(${entries.map(([k]) => k).join(', ')}) ${sel}`;
}
