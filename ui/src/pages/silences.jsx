// Silences page (/ui/silences): active, pending and expired silences with creator and comment; create
// (matchers, start, duration or end time, preview of the alerts they match), edit and expire, over the
// Alertmanager API v2. ``?matcher=name=value`` (repeatable) pre-fills the editor ("silence this" links).
// Editing posts the silence with its id; as in Alertmanager, a silence whose matchers (or, once active,
// start) changed is expired and replaced by a new one, which the page then says.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';

const OPS = ['=', '!=', '=~', '!~'];

function parseMatcher(text) {
  const m = text.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$/);
  return m ? { name: m[1], op: m[2], value: m[3] } : null;
}

// A predicate over label sets for the matchers; regular expressions compiled once (the preview runs it over
// every current alert, possibly thousands, on each keystroke). An invalid expression matches nothing.
function matcherTest(ms) {
  const tests = ms.map((m) => {
    let re = null;
    if (m.op.includes('~')) { try { re = new RegExp('^(?:' + m.value + ')$'); } catch { return () => false; } }
    const neg = m.op.startsWith('!');
    return (labels) => {
      const v = labels[m.name] || '';
      const ok = re ? re.test(v) : v === m.value;
      return neg ? !ok : ok;
    };
  });
  return (labels) => tests.every((t) => t(labels));
}

function pad(n) { return String(n).padStart(2, '0'); }

/** `YYYY-MM-DD HH:MM:SS` in local time: what the start and end fields show. */
function formatLocal(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A local `YYYY-MM-DD HH:MM[:SS]` (or anything Date parses, e.g. RFC 3339); null when invalid. */
function parseLocal(text) {
  const m = text.trim().match(/^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/);
  const t = m ? new Date(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) : new Date(text.trim());
  return isNaN(t) ? null : t;
}

function opOf(m) { return m.isRegex ? (m.isEqual === false ? '!~' : '=~') : (m.isEqual === false ? '!=' : '='); }

async function call(method, url, body) {
  const res = await fetch(url, { method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  if (!res.ok) throw new Error(text || ('HTTP ' + res.status));
  return text ? JSON.parse(text) : null;
}

export function SilencesPage({ search }) {
  const params = new URLSearchParams(search || '');
  const [silences, setSilences] = useState(null);
  const [alerts, setAlerts] = useState([]);
  const [error, setError] = useState(null);
  const [rows, setRows] = useState(() => {
    const pre = params.getAll('matcher').map(parseMatcher).filter(Boolean);
    return pre.length ? pre : [{ name: '', op: '=', value: '' }];
  });
  const [duration, setDuration] = useState('2h');
  const [createdBy, setCreatedBy] = useState(() => localStorage.getItem('tsdb.silence.by') || '');
  const [comment, setComment] = useState('');
  const [editing, setEditing] = useState(params.has('matcher'));
  const [editId, setEditId] = useState(null); // the silence being edited (null: a new one)
  const [starts, setStarts] = useState(''); // empty: now
  const [original, setOriginal] = useState(null); // the edited silence as loaded: start kept to the millisecond
  const [notice, setNotice] = useState(null);
  const load = () => Promise.all([call('GET', '/api/v2/silences'), call('GET', '/api/v2/alerts')])
    .then(([s, a]) => { setSilences(s); setAlerts(a); setError(null); }).catch((e) => setError(e.message));
  useEffect(() => { document.title = 'Silences – tsdb'; load(); }, []);
  const ms = rows.filter((r) => r.name);
  const preview = useMemo(() => {
    if (!ms.length) return [];
    const test = matcherTest(ms);
    return alerts.filter((a) => test(a.labels));
  }, [alerts, JSON.stringify(ms)]);
  const setRow = (i, patch) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  // The start: empty is now; the edited silence's own start text keeps its exact time.
  const startFrom = () => {
    if (!starts.trim()) return new Date();
    if (original && starts === formatLocal(original.startsAt)) return new Date(original.startsAt);
    return parseLocal(starts);
  };
  // A duration counts from the start (as in Alertmanager's editor); anything else is the end time.
  const endFrom = (start) => {
    const m = duration.trim().match(/^(\d+)([mhd])$/);
    if (m) return new Date(start.getTime() + Number(m[1]) * { m: 60e3, h: 3600e3, d: 86400e3 }[m[2]]);
    return parseLocal(duration);
  };
  const openNew = () => {
    setEditId(null); setOriginal(null); setStarts(''); setDuration('2h'); setComment(''); setNotice(null);
    setRows([{ name: '', op: '=', value: '' }]); setEditing(true);
  };
  const openEdit = (s) => {
    setEditId(s.id); setOriginal(s); setNotice(null);
    setRows(s.matchers.map((m) => ({ name: m.name, op: opOf(m), value: m.value })));
    setStarts(formatLocal(s.startsAt)); setDuration(formatLocal(s.endsAt));
    setCreatedBy(s.createdBy || ''); setComment(s.comment || ''); setEditing(true);
    requestAnimationFrame(() => { const f = document.querySelector('[data-testid=silence-form]'); if (f) f.scrollIntoView({ block: 'start' }); });
  };
  const create = async (e) => {
    e.preventDefault();
    const start = startFrom();
    if (!start) { setError('Start: use YYYY-MM-DD HH:MM, or leave it empty for now'); return; }
    const end = endFrom(start);
    if (!end) { setError('Duration: use e.g. 30m, 2h, 1d or an end time (YYYY-MM-DD HH:MM)'); return; }
    try {
      localStorage.setItem('tsdb.silence.by', createdBy);
      const body = {
        matchers: ms.map((m) => ({ name: m.name, value: m.value, isRegex: m.op.includes('~'), isEqual: !m.op.startsWith('!') })),
        startsAt: start.toISOString(), endsAt: end.toISOString(), createdBy, comment };
      if (editId) {
        body.id = editId;
        if (original && original.tsdbRecurrence) body.tsdbRecurrence = original.tsdbRecurrence;
      }
      const res = await call('POST', '/api/v2/silences', body);
      const id = res && res.silenceID;
      setNotice(editId && id && id !== editId
        ? `Saved as a new silence ${id}: its matchers or start changed, so silence ${editId} was expired (as Alertmanager does).`
        : null);
      setEditing(false); setEditId(null); setOriginal(null); setComment(''); setStarts(''); setError(null);
      await load();
    } catch (err) { setError(err.message); }
  };
  const expire = async (id) => { try { await call('DELETE', `/api/v2/silence/${id}`); await load(); } catch (err) { setError(err.message); } };
  const show = (m) => `${m.name}${m.isRegex ? (m.isEqual === false ? '!~' : '=~') : (m.isEqual === false ? '!=' : '=')}"${m.value}"`;
  const groups = ['active', 'pending', 'expired'].map((state) => [state, (silences || []).filter((s) => s.status.state === state)]);
  return (
    <div class="page">
      <TopBar title="Silences">
        <button class="btn primary" onClick={openNew} data-testid="silence-new">New silence</button>
      </TopBar>
      <div class="page-body al-page" data-testid="silences-page">
        {error && <div class="panel-error big" role="alert" data-testid="silence-error">{error}</div>}
        {notice && <div class="al-card small al-notice" role="status" data-testid="silence-notice">{notice}</div>}
        {editing && (
          <form class="al-card al-form" onSubmit={create} data-testid="silence-form">
            <h3>{editId ? 'Edit silence' : 'New silence'}</h3>
            {editId && <div class="muted small al-break" data-testid="silence-edit-id">{editId}</div>}
            {rows.map((r, i) => (
              <div class="al-matcher">
                <input placeholder="label" value={r.name} onInput={(e) => setRow(i, { name: e.target.value })} data-testid="matcher-name" aria-label="Label name" />
                <select value={r.op} onChange={(e) => setRow(i, { op: e.target.value })} aria-label="Operator">{OPS.map((o) => <option>{o}</option>)}</select>
                <input placeholder="value" value={r.value} onInput={(e) => setRow(i, { value: e.target.value })} data-testid="matcher-value" aria-label="Label value" />
                <button type="button" class="icon-btn" onClick={() => setRows(rows.filter((_, j) => j !== i))} aria-label="Remove matcher">✕</button>
              </div>
            ))}
            <div><button type="button" class="btn small" onClick={() => setRows([...rows, { name: '', op: '=', value: '' }])}>Add matcher</button></div>
            <div class="al-times">
              <label>Start <input value={starts} placeholder="now" onInput={(e) => setStarts(e.target.value)} data-testid="silence-start" aria-describedby="silence-time-help" /></label>
              <label>Duration or end time <input value={duration} onInput={(e) => setDuration(e.target.value)} data-testid="silence-duration" aria-describedby="silence-time-help" /></label>
            </div>
            <div class="muted small" id="silence-time-help">Times as YYYY-MM-DD HH:MM (local); a duration (30m, 2h, 1d) counts from the start.</div>
            <label>Created by <input required value={createdBy} onInput={(e) => setCreatedBy(e.target.value)} data-testid="silence-by" /></label>
            <label>Comment <textarea required rows="2" value={comment} onInput={(e) => setComment(e.target.value)} data-testid="silence-comment" /></label>
            <div class="small" data-testid="silence-preview">Matches {preview.length} current alert{preview.length === 1 ? '' : 's'}{preview.length ? ': ' + preview.slice(0, 10).map((a) => a.labels.alertname + (a.labels.instance ? ` (${a.labels.instance})` : '')).join(', ') : ''}</div>
            <div class="al-actions"><button class="btn primary" type="submit" disabled={!ms.length} data-testid="silence-create">{editId ? 'Save' : 'Create'}</button>
              <button type="button" class="btn" onClick={() => { setEditing(false); setEditId(null); setOriginal(null); }} data-testid="silence-cancel">Cancel</button></div>
          </form>
        )}
        {!silences && !error && <div class="center"><span class="spinner" /></div>}
        {silences && groups.map(([state, list]) => (
          <section class="al-card" data-testid={'silences-' + state}>
            <h3>{state[0].toUpperCase() + state.slice(1)} ({list.length})</h3>
            <ul class="al-list">
              {list.map((s) => (
                <li data-silence-id={s.id}>
                  <div class="al-labels">{s.matchers.map((m) => <span class="chip small al-label">{show(m)}</span>)}</div>
                  <div class="small al-break" data-testid="silence-comment-text">{s.comment} <span class="muted">— {s.createdBy}, {state === 'pending' ? `from ${new Date(s.startsAt).toLocaleString()} ` : ''}until <span data-testid="silence-ends">{new Date(s.endsAt).toLocaleString()}</span></span></div>
                  {state !== 'expired' && <div class="al-actions">
                    <button class="btn small" onClick={() => openEdit(s)} data-testid="silence-edit">Edit</button>
                    <button class="btn small danger" onClick={() => expire(s.id)} data-testid="silence-expire">Expire</button>
                  </div>}
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    </div>
  );
}
