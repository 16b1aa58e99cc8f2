// Escalations page (/ui/escalations): every active alert group with its escalation step, acknowledgement
// and history, each linking to its acknowledgement page. Refreshes every 5 s.
import { useEffect, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';

export function EscalationsPage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [q, setQ] = useState('');
  useEffect(() => {
    document.title = 'Escalations – tsdb';
    let alive = true;
    const load = () => fetch('/api/v1/escalations').then((r) => r.json()).then((j) => {
      if (!alive) return;
      if (j.status !== 'success') throw new Error(j.error || 'request failed');
      setData(j.data); setError(null);
    }).catch((e) => alive && setError(e.message));
    load();
    const timer = setInterval(load, 5000);
    return () => { alive = false; clearInterval(timer); };
  }, []);
  const needle = q.toLowerCase();
  const groups = (data ? data.groups : []).filter((g) => !needle || JSON.stringify([g.groupKey, g.alerts.map((a) => a.labels)]).toLowerCase().includes(needle));
  return (
    <div class="page">
      <TopBar title="Escalations" />
      <div class="page-body al-page" data-testid="escalations-page">
        <input type="search" class="search al-search" placeholder="Filter by label or text" value={q} onInput={(e) => setQ(e.target.value)} aria-label="Filter groups" data-testid="escalations-filter" />
        {error && <div class="panel-error big" role="alert">{error}</div>}
        {!data && !error && <div class="center"><span class="spinner" /></div>}
        {data && groups.length === 0 && <p class="muted">No active alert groups.</p>}
        {groups.map((g) => (
          <section class="al-card" data-group={g.groupKey} data-testid="escalation-group">
            <div><a href={`/ui/ack/${g.token}`}>{g.alerts.map((a) => a.labels.alertname).filter((v, i, all) => all.indexOf(v) === i).join(', ') || g.groupKey}</a>
              <span class="badge">{g.alerts.length} alerts</span> <span class="muted small">receiver {g.receiver}</span></div>
            <div class="small" data-testid="escalation-step">
              {g.escalation ? `Step ${g.escalation.step} of ${g.escalation.steps} (policy ${g.escalation.policy}), next at ${new Date(g.escalation.nextAt).toLocaleString()}` : 'No escalation running'}
              {g.ack ? ` · acknowledged by ${g.ack.by}` : ''}
            </div>
            {g.history.length > 0 && (
              <details><summary class="small">History ({g.history.length})</summary>
                <ul class="al-list small">{g.history.map((h) => <li><span class="muted">{new Date(h.at).toLocaleString()}</span> {h.event}</li>)}</ul>
              </details>
            )}
          </section>
        ))}
      </div>
    </div>
  );
}
