// Top bar controls: time picker, refresh picker, variables bar, modal.
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeRange, parseTime } from './lib/time.js';
import { ALL } from './variables.js';

export const QUICK_RANGES = [
  ['now-5m', 'Last 5 minutes'], ['now-15m', 'Last 15 minutes'], ['now-30m', 'Last 30 minutes'],
  ['now-1h', 'Last 1 hour'], ['now-3h', 'Last 3 hours'], ['now-6h', 'Last 6 hours'], ['now-12h', 'Last 12 hours'],
  ['now-24h', 'Last 24 hours'], ['now-2d', 'Last 2 days'], ['now-7d', 'Last 7 days'], ['now-30d', 'Last 30 days'],
  ['now/d', 'Today', 'now/d'], ['now-1d/d', 'Yesterday', 'now-1d/d'],
];
export const REFRESH_OPTIONS = ['', '5s', '10s', '30s', '1m', '5m', '15m', '1h', 'live'];

export function useOutside(ref, onOut, active) {
  useEffect(() => {
    if (!active) return undefined;
    const h = (e) => { if (ref.current && !ref.current.contains(e.target)) onOut(); };
    const k = (e) => { if (e.key === 'Escape') onOut(); };
    const t = setTimeout(() => document.addEventListener('pointerdown', h), 0);
    document.addEventListener('keydown', k);
    return () => { clearTimeout(t); document.removeEventListener('pointerdown', h); document.removeEventListener('keydown', k); };
  }, [active]);
}

function toInput(text) {
  // absolute Unix ms -> readable ISO text for the input; relative stays as is
  if (/^\d{11,}$/.test(String(text))) return new Date(Number(text)).toISOString();
  return String(text);
}

function rangeLabel(from, to) {
  try {
    const d = describeRange(String(from), String(to));
    if (d) return d;
  } catch { /* fall through */ }
  return `${toInput(from)} to ${toInput(to)}`;
}

export function TimePicker({ from, to, onChange, onZoomOut }) {
  const [open, setOpen] = useState(false);
  const [f, setF] = useState(toInput(from));
  const [t, setT] = useState(toInput(to));
  const [err, setErr] = useState('');
  const ref = useRef(null);
  useOutside(ref, () => setOpen(false), open);
  useEffect(() => { setF(toInput(from)); setT(toInput(to)); setErr(''); }, [from, to, open]);
  const apply = (e) => {
    e && e.preventDefault();
    const now = Date.now();
    const norm = (s) => (/^\d{4}-\d\d-\d\d/.test(s) ? String(Date.parse(s.length === 10 ? s + 'T00:00:00Z' : s)) : s.trim());
    const nf = norm(f), nt = norm(t);
    let a, b;
    try { a = parseTime(nf, now); b = parseTime(nt, now, { roundUp: true }); } catch { a = NaN; }
    if (!Number.isFinite(a) || !Number.isFinite(b)) { setErr('Invalid time'); return; }
    if (a >= b) { setErr('"From" must be before "To"'); return; }
    onChange(nf, nt);
    setOpen(false);
  };
  return (
    <div class="dropdown" ref={ref}>
      <button class="btn" data-testid="time-picker" onClick={() => setOpen(!open)} title="Time range" aria-expanded={open}>
        <span class="tp-label">{rangeLabel(from, to)}</span>
      </button>
      {onZoomOut && <button class="btn icon-only" title="Zoom out (time range × 2)" aria-label="Zoom out" onClick={onZoomOut}>⊖</button>}
      {open && (
        <div class="menu tp-menu">
          <form class="tp-abs" onSubmit={apply}>
            <div class="tp-title">Absolute time range</div>
            <label>From<input data-testid="time-from" value={f} onInput={(e) => setF(e.target.value)} /></label>
            <label>To<input data-testid="time-to" value={t} onInput={(e) => setT(e.target.value)} /></label>
            {err && <div class="error-text">{err}</div>}
            <button class="btn primary" type="submit" data-testid="time-apply">Apply time range</button>
          </form>
          <div class="tp-quick">
            {QUICK_RANGES.map(([qf, label, qt]) => (
              <button class={'menu-item' + (from === qf && to === (qt || 'now') ? ' active' : '')} onClick={() => { onChange(qf, qt || 'now'); setOpen(false); }}>{label}</button>
            ))}
          </div>
        </div>
      )}
    </div>
  );
}

export function RefreshPicker({ value, onChange, onRefresh, loading }) {
  return (
    <div class="refresh-picker">
      <button class="btn icon-only" title="Refresh" aria-label="Refresh" data-testid="refresh-button" onClick={onRefresh}>
        <span class={loading ? 'spin' : ''}>↻</span>
      </button>
      <select data-testid="refresh-picker" value={value || ''} onChange={(e) => onChange(e.target.value)} title="Auto refresh">
        {REFRESH_OPTIONS.map((r) => <option value={r}>{r === '' ? 'Off' : r === 'live' ? 'Live' : r}</option>)}
      </select>
    </div>
  );
}

export function Modal({ title, onClose, children, wide, testid }) {
  useEffect(() => {
    const k = (e) => { if (e.key === 'Escape') onClose(); };
    document.addEventListener('keydown', k);
    return () => document.removeEventListener('keydown', k);
  }, []);
  return (
    <div class="modal-backdrop" onPointerDown={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <div class={'modal' + (wide ? ' wide' : '')} role="dialog" aria-label={title} data-testid={testid}>
        <div class="modal-head"><h2>{title}</h2><button class="icon-btn" aria-label="Close" onClick={onClose}>✕</button></div>
        <div class="modal-body">{children}</div>
      </div>
    </div>
  );
}

function MultiSelect({ v, st, onChange }) {
  const [open, setOpen] = useState(false);
  const [q, setQ] = useState('');
  const ref = useRef(null);
  useOutside(ref, () => setOpen(false), open);
  const cur = Array.isArray(st.value) ? st.value : [st.value];
  const isAll = cur.includes(ALL);
  const label = isAll ? 'All' : cur.map((x) => (st.options.find((o) => o.value === x) || { text: x }).text).join(' + ') || 'None';
  const opts = st.options.filter((o) => !q || o.text.toLowerCase().includes(q.toLowerCase()));
  const toggle = (val) => {
    if (!v.multi) { onChange(val); setOpen(false); return; }
    if (val === ALL) { onChange([ALL]); return; }
    let next = isAll ? [] : cur.filter((x) => x !== ALL);
    next = next.includes(val) ? next.filter((x) => x !== val) : [...next, val];
    if (!next.length) next = v.includeAll ? [ALL] : [val];
    onChange(next);
  };
  return (
    <div class="dropdown var-select" ref={ref}>
      <button class="btn var-btn" data-testid={'var-' + v.name} aria-expanded={open} onClick={() => setOpen(!open)} title={label}>
        <span class="var-value">{label}</span> ▾
      </button>
      {open && (
        <div class="menu var-menu">
          <input class="var-search" placeholder="Search" value={q} onInput={(e) => setQ(e.target.value)} autoFocus />
          <div class="var-options">
            {v.includeAll && (
              <label class="menu-item"><input type={v.multi ? 'checkbox' : 'radio'} checked={isAll} onChange={() => toggle(ALL)} /> All</label>
            )}
            {opts.map((o) => (
              <label class="menu-item" key={o.value}>
                <input type={v.multi ? 'checkbox' : 'radio'} checked={!isAll && cur.includes(o.value)} onChange={() => toggle(o.value)} /> {o.text}
              </label>
            ))}
            {!opts.length && <div class="muted small">No values</div>}
          </div>
        </div>
      )}
    </div>
  );
}

function TextBox({ v, st, onChange }) {
  const [t, setT] = useState(st.value ?? '');
  useEffect(() => setT(st.value ?? ''), [st.value]);
  return <input class="var-text" data-testid={'var-' + v.name} value={t} onInput={(e) => setT(e.target.value)}
    onBlur={() => t !== st.value && onChange(t)} onKeyDown={(e) => { if (e.key === 'Enter') onChange(t); }} />;
}

export function VariablesBar({ variables, state, onChange }) {
  const shown = variables.filter((v) => v.hide !== 2 && v.type !== 'constant');
  if (!shown.length) return null;
  return (
    <div class="vars-bar">
      {shown.map((v) => {
        const st = state[v.name];
        return (
          <div class="var" key={v.name}>
            {v.hide !== 1 && <span class="var-label">{v.label || v.name}</span>}
            {!st ? <span class="spinner small" /> : v.type === 'textbox'
              ? <TextBox v={v} st={st} onChange={(val) => onChange(v.name, val)} />
              : <MultiSelect v={v} st={st} onChange={(val) => onChange(v.name, val)} />}
            {st && st.error && <span class="error-text small" title={st.error}>⚠</span>}
          </div>
        );
      })}
    </div>
  );
}
