// Notifications page (/ui/notifications): the delivery log (receiver, channel, status, attempts, last error,
// rate-limited counts), filterable by receiver, channel and outcome, and the open and recent incidents.
// Refreshes every 5 s.
import { useEffect, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';

async function data(url) {
  const res = await fetch(url);
  if (res.status === 404) return null; // the feature is off
  const j = await res.json();
  if (j.status !== 'success') throw new Error(j.error || 'request failed');
  return j.data;
}

export function NotificationsPage() {
  const [log, setLog] = useState(null);
  const [incidents, setIncidents] = useState(null);
  const [error, setError] = useState(null);
  const [q, setQ] = useState('');
  const [outcome, setOutcome] = useState('all');
  useEffect(() => {
    document.title = 'Notifications – tsdb';
    let alive = true;
    const load = () => Promise.all([data('/api/v1/notifications'), data('/api/v1/incidents')])
      .then(([l, i]) => { if (alive) { setLog(l || []); setIncidents(i); setError(null); } })
      .catch((e) => alive && setError(e.message));
    load();
    const timer = setInterval(load, 5000);
    return () => { alive = false; clearInterval(timer); };
  }, []);
  const needle = q.toLowerCase();
  const kind = (e) => (e.error === 'rate limited' ? 'limited' : e.ok ? 'ok' : 'failed');
  const shown = (log || []).slice().reverse().filter((e) => (outcome === 'all' || kind(e) === outcome)
    && (!needle || `${e.receiver} ${e.integration} ${e.error}`.toLowerCase().includes(needle)));
  const limited = {};
  for (const e of log || []) if (kind(e) === 'limited') limited[e.receiver] = (limited[e.receiver] || 0) + 1;
  return (
    <div class="page">
      <TopBar title="Notifications" />
      <div class="page-body al-page" data-testid="notifications-page">
        {error && <div class="panel-error big" role="alert">{error}</div>}
        <div class="al-filters">
          {['all', 'ok', 'failed', 'limited'].map((o) => (
            <button class={'chip' + (outcome === o ? ' active' : '')} aria-pressed={outcome === o} onClick={() => setOutcome(o)} data-testid={'outcome-' + o}>{o}</button>
          ))}
          <input type="search" class="search al-search" placeholder="Receiver, channel or error" value={q} onInput={(e) => setQ(e.target.value)} aria-label="Filter deliveries" data-testid="deliveries-filter" />
        </div>
        {Object.keys(limited).length > 0 && <p class="warn-text small" data-testid="rate-limited">Rate-limited: {Object.entries(limited).map(([r, n]) => `${r} ${n}`).join(', ')}</p>}
        <section class="al-card"><h3>Deliveries ({shown.length})</h3>
          {!log && !error && <span class="spinner" />}
          <ul class="al-list" data-testid="deliveries">
            {shown.slice(0, 300).map((e) => (
              <li data-receiver={e.receiver} data-outcome={kind(e)}>
                <span class={'al-state ' + (e.ok ? 'al-inactive' : 'al-firing')}>{kind(e)}</span> <strong>{e.receiver}</strong>{' '}
                <span class="muted small">{e.integration || '—'} · {e.attempts} attempt{e.attempts === 1 ? '' : 's'}{e.status ? ' · HTTP ' + e.status : ''} · {new Date(e.time * 1000).toLocaleString()}</span>
                {e.error && <div class="error-text small al-break">{e.error}</div>}
              </li>
            ))}
          </ul>
        </section>
        {incidents && (
          <section class="al-card" data-testid="incidents"><h3>Incidents ({incidents.length})</h3>
            <ul class="al-list">
              {incidents.slice(0, 100).map((i) => (
                <li><span class={'al-state ' + (i.status === 'resolved' ? 'al-resolved' : 'al-firing')}>{i.status}</span>{' '}
                  {Object.entries(i.rootCause || {}).map(([k, v]) => `${k}="${v}"`).join(', ')}
                  <span class="muted small"> · {i.alerts.length} alerts · since {new Date(i.started * 1000).toLocaleString()}</span></li>
              ))}
            </ul>
          </section>
        )}
      </div>
    </div>
  );
}
