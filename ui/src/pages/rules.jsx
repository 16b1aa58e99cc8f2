// Rules page (/ui/rules): every rule group by file, each rule's health, last error, last evaluation and its
// duration, and its query linked to the query explorer (/graph). Refreshes every 10 s.
import { useEffect, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';

function graphLink(expr) {
  return '/graph?' + new URLSearchParams({ 'g0.expr': expr, 'g0.tab': '0' }).toString();
}

function ago(iso) {
  const t = Date.parse(iso);
  if (!t || t < 0) return 'never';
  return Math.max(0, Math.round((Date.now() - t) / 1000)) + ' s ago';
}

export function RulesPage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [q, setQ] = useState('');
  useEffect(() => {
    document.title = 'Rules – tsdb';
    let alive = true;
    const load = () => fetch('/api/v1/rules?exclude_alerts=true').then((r) => r.json()).then((j) => {
      if (!alive) return;
      if (j.status !== 'success') throw new Error(j.error || 'request failed');
      setData(j.data); setError(null);
    }).catch((e) => alive && setError(e.message));
    load();
    const timer = setInterval(load, 10000);
    return () => { alive = false; clearInterval(timer); };
  }, []);
  const needle = q.toLowerCase();
  const groups = (data ? data.groups : []).map((g) => ({ ...g, rules: g.rules.filter((r) => !needle || (r.name + ' ' + r.query).toLowerCase().includes(needle)) }))
    .filter((g) => g.rules.length);
  return (
    <div class="page">
      <TopBar title="Rules" />
      <div class="page-body al-page" data-testid="rules-page">
        <input type="search" class="search al-search" placeholder="Filter by name or query" value={q} onInput={(e) => setQ(e.target.value)} aria-label="Filter rules" data-testid="rules-filter" />
        {error && <div class="panel-error big" role="alert">{error}</div>}
        {!data && !error && <div class="center"><span class="spinner" /></div>}
        {data && groups.length === 0 && <p class="muted">No rules.</p>}
        {groups.map((g) => (
          <section class="al-card">
            <h3>{g.name}</h3>
            <div class="muted small al-break">{g.file} · every {g.interval} s · last evaluation {ago(g.lastEvaluation)} took {(g.evaluationTime * 1000).toFixed(1)} ms</div>
            <ul class="al-list">
              {g.rules.map((r) => (
                <li data-rule={r.name} data-health={r.health}>
                  <div><span class={'al-state ' + (r.health === 'ok' ? 'al-inactive' : r.health === 'err' ? 'al-firing' : 'al-pending')}>{r.health}</span>{' '}
                    <strong>{r.name}</strong> <span class="muted small">{r.type === 'alerting' ? 'alert' : 'record'}</span></div>
                  <a class="al-query al-break" href={graphLink(r.query)} data-testid="rule-query">{r.query}</a>
                  {r.lastError && <div class="error-text small al-break" data-testid="rule-error">{r.lastError}</div>}
                  <div class="muted small">last evaluation {ago(r.lastEvaluation)}, took {(r.evaluationTime * 1000).toFixed(2)} ms</div>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    </div>
  );
}
