// On-call page (/ui/oncall): per schedule, who is on call now and why (layer or override), the next
// hand-offs, and a timeline (1, 7 or 14 days; previous / next) with one row per layer, one for overrides and
// the final "on call" row. A form creates an override (stored by the server, survives restarts); overrides
// created at runtime can be deleted, the ones from the config file are read-only. Refreshes every 30 s.
import { useEffect, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';
import { userColor, place, dayTicks, toLocalInput, fromLocalInput, formatWhen, hourStart } from '../lib/oncall.js';

const HOUR = 3600e3;
const DAY = 24 * HOUR;
const SPANS = [1, 7, 14];

async function call(method, url, body) {
  const res = await fetch(url, { method, headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok || !json || json.status !== 'success') throw new Error((json && json.error) || text || ('HTTP ' + res.status));
  return json.data;
}

const ms = (iso) => Date.parse(iso);

function Segments({ segments, start, end, users, testid, empty }) {
  return (
    <div class="oc-track" data-testid={testid}>
      {segments.map((s) => {
        const p = place(ms(s.start), ms(s.end), start, end);
        if (!p) return null;
        const who = s.user || 'nobody';
        const why = s.source ? ` (${s.source}${s.runtime === false ? ', config' : ''})` : '';
        const title = `${who}: ${formatWhen(ms(s.start))} – ${formatWhen(ms(s.end))}${why}`;
        return (
          <div class={'oc-seg' + (s.user ? '' : ' oc-gap')} title={title} data-user={s.user || ''}
            data-source={s.source || ''} data-override-id={s.override_id || s.id || ''}
            style={{ left: p.left + '%', width: p.width + '%', background: s.user ? userColor(users, s.user) : undefined }}>
            <span class="oc-seg-text">{who}</span>
          </div>
        );
      })}
      {segments.length === 0 && <span class="oc-empty muted small">{empty}</span>}
    </div>
  );
}

function Timeline({ data, start, end, now }) {
  const users = data.users;
  const ticks = dayTicks(start, end);
  const nowPos = place(now, now + 1, start, end);
  const overrides = data.overrides.map((o) => ({ ...o, source: 'override' }));
  const rows = [
    ...data.layers.map((l) => ({ key: 'layer-' + l.index, label: `Layer ${l.index}`, hint: l.users.join(', '),
      segments: l.segments, empty: 'nobody in this window' })),
    { key: 'overrides', label: 'Overrides', segments: overrides, empty: 'none' },
    { key: 'final', label: 'On call', segments: data.final, final: true, empty: '' },
  ];
  return (
    <div class="oc-scroll" data-testid="oc-timeline">
      <div class={'oc-grid' + (end - start > 7 * DAY ? ' oc-wide' : '')}>
        <div class="oc-row oc-axis">
          <div class="oc-label" />
          <div class="oc-track">
            {ticks.map((t) => <span class="oc-tick" style={{ left: t.left + '%' }}>{t.label}</span>)}
          </div>
        </div>
        {rows.map((r) => (
          <div class={'oc-row' + (r.final ? ' oc-final' : '')} data-row={r.key}>
            <div class="oc-label" title={r.hint || r.label}>{r.label}{r.hint && <span class="oc-hint">{r.hint}</span>}</div>
            <div class="oc-lane">
              {ticks.map((t) => <span class="oc-line" style={{ left: t.left + '%' }} />)}
              {nowPos && <span class="oc-now" style={{ left: nowPos.left + '%' }} title="now" />}
              <Segments segments={r.segments} start={start} end={end} users={users} testid={'oc-row-' + r.key}
                empty={r.empty} />
            </div>
          </div>
        ))}
      </div>
    </div>
  );
}

function OverrideForm({ schedule, users, onDone }) {
  const [user, setUser] = useState(users[0] || '');
  const [from, setFrom] = useState(() => toLocalInput(Date.now()));
  const [to, setTo] = useState(() => toLocalInput(Date.now() + HOUR));
  const [by, setBy] = useState(() => localStorage.getItem('tsdb.oncall.by') || '');
  const [comment, setComment] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const a = fromLocalInput(from);
    const b = fromLocalInput(to);
    if (Number.isNaN(a) || Number.isNaN(b)) { setError('Enter a start and an end.'); return; }
    if (b <= a) { setError('The end must be after the start.'); return; }
    setBusy(true);
    try {
      localStorage.setItem('tsdb.oncall.by', by);
      await call('POST', `/api/v1/oncall/${encodeURIComponent(schedule)}/overrides`,
        { user, start: new Date(a).toISOString(), end: new Date(b).toISOString(), created_by: by, comment });
      setError(null); setComment('');
      onDone();
    } catch (err) { setError(err.message); } finally { setBusy(false); }
  };
  return (
    <form class="oc-form" onSubmit={submit} data-testid="oc-override-form">
      <label>User
        <select value={user} onChange={(e) => setUser(e.currentTarget.value)} data-testid="oc-form-user">
          {users.map((u) => <option value={u}>{u}</option>)}
        </select>
      </label>
      <label>Start <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} data-testid="oc-form-start" required /></label>
      <label>End <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} data-testid="oc-form-end" required /></label>
      <label>Created by <input value={by} onInput={(e) => setBy(e.currentTarget.value)} placeholder="your name" /></label>
      <label class="oc-form-wide">Comment <input value={comment} onInput={(e) => setComment(e.currentTarget.value)} placeholder="optional" data-testid="oc-form-comment" /></label>
      <div class="oc-form-actions">
        <button class="btn primary" type="submit" disabled={busy || !user} data-testid="oc-form-submit">Add override</button>
        {error && <span class="oc-error" role="alert" data-testid="oc-form-error">{error}</span>}
      </div>
    </form>
  );
}

function ScheduleCard({ summary, onChange }) {
  const name = summary.schedule;
  const [days, setDays] = useState(7);
  const [start, setStart] = useState(() => hourStart(Date.now()));
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [showForm, setShowForm] = useState(false);
  const [tick, setTick] = useState(0);
  const end = start + days * DAY;
  useEffect(() => {
    let alive = true;
    call('GET', `/api/v1/oncall/${encodeURIComponent(name)}/timeline?start=${start / 1000}&end=${end / 1000}`)
      .then((d) => { if (alive) { setData(d); setError(null); } })
      .catch((e) => alive && setError(e.message));
    return () => { alive = false; };
  }, [name, start, end, tick, summary]);
  const reload = () => { setTick((t) => t + 1); onChange(); };
  const remove = async (id) => {
    try { await call('DELETE', `/api/v1/oncall/${encodeURIComponent(name)}/overrides/${encodeURIComponent(id)}`); reload(); } catch (e) { setError(e.message); }
  };
  const now = Date.now();
  return (
    <section class="al-card oc-card" data-schedule={name}>
      <h3>{name}</h3>
      <p data-testid="oncall-now">{summary.user
        ? <span>On call now: <strong style={{ color: data ? userColor(data.users, summary.user) : undefined }}>{summary.user}</strong> <span class="muted small">({summary.source})</span></span>
        : <span class="warn-text">Nobody is on call now.</span>}</p>
      <details class="oc-handoffs" open>
        <summary class="small">Next hand-offs</summary>
        <ul class="al-list small" data-testid="oncall-handoffs">
          {summary.handoffs.length === 0 && <li class="muted">none in the next 7 days</li>}
          {summary.handoffs.map((h) => (
            <li><span class="muted">{formatWhen(ms(h.at))}</span> {h.from || 'nobody'} → <strong>{h.user || 'nobody'}</strong> <span class="muted">({h.source || 'gap'})</span></li>
          ))}
        </ul>
      </details>
      <div class="oc-toolbar">
        <div class="oc-btns" role="group" aria-label="Window">
          {SPANS.map((d) => <button type="button" class={'btn small' + (d === days ? ' primary' : '')} aria-pressed={d === days}
            onClick={() => setDays(d)} data-testid={`oc-span-${d}d`}>{d}d</button>)}
        </div>
        <div class="oc-btns">
          <button type="button" class="btn small" onClick={() => setStart(start - days * DAY)} data-testid="oc-prev" aria-label="Previous">‹ Prev</button>
          <button type="button" class="btn small" onClick={() => setStart(hourStart(Date.now()))} data-testid="oc-today">Now</button>
          <button type="button" class="btn small" onClick={() => setStart(start + days * DAY)} data-testid="oc-next" aria-label="Next">Next ›</button>
        </div>
        <span class="muted small oc-range" data-testid="oc-range" title="Times are in your browser's time zone">{formatWhen(start)} – {formatWhen(end)} (local time)</span>
      </div>
      {error && <div class="panel-error" role="alert">{error}</div>}
      {data ? <Timeline data={data} start={start} end={end} now={now} /> : !error && <div class="center"><span class="spinner" /></div>}
      {data && data.users.length > 0 && (
        <div class="oc-legend small">{data.users.map((u) => <span class="oc-legend-item"><span class="oc-swatch" style={{ background: userColor(data.users, u) }} />{u}</span>)}
          <span class="oc-legend-item"><span class="oc-swatch oc-gap" />nobody</span></div>
      )}
      {data && (
        <div class="oc-overrides">
          <div class="oc-overrides-head">
            <strong class="small">Overrides in this window</strong>
            <button type="button" class="btn small" onClick={() => setShowForm(!showForm)} data-testid="oc-add-override" aria-expanded={showForm}>
              {showForm ? 'Close' : 'New override'}</button>
          </div>
          {showForm && <OverrideForm schedule={name} users={data.users} onDone={() => { setShowForm(false); reload(); }} />}
          <ul class="al-list small" data-testid="oc-override-list">
            {data.overrides.length === 0 && <li class="muted">none</li>}
            {data.overrides.map((o) => (
              <li class="oc-override" data-override-id={o.id}>
                <span class="oc-swatch" style={{ background: userColor(data.users, o.user) }} />
                <span><strong>{o.user}</strong> {formatWhen(ms(o.start))} – {formatWhen(ms(o.end))}
                  {o.created_by && <span class="muted"> · by {o.created_by}</span>}
                  {o.comment && <span class="muted"> · {o.comment}</span>}</span>
                {o.runtime
                  ? <button type="button" class="btn small danger" onClick={() => remove(o.id)} data-testid="oc-override-delete">Delete</button>
                  : <span class="muted oc-readonly" title="Defined in the config file">config (read-only)</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

export function OnCallPage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    document.title = 'On call – tsdb';
    let alive = true;
    const load = () => call('GET', '/api/v1/oncall').then((d) => {
      if (alive) { setData(d); setError(null); }
    }).catch((e) => alive && setError(e.message));
    load();
    const timer = setInterval(load, 30000);
    return () => { alive = false; clearInterval(timer); };
  }, [version]);
  return (
    <div class="page">
      <TopBar title="On call" />
      <div class="page-body al-page oc-page" data-testid="oncall-page">
        {error && <div class="panel-error big" role="alert">{error}</div>}
        {!data && !error && <div class="center"><span class="spinner" /></div>}
        {data && data.length === 0 && <p class="muted">No on-call schedules are configured.</p>}
        {(data || []).map((s) => <ScheduleCard key={s.schedule} summary={s} onChange={() => setVersion((v) => v + 1)} />)}
      </div>
    </div>
  );
}
