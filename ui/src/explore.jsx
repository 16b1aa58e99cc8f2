// The query explorer (/ui/explore?expr=&from=&to=): PromQL editor, graph and table.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { TopBar } from './shell.jsx';
import { TimePicker } from './controls.jsx';
import { QueryInput } from './queryinput.jsx';
import { Panel } from './panel.jsx';
import { navigate, setSearch } from './router.js';
import { parseTime } from './lib/time.js';

export function ExplorePage({ search }) {
  const params = new URLSearchParams(search);
  const expr = params.get('expr') || '';
  const from = params.get('from') || 'now-1h';
  const to = params.get('to') || 'now';
  const tab = params.get('tab') === 'table' ? 'table' : 'graph';
  const [draft, setDraft] = useState(expr);
  const [tick, setTick] = useState(0);
  useEffect(() => { setDraft(expr); }, [expr]);
  useEffect(() => { document.title = 'Explore – tsdb'; }, []);

  const update = (patch) => {
    const p = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(patch)) { if (v == null || v === '') p.delete(k); else p.set(k, v); }
    setSearch(p);
  };
  const run = (v) => { const e = (v ?? draft).trim(); if (e === expr) setTick((n) => n + 1); else update({ expr: e }); };

  const range = useMemo(() => {
    const now = Date.now();
    let a, b;
    try { a = parseTime(from, now); b = parseTime(to, now, { roundUp: true }); } catch { /* invalid */ }
    if (!Number.isFinite(a) || !Number.isFinite(b) || a >= b) { b = now; a = now - 3600e3; }
    return { fromMs: a, toMs: b };
  }, [from, to, tick]);

  const panel = useMemo(() => (tab === 'graph'
    ? { id: 1, type: 'timeseries', title: '', targets: [{ refId: 'A', expr }], options: { legend: { show: true, placement: 'bottom' }, fillOpacity: 0 }, fieldConfig: {} }
    : { id: 1, type: 'table', title: '', targets: [{ refId: 'A', expr, instant: true }], options: {}, fieldConfig: {} }), [expr, tab]);
  const ctx = { ...range, tick, live: false, vars: {}, varsKey: '', syncKey: 'explore', graphTooltip: 0, widthPx: window.innerWidth - 40 };

  useEffect(() => { document.body.dataset.dashboardState = expr ? 'loading' : 'settled'; }, [expr]);
  useEffect(() => () => { delete document.body.dataset.dashboardState; }, []);
  const onState = (k, s) => { if (s) document.body.dataset.dashboardState = s === 'loading' ? 'loading' : 'settled'; };

  return (
    <div class="page explore-page">
      <TopBar title="Explore">
        <TimePicker from={from} to={to} onChange={(f, t) => update({ from: f, to: t })} />
      </TopBar>
      <div class="page-body">
        <div class="explore-query">
          <QueryInput value={draft} onChange={setDraft} onRun={run} testid="explore-editor" autoFocus />
          <button class="btn primary" data-testid="explore-run" onClick={() => run()} title="Run (Ctrl+Enter)">Run query</button>
        </div>
        <div class="tabs">
          <button class={'tab' + (tab === 'graph' ? ' active' : '')} onClick={() => update({ tab: null })}>Graph</button>
          <button class={'tab' + (tab === 'table' ? ' active' : '')} onClick={() => update({ tab: 'table' })}>Table</button>
        </div>
        {expr ? (
          <div class={'explore-result ' + tab}>
            <Panel key={tab} panel={panel} ctx={ctx} onState={onState} actions={{ navigate, zoom: (a, b) => update({ from: String(a), to: String(b) }) }} />
          </div>
        ) : <p class="muted">Type a PromQL expression and press Ctrl+Enter. Metric names, labels, values and functions autocomplete.</p>}
      </div>
    </div>
  );
}
