// Edit-mode dialogs: add panel, share, save, dashboard settings (general, variables, links, versions, JSON).
import { useEffect, useRef, useState } from 'preact/hooks';
import { dashApi } from './api.js';
import { navigate } from './router.js';
import { encodeState } from './lib/urlstate.js';
import { Modal, useOutside, REFRESH_OPTIONS } from './controls.jsx';
import { fetchOptions, interpVars } from './variables.js';
import { builtinVars } from './lib/vars.js';
import { SCRAPE_INTERVAL_MS } from './data.js';
import { copyText } from './panel.jsx';

export const PANEL_TYPES = [
  ['timeseries', 'Time series'], ['stat', 'Stat'], ['gauge', 'Gauge'], ['bargauge', 'Bar gauge'],
  ['table', 'Table'], ['heatmap', 'Heatmap'], ['text', 'Text'], ['row', 'Row'],
];

export function newPanel(type, id) {
  const base = { id, type, title: type === 'row' ? 'Row title' : 'Panel title', description: '', gridPos: { x: 0, y: 0, w: 12, h: 8 },
    targets: [{ refId: 'A', expr: '', legendFormat: '', interval: '', instant: false, hide: false }], fieldConfig: { unit: 'short' }, options: {} };
  switch (type) {
    case 'row': return { id, type, title: 'Row title', collapsed: false, gridPos: { x: 0, y: 0, w: 24, h: 1 }, panels: [] };
    case 'text': return { ...base, targets: [], gridPos: { x: 0, y: 0, w: 12, h: 4 }, options: { mode: 'markdown', content: '# Title\n\nSome *markdown* text.' } };
    case 'stat': return { ...base, gridPos: { x: 0, y: 0, w: 6, h: 4 }, options: { reduce: 'lastNotNull', colorMode: 'value', graphMode: 'area' } };
    case 'gauge': return { ...base, gridPos: { x: 0, y: 0, w: 6, h: 6 }, options: { reduce: 'lastNotNull', showThresholdMarkers: true },
      fieldConfig: { unit: 'percent', min: 0, max: 100, thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: 80, color: 'red' }] } } };
    case 'bargauge': return { ...base, options: { reduce: 'lastNotNull', orientation: 'horizontal', displayMode: 'gradient' } };
    case 'table': return { ...base, targets: [{ ...base.targets[0], instant: true }], options: { showHeader: true } };
    case 'heatmap': return { ...base, options: { yAxisUnit: 'short' } };
    default: return { ...base, options: { drawStyle: 'line', stacking: 'none', fillOpacity: 10, lineWidth: 1, legend: { show: true, placement: 'bottom', calcs: [] }, tooltip: { mode: 'multi' } } };
  }
}

export function AddPanelMenu({ onPick, onClose }) {
  const ref = useRef(null);
  useOutside(ref, onClose, true);
  return (
    <div class="menu add-menu" ref={ref} data-testid="add-panel-menu">
      {PANEL_TYPES.map(([t, label]) => <button class="menu-item" data-testid={'add-' + t} onClick={() => onPick(t)}>{label}</button>)}
    </div>
  );
}

function CopyField({ label, value, testid, multiline }) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    const done = () => { setCopied(true); setTimeout(() => setCopied(false), 1500); };
    copyText(value).then(done);
  };
  return (
    <div class="field">
      <label>{label}</label>
      <div class="copy-row">
        {multiline ? <textarea readOnly rows={3} value={value} data-testid={testid} onFocus={(e) => e.target.select()} />
          : <input readOnly value={value} data-testid={testid} onFocus={(e) => e.target.select()} />}
        <button class="btn" onClick={copy}>{copied ? 'Copied' : 'Copy'}</button>
      </div>
    </div>
  );
}

export function ShareModal({ dash, panelId, us, range, from, to, onClose }) {
  const [lock, setLock] = useState(false);
  const state = { ...us, editPanel: undefined, from: lock ? String(range.fromMs) : from, to: lock ? String(range.toMs) : to };
  const origin = location.origin;
  const base = `${origin}/ui/d/${encodeURIComponent(dash.uid || '')}`;
  const link = base + '?' + encodeState({ ...state, viewPanel: panelId ?? state.viewPanel }).toString();
  const solo = panelId != null
    ? `${origin}/ui/d-solo/${encodeURIComponent(dash.uid || '')}?` + encodeState({ ...state, viewPanel: undefined, kiosk: undefined, panelId }).toString()
    : null;
  return (
    <Modal title={panelId != null ? 'Share panel' : 'Share dashboard'} onClose={onClose} testid="share-dialog">
      {!dash.uid && <p class="warn-text">Save the dashboard first to get a working link.</p>}
      <label class="check"><input type="checkbox" checked={lock} onChange={(e) => setLock(e.target.checked)} data-testid="share-lock-time" /> Lock time range (absolute from/to)</label>
      <CopyField label="Link" value={link} testid="share-link" />
      {solo && <CopyField label="Solo panel link" value={solo} testid="share-solo-link" />}
      {solo && <CopyField label="Embed" multiline testid="share-embed" value={`<iframe src="${solo}" width="600" height="300" frameborder="0"></iframe>`} />}
      {!solo && <p class="muted small">Use a panel's menu → Share for a solo-panel link and an embed snippet.</p>}
    </Modal>
  );
}

export function SaveModal({ dash, meta, readOnly, isNew, onDone, onReload, onClose }) {
  const [message, setMessage] = useState('');
  const [title, setTitle] = useState(readOnly ? dash.title + ' (copy)' : dash.title);
  const [error, setError] = useState(null);
  const [conflict, setConflict] = useState(false);
  const [busy, setBusy] = useState(false);
  const asCopy = readOnly;
  const save = (overwrite) => {
    setBusy(true); setError(null);
    let d = { ...dash, title };
    if (asCopy) {
      d = { ...d, tags: (d.tags || []).filter((t) => t !== 'builtin') };
      delete d.uid; delete d.version; delete d.id;
    }
    dashApi.save(d, message, overwrite).then((r) => {
      onDone(r, { ...d, uid: r.uid, version: r.version });
    }).catch((e) => {
      setBusy(false);
      if (e.status === 409) { setConflict(true); setError(e.message); }
      else setError(e.message);
    });
  };
  return (
    <Modal title={asCopy ? 'Save as copy' : 'Save dashboard'} onClose={onClose} testid="save-dialog">
      {asCopy && <p class="muted">This dashboard is {meta.source} and read-only; it will be saved as a new copy.</p>}
      {(asCopy || isNew) && <div class="field"><label>Title</label><input value={title} onInput={(e) => setTitle(e.target.value)} data-testid="save-title" /></div>}
      <div class="field"><label>Version message</label>
        <input value={message} onInput={(e) => setMessage(e.target.value)} placeholder="What changed?" data-testid="save-message"
          onKeyDown={(e) => { if (e.key === 'Enter') save(false); }} /></div>
      {error && <div class="panel-error" role="alert">{error}</div>}
      {conflict ? (
        <div class="conflict" data-testid="save-conflict">
          <p>Someone else saved this dashboard meanwhile.</p>
          <button class="btn" onClick={onReload}>Reload (discard my changes)</button>
          <button class="btn danger" onClick={() => save(true)} data-testid="save-overwrite">Overwrite</button>
        </div>
      ) : (
        <div class="modal-actions">
          <button class="btn" onClick={onClose}>Cancel</button>
          <button class="btn primary" disabled={busy || !title.trim()} onClick={() => save(false)} data-testid="save-confirm">{asCopy ? 'Save copy' : 'Save'}</button>
        </div>
      )}
    </Modal>
  );
}

const VAR_TYPES = ['query', 'custom', 'constant', 'interval', 'textbox'];

function VariableEditor({ v, all, range, onChange }) {
  const [preview, setPreview] = useState(null);
  useEffect(() => {
    const ac = new AbortController();
    const t = setTimeout(() => {
      const b = builtinVars({ fromMs: range.fromMs, toMs: range.toMs, stepMs: 0, intervalMs: 0, scrapeIntervalMs: SCRAPE_INTERVAL_MS });
      const state = {};
      for (const x of all) if (x.name !== v.name) state[x.name] = { value: x.current ? x.current.value : (x.includeAll ? '$__all' : ''), options: [] };
      fetchOptions(v, all, state, range, b, ac.signal).then((o) => setPreview({ options: o })).catch((e) => { if (e.name !== 'AbortError') setPreview({ error: e.message }); });
    }, 400);
    return () => { clearTimeout(t); ac.abort(); };
  }, [v.type, typeof v.query === 'string' ? v.query : JSON.stringify(v.query), v.regex, v.sort]);
  void interpVars;
  const set = (k, val) => onChange({ ...v, [k]: val });
  return (
    <div class="var-editor" data-testid="variable-editor">
      <div class="form-grid">
        <label>Name<input value={v.name} onInput={(e) => set('name', e.target.value.replace(/[^\w]/g, ''))} data-testid="var-name" /></label>
        <label>Type<select value={v.type} onChange={(e) => set('type', e.target.value)}>{VAR_TYPES.map((t) => <option value={t}>{t}</option>)}</select></label>
        <label>Label<input value={v.label || ''} onInput={(e) => set('label', e.target.value)} /></label>
        <label>Hide<select value={v.hide || 0} onChange={(e) => set('hide', +e.target.value)}><option value={0}>no</option><option value={1}>label</option><option value={2}>variable</option></select></label>
      </div>
      <label class="block">{v.type === 'query' ? 'Query (label_values(…), label_names(), metrics(…), query_result(…))' : v.type === 'custom' || v.type === 'interval' ? 'Values (comma separated)' : 'Value'}
        <input value={typeof v.query === 'string' ? v.query : ''} onInput={(e) => set('query', e.target.value)} data-testid="var-query" /></label>
      {v.type === 'query' && (
        <div class="form-grid">
          <label>Regex<input value={v.regex || ''} onInput={(e) => set('regex', e.target.value)} placeholder="/(.*)/" /></label>
          <label>Sort<select value={v.sort || 0} onChange={(e) => set('sort', +e.target.value)}>
            {['none', 'alphabetical asc', 'alphabetical desc', 'numerical asc', 'numerical desc', 'case-insensitive asc', 'case-insensitive desc'].map((s, i) => <option value={i}>{s}</option>)}
          </select></label>
        </div>
      )}
      {(v.type === 'query' || v.type === 'custom') && (
        <div class="form-grid">
          <label class="check"><input type="checkbox" checked={!!v.multi} onChange={(e) => set('multi', e.target.checked)} /> Multi-value</label>
          <label class="check"><input type="checkbox" checked={!!v.includeAll} onChange={(e) => set('includeAll', e.target.checked)} /> Include All</label>
          {v.includeAll && <label>Custom all value<input value={v.allValue || ''} onInput={(e) => set('allValue', e.target.value || null)} placeholder=".*" /></label>}
        </div>
      )}
      <div class="var-preview" data-testid="var-preview">
        <b>Preview of values:</b>{' '}
        {!preview ? '…' : preview.error ? <span class="error-text">{preview.error}</span>
          : preview.options.length ? preview.options.slice(0, 30).map((o) => <span class="chip small">{o.text}</span>) : <span class="muted">none</span>}
        {preview && preview.options && preview.options.length > 30 && <span class="muted"> … {preview.options.length - 30} more</span>}
      </div>
    </div>
  );
}

function VersionsTab({ dash, onReload }) {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const [sel, setSel] = useState([]);
  const [diff, setDiff] = useState(null);
  useEffect(() => { if (dash.uid) dashApi.versions(dash.uid).then(setList).catch((e) => setError(e.message)); }, [dash.uid]);
  if (!dash.uid) return <p class="muted">Not saved yet.</p>;
  const toggle = (n) => setSel((s) => (s.includes(n) ? s.filter((x) => x !== n) : [...s, n].slice(-2)));
  const showDiff = () => {
    const [a, b] = [...sel].sort((x, y) => x - y);
    dashApi.diff(dash.uid, a, b).then(setDiff).catch((e) => setError(e.message));
  };
  const restore = (n) => {
    if (!confirm(`Restore version ${n}? This saves it as a new version.`)) return;
    dashApi.restore(dash.uid, n, `Restored from version ${n}`).then(() => onReload()).catch((e) => setError(e.message));
  };
  return (
    <div data-testid="versions">
      {error && <div class="panel-error">{error}</div>}
      {!list ? <span class="spinner" /> : (
        <table class="data-table versions">
          <thead><tr><th /><th>Version</th><th>Date</th><th>Message</th><th /></tr></thead>
          <tbody>{list.map((v, i) => (
            <tr><td><input type="checkbox" checked={sel.includes(v.version)} onChange={() => toggle(v.version)} aria-label={'select version ' + v.version} /></td>
              <td>{v.version}{i === 0 && <span class="badge">latest</span>}</td>
              <td>{v.created ? new Date(typeof v.created === 'number' ? (v.created < 1e12 ? v.created * 1000 : v.created) : v.created).toLocaleString() : ''}</td>
              <td>{v.message}</td>
              <td>{i > 0 && <button class="btn small" onClick={() => restore(v.version)}>Restore</button>}</td></tr>
          ))}</tbody>
        </table>
      )}
      <button class="btn" disabled={sel.length !== 2} onClick={showDiff} data-testid="versions-diff">Compare selected</button>
      {diff && (
        <div class="diff">
          <h3>Version {diff.from} → {diff.to}</h3>
          {diff.changes && diff.changes.length > 0 && (
            <ul class="changes">{diff.changes.slice(0, 100).map((c) => <li><code>{c.path}</code> {c.op}{c.op !== 'add' && c.old !== undefined ? <> <del>{JSON.stringify(c.old)}</del></> : null}{c.new !== undefined ? <> → <ins>{JSON.stringify(c.new)}</ins></> : null}</li>)}</ul>
          )}
          <pre class="diff-text">{(diff.diff || '').split('\n').map((l) => <div class={l.startsWith('+') && !l.startsWith('+++') ? 'add' : l.startsWith('-') && !l.startsWith('---') ? 'del' : ''}>{l || ' '}</div>)}</pre>
        </div>
      )}
    </div>
  );
}

export function SettingsModal({ dash, meta, readOnly, range, onChange, onReload, onClose }) {
  const [tab, setTab] = useState('general');
  const [varIdx, setVarIdx] = useState(null);
  const [json, setJson] = useState(() => JSON.stringify(dash, null, 2));
  const [jsonErr, setJsonErr] = useState(null);
  useEffect(() => { if (tab === 'json') setJson(JSON.stringify(dash, null, 2)); }, [tab]);
  const set = (k, v) => onChange({ ...dash, [k]: v });
  const vars = dash.variables || [];
  const setVars = (vs) => set('variables', vs);
  const links = dash.links || [];
  const move = (i, d) => { const vs = [...vars]; const j = i + d; if (j < 0 || j >= vs.length) return; [vs[i], vs[j]] = [vs[j], vs[i]]; setVars(vs); if (varIdx === i) setVarIdx(j); };
  const del = () => {
    if (!confirm(`Delete dashboard "${dash.title}"? This cannot be undone.`)) return;
    dashApi.remove(dash.uid).then(() => navigate('/ui/')).catch((e) => alert(e.message));
  };
  const tabs = [['general', 'General'], ['variables', 'Variables'], ['links', 'Links'], ['versions', 'Versions'], ['json', 'JSON model']];
  return (
    <Modal title="Dashboard settings" onClose={onClose} wide testid="settings-dialog">
      <div class="tabs">{tabs.map(([k, l]) => <button class={'tab' + (tab === k ? ' active' : '')} data-testid={'settings-tab-' + k} onClick={() => setTab(k)}>{l}</button>)}</div>
      {tab === 'general' && (
        <div class="settings-general">
          <label class="block">Title<input value={dash.title} onInput={(e) => set('title', e.target.value)} data-testid="settings-title" /></label>
          <label class="block">Description<textarea rows={2} value={dash.description || ''} onInput={(e) => set('description', e.target.value)} /></label>
          <label class="block">Tags (comma separated)<input value={(dash.tags || []).join(', ')} onChange={(e) => set('tags', e.target.value.split(',').map((t) => t.trim()).filter(Boolean))} data-testid="settings-tags" /></label>
          <div class="form-grid">
            <label>Default from<input value={(dash.time || {}).from || 'now-6h'} onInput={(e) => set('time', { ...(dash.time || {}), from: e.target.value })} /></label>
            <label>Default to<input value={(dash.time || {}).to || 'now'} onInput={(e) => set('time', { ...(dash.time || {}), to: e.target.value })} /></label>
            <label>Auto refresh<select value={dash.refresh || ''} onChange={(e) => set('refresh', e.target.value)}>{REFRESH_OPTIONS.map((r) => <option value={r}>{r || 'off'}</option>)}</select></label>
            <label>Time zone<select value={dash.timezone || 'browser'} onChange={(e) => set('timezone', e.target.value)}><option value="browser">browser</option><option value="utc">UTC</option></select></label>
            <label>Shared tooltip<select value={dash.graphTooltip ?? 0} onChange={(e) => set('graphTooltip', +e.target.value)}>
              <option value={0}>off</option><option value={1}>shared crosshair</option><option value={2}>shared tooltip</option></select></label>
          </div>
          <div class="settings-actions">
            {dash.uid && <a class="btn" href={dashApi.exportUrl(dash.uid)} download={`${dash.uid}.json`} data-testid="export-json">Export JSON</a>}
            {dash.uid && <a class="btn" href={dashApi.exportUrl(dash.uid, 'grafana')} download={`${dash.uid}-grafana.json`} data-testid="export-grafana">Export for Grafana</a>}
            {dash.uid && !readOnly && <button class="btn danger" onClick={del} data-testid="delete-dashboard">Delete dashboard</button>}
          </div>
        </div>
      )}
      {tab === 'variables' && (
        <div class="settings-vars">
          {varIdx == null ? (
            <>
              <table class="data-table"><tbody>
                {vars.map((v, i) => (
                  <tr><td><code>${v.name}</code></td><td>{v.type}</td><td class="ellipsis">{typeof v.query === 'string' ? v.query : ''}</td>
                    <td class="nowrap">
                      <button class="btn small" onClick={() => move(i, -1)} disabled={i === 0} aria-label="Move up">↑</button>
                      <button class="btn small" onClick={() => move(i, 1)} disabled={i === vars.length - 1} aria-label="Move down">↓</button>
                      <button class="btn small" onClick={() => setVarIdx(i)}>Edit</button>
                      <button class="btn small danger" onClick={() => setVars(vars.filter((_, j) => j !== i))}>Remove</button>
                    </td></tr>
                ))}
              </tbody></table>
              {!vars.length && <p class="muted">No variables.</p>}
              <button class="btn" data-testid="add-variable" onClick={() => {
                let n = vars.length + 1; while (vars.some((v) => v.name === 'var' + n)) n++;
                setVars([...vars, { name: 'var' + n, type: 'query', label: '', query: '', regex: '', sort: 1, multi: false, includeAll: false, current: {}, options: [], hide: 0 }]);
                setVarIdx(vars.length);
              }}>Add variable</button>
            </>
          ) : (
            <>
              <VariableEditor v={vars[varIdx]} all={vars} range={range} onChange={(nv) => setVars(vars.map((x, j) => (j === varIdx ? nv : x)))} />
              <button class="btn" onClick={() => setVarIdx(null)}>Back to list</button>
            </>
          )}
        </div>
      )}
      {tab === 'links' && (
        <div class="settings-links">
          {links.map((l, i) => (
            <div class="form-grid">
              <label>Title<input value={l.title || ''} onInput={(e) => set('links', links.map((x, j) => (j === i ? { ...x, title: e.target.value } : x)))} /></label>
              <label>URL<input value={l.url || ''} onInput={(e) => set('links', links.map((x, j) => (j === i ? { ...x, url: e.target.value } : x)))} /></label>
              <label class="check"><input type="checkbox" checked={!!l.targetBlank} onChange={(e) => set('links', links.map((x, j) => (j === i ? { ...x, targetBlank: e.target.checked } : x)))} /> New tab</label>
              <button class="btn small danger" onClick={() => set('links', links.filter((_, j) => j !== i))}>Remove</button>
            </div>
          ))}
          <button class="btn" onClick={() => set('links', [...links, { title: 'Link', url: '', targetBlank: true }])}>Add link</button>
        </div>
      )}
      {tab === 'versions' && <VersionsTab dash={dash} onReload={onReload} />}
      {tab === 'json' && (
        <div class="settings-json">
          <textarea class="json-text" rows={22} value={json} onInput={(e) => setJson(e.target.value)} spellcheck={false} data-testid="json-model" />
          {jsonErr && <div class="panel-error">{jsonErr}</div>}
          <button class="btn primary" onClick={() => {
            try { const d = JSON.parse(json); if (!d || typeof d !== 'object' || !Array.isArray(d.panels || [])) throw new Error('not a dashboard object'); onChange({ ...d, panels: d.panels || [] }); setJsonErr(null); onClose(); } catch (e) { setJsonErr('Invalid JSON: ' + e.message); }
          }} data-testid="json-apply">Apply</button>
        </div>
      )}
    </Modal>
  );
}
