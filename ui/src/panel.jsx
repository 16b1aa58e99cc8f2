// One dashboard panel: runs its queries, reports data-state, renders by type, offers the panel menu.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { planPanel, runPanel, runTail, frameHasData, seriesExpr } from './data.js';
import { toCSV } from './lib/series.js';
import { TimeSeries } from './panels/timeseries.jsx';
import { Heatmap } from './panels/heatmap.jsx';
import { Stat, Gauge, BarGauge } from './panels/stat.jsx';
import { Table } from './panels/table.jsx';
import { renderMarkdown, sanitizeHtml } from './markdown.js';
import { interpolate } from './lib/vars.js';
import { graphUrl, formatMoment } from './lib/graphurl.js';
import { formatDuration } from './lib/time.js';

const NO_QUERY = new Set(['text', 'placeholder', 'row']);
const KNOWN = new Set(['timeseries', 'stat', 'gauge', 'bargauge', 'table', 'heatmap', 'text', 'placeholder']);
const CANVAS = new Set(['timeseries', 'heatmap']);

function download(name, href) {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

// Clipboard API where available (secure contexts), else the selection-based fallback.
export function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text).catch(() => legacyCopy(text));
  legacyCopy(text);
  return Promise.resolve();
}

function legacyCopy(text) {
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  try { document.execCommand('copy'); } catch { /* nothing more to try */ }
  ta.remove();
}

function safeName(s) { return (s || 'panel').replace(/[^\w.-]+/g, '_').slice(0, 60); }

export function exploreUrl(expr, ctx) {
  const rangeMs = Math.max(1000, Math.round((ctx.toMs - ctx.fromMs) / 1000) * 1000);
  return graphUrl(expr, { range: formatDuration(rangeMs), end: formatMoment(ctx.toMs) });
}

function PanelMenu({ items, onClose }) {
  const ref = useRef(null);
  useEffect(() => {
    const h = (e) => { if (ref.current && !ref.current.contains(e.target)) onClose(); };
    const k = (e) => { if (e.key === 'Escape') onClose(); };
    setTimeout(() => document.addEventListener('pointerdown', h), 0);
    document.addEventListener('keydown', k);
    return () => { document.removeEventListener('pointerdown', h); document.removeEventListener('keydown', k); };
  }, []);
  return (
    <div class="menu panel-menu-list" ref={ref} role="menu">
      {items.filter(Boolean).map((it) => (
        <button role="menuitem" data-testid={'panel-menu-' + it.key} onClick={() => { onClose(); it.run(); }}>{it.label}</button>
      ))}
    </div>
  );
}

export function Panel(props) {
  const { panel, ctx, onState, actions = {}, editMode, solo, headerProps } = props;
  const key = props.stateKey ?? String(panel.id);
  const [frame, setFrame] = useState(null);
  const [state, setState] = useState(NO_QUERY.has(panel.type) || !KNOWN.has(panel.type) ? 'rendered' : 'loading');
  const [error, setError] = useState(null);
  const [menu, setMenu] = useState(false);
  const [busy, setBusy] = useState(false);
  const bodyRef = useRef(null);
  const prevRef = useRef({ frame: null, planKey: null });

  const plans = useMemo(() => (NO_QUERY.has(panel.type) ? [] : planPanel(panel, ctx)),
    [panel, ctx.fromMs, ctx.toMs, ctx.widthPx, ctx.varsKey]);
  const planKey = JSON.stringify(plans.map((p) => [p.expr, p.stepMs, p.instant]));

  useEffect(() => {
    if (onState) onState(key, state);
  }, [state]);
  useEffect(() => () => { if (onState) onState(key, null); }, []);

  useEffect(() => {
    if (NO_QUERY.has(panel.type) || !KNOWN.has(panel.type)) { setState('rendered'); return undefined; }
    if (!plans.length) { setFrame(null); setError(null); setState('nodata'); return undefined; }
    const ac = new AbortController();
    const prev = prevRef.current;
    const tail = ctx.live && prev.frame && prev.frame.columns && prev.planKey === planKey;
    setBusy(true);
    if (!tail) setState('loading');
    if (onState && tail) onState(key, 'loading');
    const p = tail ? runTail(panel, prev.frame, ctx, ac.signal) : runPanel(panel, ctx, ac.signal);
    p.then((f) => {
      if (ac.signal.aborted) return;
      prevRef.current = { frame: f, planKey };
      setFrame(f);
      setError(null);
      setBusy(false);
      const st = frameHasData(f) ? 'rendered' : 'nodata';
      setState(st);
      if (onState && tail) onState(key, st);
    }).catch((e) => {
      if (ac.signal.aborted || e.name === 'AbortError') return;
      prevRef.current = { frame: null, planKey: null };
      setFrame(null);
      setError(e.message || String(e));
      setBusy(false);
      setState('error');
      if (onState && tail) onState(key, 'error');
    });
    return () => ac.abort();
  }, [planKey, ctx.fromMs, ctx.toMs, ctx.tick, panel.type]);

  const title = panel.title ? interpolate(panel.title, ctx.vars, {}) : '';
  const canvasPanel = CANVAS.has(panel.type) && state === 'rendered';
  const firstExpr = plans[0] ? plans[0].expr : '';
  const menuItems = [
    actions.view && { key: 'view', label: solo ? 'Open dashboard' : 'View', run: actions.view },
    actions.edit && { key: 'edit', label: 'Edit', run: actions.edit },
    actions.share && { key: 'share', label: 'Share', run: actions.share },
    plans.length > 0 && { key: 'explore', label: 'Explore', run: () => actions.navigate(exploreUrl(firstExpr, ctx)) },
    plans.length > 0 && { key: 'copy', label: 'Copy query', run: () => copyText(plans.map((p) => p.expr).join('\n')) },
    frame && frame.series.length > 0 && { key: 'csv', label: 'Export CSV', run: () => exportCsv(panel, frame, ctx) },
    canvasPanel && { key: 'png', label: 'Export PNG', run: () => exportPng(panel, bodyRef.current) },
    actions.duplicate && { key: 'duplicate', label: 'Duplicate', run: actions.duplicate },
    actions.remove && { key: 'remove', label: 'Remove', run: actions.remove },
  ];

  const onZoom = actions.zoom;
  const onExploreSeries = actions.navigate ? (s) => actions.navigate(exploreUrl(seriesExpr(s.expr, s.labels), ctx)) : null;

  let body = null;
  if (panel.type === 'placeholder' || !KNOWN.has(panel.type)) {
    const msg = panel.type === 'placeholder'
      ? ((panel.options && panel.options.message) || panel.message || `Panel type "${(panel.options && panel.options.originalType) || panel.originalType || '?'}" is not supported`)
      : `Panel type "${panel.type}" is not supported`;
    body = <div class="placeholder">{msg}</div>;
  } else if (panel.type === 'text') {
    const o = panel.options || {};
    const content = interpolate(o.content ?? panel.content ?? '', ctx.vars, {});
    const html = (o.mode || panel.mode) === 'html' ? sanitizeHtml(content) : renderMarkdown(content);
    body = <div class="text-panel" dangerouslySetInnerHTML={{ __html: html }} />;
  } else if (state === 'error') {
    body = <div class="panel-error" role="alert">{error}</div>;
  } else if (state === 'nodata') {
    body = <div class="nodata">No data</div>;
  } else if (frame) {
    const common = { panel, frame, syncKey: ctx.syncKey, graphTooltip: ctx.graphTooltip, timezone: ctx.timezone, onZoom, onExploreSeries };
    switch (panel.type) {
      case 'timeseries': body = <TimeSeries {...common} />; break;
      case 'heatmap': body = <Heatmap {...common} />; break;
      case 'stat': body = <Stat {...common} />; break;
      case 'gauge': body = <Gauge {...common} />; break;
      case 'bargauge': body = <BarGauge {...common} />; break;
      case 'table': body = <Table {...common} />; break;
      default: body = null;
    }
  }

  return (
    <div class={'panel' + (editMode ? ' editing' : '') + (solo ? ' solo' : '')} data-panel-id={key} data-state={state} data-panel-type={panel.type}>
      <div class={'panel-header' + (editMode ? ' drag-handle' : '')} {...(headerProps || {})}>
        <span class="panel-title" title={panel.description || ''}>{title}</span>
        {busy && state !== 'loading' && <span class="spinner small" />}
        {state === 'loading' && <span class="spinner small" aria-label="loading" />}
        {panel.links && panel.links.length > 0 && panel.links.map((l) => (
          <a class="panel-link" href={interpolate(l.url || '#', ctx.vars, {})} target={l.targetBlank ? '_blank' : undefined} rel="noopener noreferrer" title={l.title}>↗</a>
        ))}
        <span class="panel-menu-wrap">
          <button class="icon-btn panel-menu-btn" data-testid="panel-menu" title="Panel menu" aria-label="Panel menu"
            onPointerDown={(e) => e.stopPropagation()} onClick={() => setMenu(!menu)}>⋮</button>
          {menu && <PanelMenu items={menuItems} onClose={() => setMenu(false)} />}
        </span>
      </div>
      <div class="panel-body" ref={bodyRef}>{body}</div>
    </div>
  );
}

function exportCsv(panel, frame, ctx) {
  let columns = frame.columns;
  let names = frame.series.filter((s) => !s.instant).map((s) => s.name);
  if (!columns) {
    const inst = frame.series.filter((s) => s.instant);
    columns = { times: Float64Array.of(ctx.toMs / 1000), series: inst.map((s) => ({ labels: s.labels, values: Float64Array.of(s.value) })) };
    names = inst.map((s) => s.name);
  }
  const csv = toCSV(columns, names);
  download(safeName(panel.title) + '.csv', URL.createObjectURL(new Blob([csv], { type: 'text/csv' })));
}

function exportPng(panel, el) {
  const canvas = el && el.querySelector('canvas');
  if (!canvas) return;
  const out = document.createElement('canvas');
  out.width = canvas.width;
  out.height = canvas.height;
  const c = out.getContext('2d');
  c.fillStyle = getComputedStyle(el).backgroundColor || '#fff';
  c.fillRect(0, 0, out.width, out.height);
  c.drawImage(canvas, 0, 0);
  download(safeName(panel.title) + '.png', out.toDataURL('image/png'));
}
