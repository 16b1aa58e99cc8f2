// The metrics explorer (/ui/metrics): every metric name with its help, type and series count; paged, filtered.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';
import { promData } from './status.jsx';
import { graphUrl } from '../lib/graphurl.js';

const PAGE = 100;

async function seriesCounts() {
  const res = await fetch('/api/v1/query', { method: 'POST', body: new URLSearchParams({ query: 'count by (__name__) ({__name__=~".+"})' }) });
  const j = await res.json();
  const out = {};
  if (j.status === 'success') for (const r of j.data.result) out[r.metric.__name__] = Number(r.value[1]);
  return out;
}

export function MetricsPage() {
  const [state, setState] = useState({ names: null, meta: {}, counts: {}, error: null });
  const [filter, setFilter] = useState('');
  const [page, setPage] = useState(0);
  useEffect(() => {
    document.title = 'Metrics – tsdb';
    document.body.dataset.dashboardState = 'loading';
    Promise.all([promData('/api/v1/label/__name__/values'), promData('/api/v1/metadata'), seriesCounts()])
      .then(([names, meta, counts]) => setState({ names, meta, counts, error: null }))
      .catch((e) => setState({ names: null, meta: {}, counts: {}, error: e.message }))
      .finally(() => { document.body.dataset.dashboardState = 'settled'; });
    return () => { delete document.body.dataset.dashboardState; };
  }, []);
  const shown = useMemo(() => {
    const f = filter.toLowerCase();
    return (state.names || []).filter((n) => !f || n.toLowerCase().includes(f) || ((state.meta[n] || [])[0]?.help || '').toLowerCase().includes(f));
  }, [state, filter]);
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const cur = Math.min(page, pages - 1);
  return (
    <div class="page status-page" data-testid="metrics-page">
      <TopBar title="Metrics" />
      <div class="page-body">
        {state.error && <div class="panel-error" role="alert">{state.error}</div>}
        {!state.names && !state.error && <div class="spinner" />}
        {state.names && (
          <div>
            <div class="graph-controls">
              <input type="search" placeholder="Filter metrics by name or help" value={filter} data-testid="metrics-filter"
                onInput={(e) => { setFilter(e.target.value); setPage(0); }} />
              <span class="muted" data-testid="metrics-count">{shown.length} of {state.names.length} metrics</span>
            </div>
            <ul class="metric-list">
              {shown.slice(cur * PAGE, cur * PAGE + PAGE).map((n) => {
                const m = (state.meta[n] || [])[0] || {};
                return (
                  <li data-testid="metric" data-metric={n}>
                    <a href={graphUrl(n)} class="metric-name">{n}</a>
                    {m.type && <span class="badge">{m.type}</span>}
                    <span class="badge" title="series">{state.counts[n] ?? 0} series</span>
                    {m.help && <div class="muted small">{m.help}</div>}
                  </li>
                );
              })}
            </ul>
            {pages > 1 && (
              <div class="graph-controls">
                <button class="btn small" disabled={cur === 0} onClick={() => setPage(cur - 1)}>Previous</button>
                <span class="muted">page {cur + 1} of {pages}</span>
                <button class="btn small" disabled={cur >= pages - 1} onClick={() => setPage(cur + 1)}>Next</button>
              </div>
            )}
          </div>
        )}
      </div>
    </div>
  );
}
