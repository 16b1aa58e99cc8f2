// The query explorer at /graph (Prometheus's URL format, see lib/graphurl.js): several query panels, each with
// a Graph, Table and Explain tab. Charts and tables are the dashboards' panel components.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';
import { QueryInput } from '../queryinput.jsx';
import { Panel } from '../panel.jsx';
import { navigate, setSearch } from '../router.js';
import { parseGraphParams, encodeGraphParams, emptyPanel, parseMoment, graphStepMs } from '../lib/graphurl.js';
import { parseDuration } from '../lib/time.js';
import { queryNotes } from '../api.js';
import { seriesName } from '../lib/legend.js';

const HISTORY_KEY = 'tsdb.queryHistory';

export function queryHistory() {
  try { return JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]'); } catch { return []; }
}

function remember(expr) {
  if (!expr) return;
  const list = [expr, ...queryHistory().filter((e) => e !== expr)].slice(0, 50);
  try { localStorage.setItem(HISTORY_KEY, JSON.stringify(list)); } catch { /* storage full or off */ }
}

function rangeMs(text) {
  try { const v = parseDuration(text); return Number.isFinite(v) && v > 0 ? v : 3600e3; } catch { return 3600e3; }
}

export function GraphPage({ search }) {
  const panels = useMemo(() => parseGraphParams(search), [search]);
  const [tick, setTick] = useState(0);
  useEffect(() => { document.title = 'Query – tsdb'; }, []);
  const states = useMemo(() => ({}), [search]);
  const report = (k, s) => {
    if (s) states[k] = s; else delete states[k];
    const v = Object.values(states);
    document.body.dataset.dashboardState = v.some((x) => x === 'loading') ? 'loading' : 'settled';
  };
  useEffect(() => { if (!panels.some((p) => p.expr)) document.body.dataset.dashboardState = 'settled'; }, [search]);
  useEffect(() => () => { delete document.body.dataset.dashboardState; }, []);
  const write = (next) => setSearch(encodeGraphParams(next));
  const change = (i, patch) => write(panels.map((p, j) => (j === i ? { ...p, ...patch } : p)));
  return (
    <div class="page graph-page">
      <TopBar title="Query" />
      <div class="page-body">
        {panels.map((p, i) => (
          <QueryPanel key={i} index={i} panel={p} tick={tick} onState={report}
            onChange={(patch) => change(i, patch)} onRun={() => setTick((n) => n + 1)}
            onRemove={panels.length > 1 ? () => write(panels.filter((_, j) => j !== i)) : null} />
        ))}
        <button class="btn" data-testid="graph-add-panel" onClick={() => write([...panels, emptyPanel()])}>Add query</button>
      </div>
    </div>
  );
}

function QueryPanel({ index, panel, tick, onChange, onRun, onRemove, onState }) {
  const [draft, setDraft] = useState(panel.expr);
  useEffect(() => { setDraft(panel.expr); }, [panel.expr]);
  const [showHistory, setShowHistory] = useState(false);
  const run = (v) => {
    const e = (v ?? draft).trim();
    remember(e);
    if (e === panel.expr) onRun(); else onChange({ expr: e });
  };
  const endMs = parseMoment(panel.end);
  const momentMs = parseMoment(panel.moment);
  const id = 'g' + index;
  return (
    <section class="query-panel" data-testid={'query-panel-' + index}>
      <div class="explore-query">
        <QueryInput value={draft} onChange={setDraft} onRun={run} testid={'graph-editor-' + index} autoFocus={index === 0} />
        <button class="btn primary" data-testid={'graph-run-' + index} onClick={() => run()} title="Execute (Shift+Enter or Ctrl+Enter)">Execute</button>
        <button class="btn icon-only" title="Query history" data-testid={'graph-history-' + index} onClick={() => setShowHistory(!showHistory)}>⟲</button>
        {onRemove && <button class="btn icon-only" title="Remove this query" data-testid={'graph-remove-' + index} onClick={onRemove}>✕</button>}
      </div>
      {showHistory && (
        <ul class="query-history" data-testid="query-history">
          {queryHistory().map((e) => <li><button class="linkish" onClick={() => { setShowHistory(false); setDraft(e); run(e); }}>{e}</button></li>)}
          {!queryHistory().length && <li class="muted">No queries run yet.</li>}
        </ul>
      )}
      <div class="tabs" role="tablist">
        {['graph', 'table', 'explain'].map((t) => (
          <button role="tab" data-testid={`tab-${t}-${index}`} class={'tab' + (panel.tab === t ? ' active' : '')} onClick={() => onChange({ tab: t })}>{t[0].toUpperCase() + t.slice(1)}</button>
        ))}
      </div>
      {panel.tab === 'graph' && <GraphControls panel={panel} onChange={onChange} />}
      {panel.tab !== 'graph' && (
        <div class="graph-controls">
          <label>Evaluation time <input type="text" value={panel.moment} placeholder="now (YYYY-MM-DD hh:mm:ss UTC)"
            onChange={(e) => onChange({ moment: e.target.value.trim() })} data-testid={'moment-' + index} /></label>
        </div>
      )}
      {!panel.expr ? <p class="muted">Type a PromQL expression and press Shift+Enter. Metric names, labels, values and functions autocomplete.</p>
        : panel.tab === 'explain' ? <Explain expr={panel.expr} momentMs={Number.isFinite(momentMs) ? momentMs : null} tick={tick} />
          : <Result id={id} panel={panel} endMs={endMs} momentMs={momentMs} tick={tick} onState={onState} onZoom={(a, b) => onChange({ range: Math.max(1, Math.round((b - a) / 1000)) + 's', end: new Date(b).toISOString().replace('T', ' ').slice(0, 19) })} />}
    </section>
  );
}

function GraphControls({ panel, onChange }) {
  return (
    <div class="graph-controls">
      <label>Range <input type="text" size="5" value={panel.range} onChange={(e) => onChange({ range: e.target.value.trim() || '1h' })} data-testid="range-input" /></label>
      <label>End <input type="text" size="17" value={panel.end} placeholder="now" onChange={(e) => onChange({ end: e.target.value.trim() })} data-testid="end-input" /></label>
      <label>Resolution <select value={panel.resType} onChange={(e) => onChange({ resType: e.target.value })} data-testid="res-type">
        <option value="auto">auto</option><option value="fixed">fixed</option><option value="custom">custom</option></select></label>
      {panel.resType === 'auto' && (
        <select value={panel.resDensity} onChange={(e) => onChange({ resDensity: e.target.value })} aria-label="density">
          <option value="low">low</option><option value="medium">medium</option><option value="high">high</option></select>)}
      {panel.resType === 'fixed' && (
        <select value={panel.resStep} onChange={(e) => onChange({ resStep: e.target.value })} aria-label="step">
          {['', '1', '5', '15', '30', '60', '300', '900', '3600'].map((s) => <option value={s}>{s ? s + 's' : 'choose'}</option>)}</select>)}
      {panel.resType === 'custom' && <input type="text" size="5" placeholder="step s" value={panel.resStep} onChange={(e) => onChange({ resStep: e.target.value.trim() })} aria-label="step seconds" />}
      <label><input type="checkbox" checked={panel.stacked} onChange={(e) => onChange({ stacked: e.target.checked })} data-testid="stacked" /> stacked</label>
      <label><input type="checkbox" checked={panel.yZero} onChange={(e) => onChange({ yZero: e.target.checked })} /> y from 0</label>
    </div>
  );
}

function Result({ id, panel, endMs, momentMs, tick, onState, onZoom }) {
  const toMs = useMemo(() => (Number.isFinite(endMs) ? endMs : Date.now()), [endMs, tick, panel.expr, panel.range]);
  const fromMs = toMs - rangeMs(panel.range);
  const widthPx = Math.max(300, window.innerWidth - 60);
  const stepMs = graphStepMs(panel, toMs - fromMs, widthPx);
  const model = useMemo(() => (panel.tab === 'graph'
    ? { id, type: 'timeseries', title: '', targets: [{ refId: 'A', expr: panel.expr, interval: stepMs / 1000 + 's' }],
      options: { legend: { show: true, placement: 'bottom' }, stacking: { mode: panel.stacked ? 'normal' : 'none' }, fillOpacity: panel.stacked ? 50 : 0 },
      fieldConfig: { defaults: panel.yZero ? { min: 0 } : {} } }
    : { id, type: 'table', title: '', targets: [{ refId: 'A', expr: panel.expr, instant: true }], options: {}, fieldConfig: {} }),
  [panel.expr, panel.tab, panel.stacked, panel.yZero, stepMs]);
  const at = panel.tab === 'graph' ? { fromMs, toMs } : { fromMs: (Number.isFinite(momentMs) ? momentMs : toMs) - 3600e3, toMs: Number.isFinite(momentMs) ? momentMs : toMs };
  const ctx = { ...at, tick, live: false, vars: {}, varsKey: '', syncKey: id, graphTooltip: 0, widthPx: (at.toMs - at.fromMs) / stepMs };
  const [state, setState] = useState(null);
  // the table tab shows a range selector's raw samples: which view applies is known once the query is parsed
  // (until then the result counts as loading, so the page is not reported settled in between)
  const [matrix, setMatrix] = useState(panel.tab === 'table' ? null : false);
  useEffect(() => {
    let alive = true;
    if (panel.tab !== 'table') { setMatrix(false); return () => { alive = false; }; }
    setMatrix(null);
    onState(id, 'loading');
    promGet('/api/v1/parse_query', { query: panel.expr })
      .then((t) => { if (alive) setMatrix(t.valueType === 'matrix'); })
      .catch(() => { if (alive) setMatrix(false); });
    return () => { alive = false; };
  }, [panel.expr, panel.tab]);
  const report = (k, s) => { setState(s); onState(k, s); };
  const notes = state && state !== 'loading' ? queryNotes.get(panel.expr) : null;
  const moment = at.toMs;
  return (
    <div>
      {notes && [...notes.warnings.map((w) => ['warn', w]), ...notes.infos.map((w) => ['info', w])].map(([kind, w]) => (
        <div class={'query-note ' + kind} data-testid={'query-' + kind}>{kind === 'warn' ? 'Warning: ' : 'Info: '}{w}</div>))}
      {matrix === null ? <div class="spinner" /> : matrix ? <RawSamples id={id} expr={panel.expr} timeMs={moment} tick={tick} onState={onState} /> : (
        <div class={'explore-result ' + panel.tab}>
          <Panel key={panel.tab} stateKey={id} panel={model} ctx={ctx} onState={report} actions={{ navigate, zoom: onZoom }} />
        </div>)}
    </div>
  );
}

// A range selector's result in the table tab: every raw sample with its timestamp.
function RawSamples({ id, expr, timeMs, tick, onState }) {
  const [res, setRes] = useState({ data: null, error: null });
  useEffect(() => {
    let alive = true;
    onState(id, 'loading');
    promGet('/api/v1/query', { query: expr, time: timeMs / 1000 })
      .then((data) => { if (alive) { setRes({ data, error: null }); onState(id, 'rendered'); } })
      .catch((e) => { if (alive) { setRes({ data: null, error: e.message }); onState(id, 'error'); } });
    return () => { alive = false; onState(id, null); };
  }, [expr, timeMs, tick]);
  if (res.error) return <div class="panel-error" role="alert">{res.error}</div>;
  if (!res.data) return <div class="spinner" />;
  const fmtTs = (t) => new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 23);
  return (
    <div class="table-scroll" data-panel-id={id} data-state="rendered">
      <table class="status-table raw-samples" data-testid="raw-samples">
        <thead><tr><th>Series</th><th>Samples (value @ time, UTC)</th></tr></thead>
        <tbody>{res.data.result.map((r) => (
          <tr><td class="wrap">{seriesName(r.metric)}</td>
            <td class="samples">{(r.values || []).map(([t, v]) => <div>{v} @ {fmtTs(t)}</div>)}</td></tr>))}</tbody>
      </table>
    </div>
  );
}

// ---- Explain -------------------------------------------------------------------------------------------

async function promGet(path, params) {
  const res = await fetch(path + '?' + new URLSearchParams(params));
  const j = await res.json();
  if (j.status !== 'success') throw new Error(j.error || 'HTTP ' + res.status);
  return j.data;
}

function matchersText(n) {
  return n.matchers.filter((m) => !(m.name === '__name__' && m.type === '=' && m.value === n.name))
    .map((m) => `${m.name} ${m.type} "${m.value}"`).join(', ');
}

/** A plain-words description of what one syntax tree node does. */
export function describeNode(n) {
  const dur = (ms) => (ms % 3600e3 === 0 ? ms / 3600e3 + 'h' : ms % 60e3 === 0 ? ms / 60e3 + 'm' : ms / 1e3 + 's');
  const off = (x) => (x.offset ? `, shifted ${dur(x.offset)} back in time` : '');
  switch (n.type) {
    case 'vectorSelector': {
      const m = matchersText(n);
      return `Selects the latest sample of every series${n.name ? ` of metric ${n.name}` : ''}${m ? ` where ${m}` : ''}${off(n)}.`;
    }
    case 'matrixSelector': {
      const m = matchersText(n);
      return `Selects the samples of the last ${dur(n.range)} of every series${n.name ? ` of metric ${n.name}` : ''}${m ? ` where ${m}` : ''}${off(n)}.`;
    }
    case 'subquery': return `Evaluates the inner expression every ${n.step ? dur(n.step) : 'default step'} over the last ${dur(n.range)}${off(n)}.`;
    case 'call': return `Calls the function ${n.func.name}() on its ${n.args.length} argument${n.args.length === 1 ? '' : 's'}; returns a ${n.func.returnType}.`;
    case 'aggregation': {
      const by = n.grouping.length ? (n.without ? ` without the labels ${n.grouping.join(', ')}` : ` by ${n.grouping.join(', ')}`) : ' into one series';
      return `Aggregates the input series with ${n.op}${n.param ? ' (parameter below)' : ''}${by}.`;
    }
    case 'binaryExpr': {
      const m = n.matching;
      const how = m && (m.on || m.labels.length) ? ` matching series ${m.on ? 'on' : 'ignoring'} (${m.labels.join(', ')})` : '';
      const card = m && m.card !== 'one-to-one' && m.card !== 'many-to-many' ? `, ${m.card}` : '';
      const cmp = ['==', '!=', '<', '<=', '>', '>='].includes(n.op) ? (n.bool ? ' and returns 0 or 1' : ' and keeps only the left side\'s samples that pass') : '';
      return `Applies "${n.op}" between the left and right side${how}${card}${cmp}.`;
    }
    case 'unaryExpr': return `Negates the value of its input (${n.op}).`;
    case 'parenExpr': return 'Parentheses: groups its input.';
    case 'numberLiteral': return `The number ${n.val}.`;
    case 'stringLiteral': return `The string "${n.val}".`;
    default: return n.type;
  }
}

function childrenOf(n) {
  switch (n.type) {
    case 'subquery': case 'unaryExpr': case 'parenExpr': return [n.expr];
    case 'call': return n.args;
    case 'aggregation': return n.param ? [n.param, n.expr] : [n.expr];
    case 'binaryExpr': return [n.lhs, n.rhs];
    default: return [];
  }
}

function resultSize(d) {
  if (!d) return '';
  if (d.resultType === 'scalar' || d.resultType === 'string') return d.resultType;
  const n = d.result.length;
  if (d.resultType === 'matrix') return `${n} series, ${d.result.reduce((s, r) => s + (r.values || []).length, 0)} samples`;
  return `${n} series`;
}

function TreeNode({ node, momentMs, tick }) {
  const [size, setSize] = useState('…');
  useEffect(() => {
    let alive = true;
    const params = { query: node.text };
    if (momentMs != null) params.time = momentMs / 1000;
    promGet('/api/v1/query', params).then((d) => { if (alive) setSize(resultSize(d)); }).catch((e) => { if (alive) setSize('error: ' + e.message); });
    return () => { alive = false; };
  }, [node.text, momentMs, tick]);
  return (
    <li class="tree-node" data-testid="explain-node" data-node-type={node.type}>
      <div class="tree-row"><code class="tree-text">{node.text}</code> <span class="badge" data-testid="explain-size">{size}</span></div>
      <div class="tree-desc muted">{describeNode(node)}</div>
      {childrenOf(node).length > 0 && <ul class="tree">{childrenOf(node).map((c) => <TreeNode node={c} momentMs={momentMs} tick={tick} />)}</ul>}
    </li>
  );
}

function Explain({ expr, momentMs, tick }) {
  const [state, setState] = useState({ tree: null, formatted: '', error: null });
  useEffect(() => {
    let alive = true;
    Promise.all([promGet('/api/v1/parse_query', { query: expr }), promGet('/api/v1/format_query', { query: expr })])
      .then(([tree, formatted]) => { if (alive) setState({ tree, formatted, error: null }); })
      .catch((e) => { if (alive) setState({ tree: null, formatted: '', error: e.message }); });
    return () => { alive = false; };
  }, [expr]);
  if (state.error) return <div class="panel-error" role="alert">{state.error}</div>;
  if (!state.tree) return <div class="spinner" />;
  return (
    <div class="explain" data-testid="explain">
      <h3>Formatted query</h3>
      <pre class="formatted" data-testid="formatted-query">{state.formatted}</pre>
      <h3>Query tree</h3>
      <ul class="tree root"><TreeNode node={state.tree} momentMs={momentMs} tick={tick} /></ul>
    </div>
  );
}
