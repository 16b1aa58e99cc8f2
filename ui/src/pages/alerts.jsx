// Alerts page (/ui/alerts): alerting rules grouped by file and group, each with its state and active alerts
// (labels, annotations, active since, value); filters by state and by label or text; live over server-sent
// events (/api/v1/alerts/stream); optional browser notifications for newly firing alerts; "Silence" links
// open the silence editor pre-filled. At most 200 alerts per rule are drawn (the count shows them all).
import { useEffect, useRef, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';

const STATES = ['firing', 'pending', 'inactive'];
const SHOWN = 200;

function alertState(a) { return a.keepFiringSince ? 'keep-firing' : a.state; }

function silenceLink(labels) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(labels)) p.append('matcher', `${k}=${v}`);
  return '/ui/silences?' + p.toString();
}

export function AlertsPage() {
  const [data, setData] = useState(null);
  const [live, setLive] = useState('connecting');
  const [states, setStates] = useState(['firing', 'pending']);
  const [q, setQ] = useState('');
  const [notify, setNotify] = useState(() => localStorage.getItem('tsdb.alerts.notify') === '1');
  const seen = useRef(null);
  useEffect(() => {
    document.title = 'Alerts – tsdb';
    const source = new EventSource('/api/v1/alerts/stream');
    source.onopen = () => setLive('live');
    source.onerror = () => setLive('reconnecting');
    source.onmessage = (e) => { setData(JSON.parse(e.data)); setLive('live'); };
    return () => source.close();
  }, []);
  useEffect(() => {
    if (!data) return;
    const firing = new Set();
    for (const g of data.groups) for (const r of g.rules) for (const a of r.alerts) if (a.state === 'firing') firing.add(JSON.stringify(a.labels));
    if (seen.current && notify && window.Notification && Notification.permission === 'granted') {
      for (const key of firing) if (!seen.current.has(key)) new Notification('Firing: ' + (JSON.parse(key).alertname || 'alert'), { body: key });
    }
    seen.current = firing;
  }, [data, notify]);
  const toggleNotify = async () => {
    let on = !notify;
    if (on && window.Notification && Notification.permission !== 'granted') on = (await Notification.requestPermission()) === 'granted';
    localStorage.setItem('tsdb.alerts.notify', on ? '1' : '0');
    setNotify(on);
  };
  const needle = q.toLowerCase();
  const textOk = (r, a) => !needle || (r.name + ' ' + JSON.stringify(a ? [a.labels, a.annotations] : [r.labels, r.annotations])).toLowerCase().includes(needle);
  const files = new Map();
  for (const g of (data ? data.groups : [])) {
    const rules = g.rules.filter((r) => states.includes(r.state)).map((r) => ({ ...r, shown: r.alerts.filter((a) => textOk(r, a)) }))
      .filter((r) => r.shown.length || (r.alerts.length === 0 && textOk(r)));
    if (!rules.length) continue;
    if (!files.has(g.file)) files.set(g.file, []);
    files.get(g.file).push({ ...g, rules });
  }
  const counts = Object.fromEntries(STATES.map((s) => [s, data ? data.groups.flatMap((g) => g.rules).filter((r) => r.state === s).length : 0]));
  return (
    <div class="page">
      <TopBar title="Alerts">
        <span class={'badge' + (live === 'live' ? '' : ' warn')} data-testid="alerts-live">{live}</span>
        <button class={'btn small' + (notify ? ' primary' : '')} onClick={toggleNotify} aria-pressed={notify} data-testid="alerts-notify">Browser notifications</button>
      </TopBar>
      <div class="page-body al-page" data-testid="alerts-page">
        <div class="al-filters">
          {STATES.map((s) => (
            <button class={'chip' + (states.includes(s) ? ' active' : '')} aria-pressed={states.includes(s)} data-testid={'filter-' + s}
              onClick={() => setStates(states.includes(s) ? states.filter((x) => x !== s) : [...states, s])}>{s} ({counts[s]})</button>
          ))}
          <input type="search" class="search al-search" placeholder="Filter by label or text" value={q} onInput={(e) => setQ(e.target.value)} aria-label="Filter alerts" data-testid="alerts-filter" />
        </div>
        {!data && <div class="center"><span class="spinner" /></div>}
        {data && files.size === 0 && <p class="muted">No alerting rule matches.</p>}
        {[...files.entries()].map(([file, groups]) => (
          <section class="al-card">
            <div class="muted small al-break">{file}</div>
            {groups.map((g) => (
              <div class="al-group"><h3>{g.name}</h3>
                {g.rules.map((r) => (
                  <details class="al-rule" data-rule={r.name} data-state={r.state} open={r.state !== 'inactive'}>
                    <summary><span class={'al-state al-' + r.state}>{r.state}</span> {r.name} <span class="badge">{r.alerts.length}</span></summary>
                    <ul class="al-list">
                      {r.shown.slice(0, SHOWN).map((a) => (
                        <li data-testid="alert-item">
                          <span class={'al-state al-' + a.state}>{alertState(a)}</span>{' '}
                          <span class="al-labels">{Object.entries(a.labels).filter(([k]) => k !== 'alertname').map(([k, v]) => <span class="chip small al-label">{k}="{v}"</span>)}</span>
                          {Object.entries(a.annotations || {}).map(([k, v]) => <div class="small al-break"><span class="muted">{k}:</span> {v}</div>)}
                          <div class="muted small">active since {new Date(a.activeAt).toLocaleString()} · value {a.value}{' '}
                            <a href={silenceLink(a.labels)} data-testid="silence-this">Silence</a></div>
                        </li>
                      ))}
                      {r.shown.length > SHOWN && <li class="muted small">{r.shown.length - SHOWN} more; narrow the filter to see them.</li>}
                    </ul>
                  </details>
                ))}
              </div>
            ))}
          </section>
        ))}
      </div>
    </div>
  );
}
