// Silences page (/ui/silences): active, pending and expired silences with creator and comment; create
// (matchers, duration or end time, preview of the alerts they match) and expire, over the Alertmanager
// API v2. ``?matcher=name=value`` (repeatable) pre-fills the editor ("silence this" links).
import { useEffect, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';

const OPS = ['=', '!=', '=~', '!~'];

function parseMatcher(text) {
  const m = text.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$/);
  return m ? { name: m[1], op: m[2], value: m[3] } : null;
}

function matches(ms, labels) {
  return ms.every((m) => {
    const v = labels[m.name] || '';
    let ok;
    if (m.op === '=' || m.op === '!=') ok = v === m.value;
    else { try { ok = new RegExp('^(?:' + m.value + ')$').test(v); } catch { return false; } }
    return m.op.startsWith('!') ? !ok : ok;
  });
}

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
  const load = () => Promise.all([call('GET', '/api/v2/silences'), call('GET', '/api/v2/alerts')])
    .then(([s, a]) => { setSilences(s); setAlerts(a); setError(null); }).catch((e) => setError(e.message));
  useEffect(() => { document.title = 'Silences – tsdb'; load(); }, []);
  const ms = rows.filter((r) => r.name);
  const preview = ms.length ? alerts.filter((a) => matches(ms, a.labels)) : [];
  const setRow = (i, patch) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const endFrom = () => {
    const m = duration.match(/^(\d+)([mhd])$/);
    if (m) return new Date(Date.now() + Number(m[1]) * { m: 60e3, h: 3600e3, d: 86400e3 }[m[2]]);
    const t = new Date(duration);
    return isNaN(t) ? null : t;
  };
  const create = async (e) => {
    e.preventDefault();
    const end = endFrom();
    if (!end) { setError('Duration: use e.g. 30m, 2h, 1d or an end time'); return; }
    try {
      localStorage.setItem('tsdb.silence.by', createdBy);
      await call('POST', '/api/v2/silences', {
        matchers: ms.map((m) => ({ name: m.name, value: m.value, isRegex: m.op.includes('~'), isEqual: !m.op.startsWith('!') })),
        startsAt: new Date().toISOString(), endsAt: end.toISOString(), createdBy, comment });
      setEditing(false); setComment('');
      await load();
    } catch (err) { setError(err.message); }
  };
  const expire = async (id) => { try { await call('DELETE', `/api/v2/silence/${id}`); await load(); } catch (err) { setError(err.message); } };
  const show = (m) => `${m.name}${m.isRegex ? (m.isEqual === false ? '!~' : '=~') : (m.isEqual === false ? '!=' : '=')}"${m.value}"`;
  const groups = ['active', 'pending', 'expired'].map((state) => [state, (silences || []).filter((s) => s.status.state === state)]);
  return (
    <div class="page">
      <TopBar title="Silences">
        <button class="btn primary" onClick={() => setEditing(true)} data-testid="silence-new">New silence</button>
      </TopBar>
      <div class="page-body al-page" data-testid="silences-page">
        {error && <div class="panel-error big" role="alert" data-testid="silence-error">{error}</div>}
        {editing && (
          <form class="al-card al-form" onSubmit={create} data-testid="silence-form">
            <h3>New silence</h3>
            {rows.map((r, i) => (
              <div class="al-matcher">
                <input placeholder="label" value={r.name} onInput={(e) => setRow(i, { name: e.target.value })} data-testid="matcher-name" aria-label="Label name" />
                <select value={r.op} onChange={(e) => setRow(i, { op: e.target.value })} aria-label="Operator">{OPS.map((o) => <option>{o}</option>)}</select>
                <input placeholder="value" value={r.value} onInput={(e) => setRow(i, { value: e.target.value })} data-testid="matcher-value" aria-label="Label value" />
                <button type="button" class="icon-btn" onClick={() => setRows(rows.filter((_, j) => j !== i))} aria-label="Remove matcher">✕</button>
              </div>
            ))}
            <div><button type="button" class="btn small" onClick={() => setRows([...rows, { name: '', op: '=', value: '' }])}>Add matcher</button></div>
            <label>Duration or end time <input value={duration} onInput={(e) => setDuration(e.target.value)} data-testid="silence-duration" /></label>
            <label>Created by <input required value={createdBy} onInput={(e) => setCreatedBy(e.target.value)} data-testid="silence-by" /></label>
            <label>Comment <textarea required rows="2" value={comment} onInput={(e) => setComment(e.target.value)} data-testid="silence-comment" /></label>
            <div class="small" data-testid="silence-preview">Matches {preview.length} current alert{preview.length === 1 ? '' : 's'}{preview.length ? ': ' + preview.slice(0, 10).map((a) => a.labels.alertname + (a.labels.instance ? ` (${a.labels.instance})` : '')).join(', ') : ''}</div>
            <div><button class="btn primary" type="submit" disabled={!ms.length} data-testid="silence-create">Create</button>
              <button type="button" class="btn" onClick={() => setEditing(false)}>Cancel</button></div>
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
                  <div class="small">{s.comment} <span class="muted">— {s.createdBy}, until {new Date(s.endsAt).toLocaleString()}</span></div>
                  {state !== 'expired' && <button class="btn small danger" onClick={() => expire(s.id)} data-testid="silence-expire">Expire</button>}
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    </div>
  );
}
