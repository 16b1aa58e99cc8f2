// Panel editor (editPanel=N): queries, options per type, field config, live preview.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Panel } from './panel.jsx';
import { QueryInput } from './queryinput.jsx';
import { listUnits } from './lib/units.js';
import { PANEL_TYPES, newPanel } from './edit.jsx';

const NAMED = ['green', 'semi-dark-green', 'yellow', 'orange', 'red', 'dark-red', 'blue', 'purple', 'text', 'transparent'];
const REDUCE = ['lastNotNull', 'last', 'mean', 'max', 'min', 'sum', 'first'];

function useDebounced(value, ms) {
  const [v, setV] = useState(value);
  useEffect(() => { const t = setTimeout(() => setV(value), ms); return () => clearTimeout(t); }, [value, ms]);
  return v;
}

function Sel({ label, value, options, onChange, testid }) {
  return <label>{label}<select value={value} data-testid={testid} onChange={(e) => onChange(e.target.value)}>
    {options.map((o) => (Array.isArray(o) ? <option value={o[0]}>{o[1]}</option> : <option value={o}>{o}</option>))}</select></label>;
}

function Num({ label, value, onChange, testid, placeholder = 'auto' }) {
  return <label>{label}<input type="number" step="any" value={value ?? ''} placeholder={placeholder} data-testid={testid}
    onInput={(e) => onChange(e.target.value === '' ? null : Number(e.target.value))} /></label>;
}

function UnitPicker({ value, onChange }) {
  const units = useMemo(() => { try { return listUnits(); } catch { return []; } }, []);
  const groups = useMemo(() => {
    const g = new Map();
    for (const u of units) { if (!g.has(u.group)) g.set(u.group, []); g.get(u.group).push(u); }
    return [...g.entries()];
  }, [units]);
  return (
    <label>Unit<select value={value || 'short'} onChange={(e) => onChange(e.target.value)} data-testid="unit-picker">
      {!units.some((u) => u.id === (value || 'short')) && <option value={value}>{value}</option>}
      {groups.map(([g, us]) => <optgroup label={g}>{us.map((u) => <option value={u.id}>{u.label}</option>)}</optgroup>)}
    </select></label>
  );
}

function Thresholds({ th, onChange }) {
  const t = th || { mode: 'absolute', steps: [{ value: null, color: 'green' }] };
  const steps = t.steps || [];
  const setStep = (i, s) => onChange({ ...t, steps: steps.map((x, j) => (j === i ? s : x)) });
  return (
    <div class="thresholds" data-testid="thresholds-editor">
      <div class="form-grid"><Sel label="Thresholds mode" value={t.mode || 'absolute'} options={['absolute', 'percentage']} onChange={(m) => onChange({ ...t, mode: m })} /></div>
      {steps.map((s, i) => (
        <div class="threshold-row">
          <select value={s.color} onChange={(e) => setStep(i, { ...s, color: e.target.value })} aria-label="colour">
            {[...new Set([s.color, ...NAMED])].map((c) => <option value={c}>{c}</option>)}
          </select>
          {s.value == null && i === 0 ? <span class="muted">Base</span>
            : <input type="number" step="any" value={s.value ?? ''} onInput={(e) => setStep(i, { ...s, value: e.target.value === '' ? 0 : Number(e.target.value) })} aria-label="value" />}
          {i > 0 && <button class="btn small" onClick={() => onChange({ ...t, steps: steps.filter((_, j) => j !== i) })} aria-label="Remove threshold">✕</button>}
        </div>
      ))}
      <button class="btn small" onClick={() => {
        const last = steps.length ? steps[steps.length - 1].value ?? 0 : 0;
        onChange({ ...t, steps: [...steps, { value: last + 10, color: 'red' }] });
      }}>Add threshold</button>
    </div>
  );
}

function TypeOptions({ p, setOpt }) {
  const o = p.options || {};
  switch (p.type) {
    case 'timeseries': {
      const legend = o.legend || {};
      return (
        <div class="form-grid">
          <Sel label="Style" value={o.drawStyle || 'line'} options={['line', 'bars', 'points']} onChange={(v) => setOpt('drawStyle', v)} testid="opt-drawStyle" />
          <Sel label="Stacking" value={(o.stacking && o.stacking.mode) || o.stacking || 'none'} options={['none', 'normal', 'percent']} onChange={(v) => setOpt('stacking', v)} testid="opt-stacking" />
          <Num label="Fill opacity" value={o.fillOpacity} onChange={(v) => setOpt('fillOpacity', v)} />
          <Num label="Line width" value={o.lineWidth} onChange={(v) => setOpt('lineWidth', v)} />
          <Sel label="Legend" value={legend.show === false ? 'hidden' : (legend.placement || 'bottom')} options={['bottom', 'right', 'hidden']}
            onChange={(v) => setOpt('legend', v === 'hidden' ? { ...legend, show: false } : { ...legend, show: true, placement: v })} />
          <label>Legend values<input value={(legend.calcs || []).join(', ')} placeholder="mean, max, lastNotNull"
            onChange={(e) => setOpt('legend', { ...legend, calcs: e.target.value.split(',').map((s) => s.trim()).filter(Boolean) })} /></label>
          <Sel label="Tooltip" value={(o.tooltip && o.tooltip.mode) || 'multi'} options={['multi', 'single', 'none']} onChange={(v) => setOpt('tooltip', { mode: v })} />
          <Sel label="Show thresholds" value={(o.thresholdsStyle && o.thresholdsStyle.mode) || 'off'} options={['off', 'line', 'area', 'line+area']} onChange={(v) => setOpt('thresholdsStyle', { mode: v })} />
        </div>
      );
    }
    case 'stat':
      return (
        <div class="form-grid">
          <Sel label="Calculation" value={o.reduce || 'lastNotNull'} options={REDUCE} onChange={(v) => setOpt('reduce', v)} />
          <Sel label="Colour mode" value={o.colorMode || 'value'} options={['value', 'background', 'none']} onChange={(v) => setOpt('colorMode', v)} />
          <Sel label="Graph" value={o.graphMode || 'area'} options={['area', 'none']} onChange={(v) => setOpt('graphMode', v)} />
        </div>
      );
    case 'gauge':
      return (
        <div class="form-grid">
          <Sel label="Calculation" value={o.reduce || 'lastNotNull'} options={REDUCE} onChange={(v) => setOpt('reduce', v)} />
          <label class="check"><input type="checkbox" checked={o.showThresholdMarkers !== false} onChange={(e) => setOpt('showThresholdMarkers', e.target.checked)} /> Threshold markers</label>
        </div>
      );
    case 'bargauge':
      return (
        <div class="form-grid">
          <Sel label="Calculation" value={o.reduce || 'lastNotNull'} options={REDUCE} onChange={(v) => setOpt('reduce', v)} />
          <Sel label="Orientation" value={o.orientation || 'horizontal'} options={['horizontal', 'vertical']} onChange={(v) => setOpt('orientation', v)} />
          <Sel label="Display" value={o.displayMode || 'gradient'} options={['basic', 'gradient', 'lcd']} onChange={(v) => setOpt('displayMode', v)} />
        </div>
      );
    case 'table':
      return <div class="form-grid"><label class="check"><input type="checkbox" checked={o.showHeader !== false} onChange={(e) => setOpt('showHeader', e.target.checked)} /> Show header</label></div>;
    case 'heatmap':
      return <div class="form-grid"><label>Y axis unit<input value={o.yAxisUnit || ''} onInput={(e) => setOpt('yAxisUnit', e.target.value)} /></label></div>;
    case 'text':
      return (
        <div>
          <div class="form-grid"><Sel label="Mode" value={o.mode || 'markdown'} options={['markdown', 'html']} onChange={(v) => setOpt('mode', v)} /></div>
          <label class="block">Content<textarea rows={10} value={o.content || ''} onInput={(e) => setOpt('content', e.target.value)} data-testid="text-content" /></label>
        </div>
      );
    default:
      return null;
  }
}

export function PanelEditor({ panel, dash, baseCtx, onApply, onClose }) {
  const [draft, setDraft] = useState(() => JSON.parse(JSON.stringify(panel)));
  const [tab, setTab] = useState(panel.type === 'text' ? 'options' : 'queries');
  const preview = useDebounced(draft, 500);
  const set = (k, v) => setDraft((d) => ({ ...d, [k]: v }));
  const setOpt = (k, v) => setDraft((d) => ({ ...d, options: { ...(d.options || {}), [k]: v } }));
  const setFc = (k, v) => setDraft((d) => ({ ...d, fieldConfig: { ...(d.fieldConfig || {}), [k]: v } }));
  const targets = draft.targets || [];
  const setTarget = (i, t) => set('targets', targets.map((x, j) => (j === i ? t : x)));
  const addTarget = () => {
    const used = new Set(targets.map((t) => t.refId));
    let c = 65; while (used.has(String.fromCharCode(c))) c++;
    set('targets', [...targets, { refId: String.fromCharCode(c), expr: '', legendFormat: '', interval: '', instant: false, hide: false }]);
  };
  const changeType = (type) => {
    const fresh = newPanel(type, draft.id);
    setDraft((d) => ({ ...d, type, options: fresh.options, targets: type === 'text' ? d.targets || [] : (d.targets && d.targets.length ? d.targets : fresh.targets) }));
  };
  const f = draft.fieldConfig || {};
  const apply = () => { onApply(draft); onClose(); };
  const ctx = { ...baseCtx, widthPx: Math.min(window.innerWidth - 40, 1200) };
  useEffect(() => {
    const k = (e) => { // Escape while typing (query editor, fields) stays there; elsewhere it leaves the editor
      if (e.key === 'Escape' && !e.defaultPrevented && !(e.target.closest && e.target.closest('input, textarea, select, .query-input, .modal'))) onClose(); };
    document.addEventListener('keydown', k);
    return () => document.removeEventListener('keydown', k);
  }, []);
  return (
    <div class="panel-editor" role="dialog" aria-label="Edit panel" data-testid="panel-editor">
      <div class="pe-head">
        <h2>Edit panel</h2>
        <div class="actions">
          <button class="btn" onClick={onClose} data-testid="panel-editor-discard">Discard</button>
          <button class="btn primary" onClick={apply} data-testid="panel-editor-apply">Apply</button>
        </div>
      </div>
      <div class="pe-preview">
        <Panel panel={preview} stateKey={'preview-' + draft.id} ctx={ctx} actions={{}} />
      </div>
      <div class="pe-body">
        <div class="form-grid">
          <label>Title<input value={draft.title || ''} onInput={(e) => set('title', e.target.value)} data-testid="panel-title-input" /></label>
          <Sel label="Type" value={draft.type} options={PANEL_TYPES.filter(([t]) => t !== 'row')} onChange={changeType} testid="panel-type" />
          <label>Description<input value={draft.description || ''} onInput={(e) => set('description', e.target.value)} /></label>
          <label>Repeat for<select value={draft.repeat || ''} onChange={(e) => set('repeat', e.target.value || null)}>
            <option value="">–</option>{(dash.variables || []).map((v) => <option value={v.name}>{v.name}</option>)}</select></label>
          {draft.repeat && <Sel label="Direction" value={draft.repeatDirection || 'h'} options={[['h', 'horizontal'], ['v', 'vertical']]} onChange={(v) => set('repeatDirection', v)} />}
          {draft.repeat && <Num label="Max per row" value={draft.maxPerRow} onChange={(v) => set('maxPerRow', v)} placeholder="4" />}
        </div>
        <div class="tabs">
          {draft.type !== 'text' && <button class={'tab' + (tab === 'queries' ? ' active' : '')} onClick={() => setTab('queries')}>Queries</button>}
          <button class={'tab' + (tab === 'options' ? ' active' : '')} onClick={() => setTab('options')}>Options</button>
          {draft.type !== 'text' && <button class={'tab' + (tab === 'field' ? ' active' : '')} onClick={() => setTab('field')}>Standard options</button>}
        </div>
        {tab === 'queries' && draft.type !== 'text' && (
          <div class="queries">
            {targets.map((t, i) => (
              <div class={'query' + (t.hide ? ' hidden-q' : '')} key={t.refId + i} data-testid={'query-' + t.refId}>
                <div class="query-head">
                  <b>{t.refId}</b>
                  <label class="check"><input type="checkbox" checked={!!t.instant} onChange={(e) => setTarget(i, { ...t, instant: e.target.checked })} /> Instant</label>
                  <label class="check"><input type="checkbox" checked={!!t.hide} onChange={(e) => setTarget(i, { ...t, hide: e.target.checked })} /> Hide</label>
                  <button class="btn small danger" onClick={() => set('targets', targets.filter((_, j) => j !== i))}>Remove</button>
                </div>
                <QueryInput value={t.expr} onChange={(v) => setTarget(i, { ...targets[i], expr: v })} onRun={(v) => setTarget(i, { ...targets[i], expr: v })} testid={'query-editor-' + t.refId} />
                <div class="form-grid">
                  <label>Legend<input value={t.legendFormat || ''} placeholder="{{instance}}" onInput={(e) => setTarget(i, { ...t, legendFormat: e.target.value })} /></label>
                  <label>Min interval<input value={t.interval || ''} placeholder="e.g. 30s" onInput={(e) => setTarget(i, { ...t, interval: e.target.value })} /></label>
                </div>
              </div>
            ))}
            <button class="btn" onClick={addTarget} data-testid="add-query">Add query</button>
          </div>
        )}
        {tab === 'options' && <TypeOptions p={draft} setOpt={setOpt} />}
        {tab === 'field' && (
          <div>
            <div class="form-grid">
              <UnitPicker value={f.unit} onChange={(v) => setFc('unit', v)} />
              <Num label="Decimals" value={f.decimals} onChange={(v) => setFc('decimals', v)} testid="decimals" />
              <Num label="Min" value={f.min} onChange={(v) => setFc('min', v)} />
              <Num label="Max" value={f.max} onChange={(v) => setFc('max', v)} />
              <label>Display name<input value={f.displayName || ''} onInput={(e) => setFc('displayName', e.target.value || undefined)} /></label>
              <Sel label="Colour" value={(f.color && f.color.mode) || 'palette-classic'} options={['palette-classic', 'thresholds', 'fixed']} onChange={(v) => setFc('color', { ...(f.color || {}), mode: v })} />
              {f.color && f.color.mode === 'fixed' && <label>Fixed colour<input value={f.color.fixedColor || ''} onInput={(e) => setFc('color', { ...f.color, fixedColor: e.target.value })} /></label>}
            </div>
            <Thresholds th={f.thresholds} onChange={(t) => setFc('thresholds', t)} />
          </div>
        )}
      </div>
    </div>
  );
}
