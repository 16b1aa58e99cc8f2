// On-call page (/ui/oncall): per schedule, who is on call now and why (layer or override), the hand-offs of
// the next 7 days and the configured overrides. Refreshes every 30 s.
import { useEffect, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';

export function OnCallPage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    document.title = 'On call – tsdb';
    let alive = true;
    const load = () => fetch('/api/v1/oncall').then((r) => r.json()).then((j) => {
      if (!alive) return;
      if (j.status !== 'success') throw new Error(j.error || 'request failed');
      setData(j.data); setError(null);
    }).catch((e) => alive && setError(e.message));
    load();
    const timer = setInterval(load, 30000);
    return () => { alive = false; clearInterval(timer); };
  }, []);
  return (
    <div class="page">
      <TopBar title="On call" />
      <div class="page-body al-page" data-testid="oncall-page">
        {error && <div class="panel-error big" role="alert">{error}</div>}
        {!data && !error && <div class="center"><span class="spinner" /></div>}
        {data && data.length === 0 && <p class="muted">No on-call schedules are configured.</p>}
        {(data || []).map((s) => (
          <section class="al-card" data-schedule={s.schedule}>
            <h3>{s.schedule}</h3>
            <p data-testid="oncall-now">{s.user ? <span>On call now: <strong>{s.user}</strong> <span class="muted small">({s.source})</span></span> : <span class="warn-text">Nobody is on call now.</span>}</p>
            <div class="small">Next hand-offs:</div>
            <ul class="al-list small" data-testid="oncall-handoffs">
              {s.handoffs.length === 0 && <li class="muted">none in the next 7 days</li>}
              {s.handoffs.map((h) => <li><span class="muted">{new Date(h.at).toLocaleString()}</span> → {h.user || 'nobody'} <span class="muted">({h.source || '—'})</span></li>)}
            </ul>
            {s.overrides.length > 0 && (
              <div class="small">Overrides: {s.overrides.map((o) => `${o.user} ${new Date(o.start).toLocaleString()} – ${new Date(o.end).toLocaleString()}`).join('; ')}</div>
            )}
          </section>
        ))}
      </div>
    </div>
  );
}
