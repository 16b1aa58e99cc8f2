// Dashboard list (/ui/): search, tag filter, source badges, new and import.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { dashApi } from './api.js';
import { TopBar } from './shell.jsx';

export function ListPage() {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const params = new URLSearchParams(location.search);
  const [q, setQ] = useState(params.get('query') || '');
  const [tags, setTags] = useState(() => params.getAll('tag'));
  useEffect(() => {
    document.title = 'Dashboards – tsdb';
    dashApi.list().then(setItems).catch((e) => setError(e.message));
  }, []);
  // the filter lives in the URL, written together with the state change (not after the next paint)
  const syncUrl = (nq, ntags) => {
    const p = new URLSearchParams();
    if (nq) p.set('query', nq);
    ntags.forEach((t) => p.append('tag', t));
    const s = p.toString();
    history.replaceState(null, '', '/ui/' + (s ? '?' + s : ''));
  };
  const allTags = useMemo(() => [...new Set((items || []).flatMap((d) => d.tags || []))].sort(), [items]);
  const shown = (items || []).filter((d) => (!q || d.title.toLowerCase().includes(q.toLowerCase()) || (d.tags || []).some((t) => t.toLowerCase().includes(q.toLowerCase())))
    && tags.every((t) => (d.tags || []).includes(t)));
  const toggleTag = (t) => {
    const next = tags.includes(t) ? tags.filter((x) => x !== t) : [...tags, t];
    syncUrl(q, next);
    setTags(next);
  };
  return (
    <div class="page">
      <TopBar title="Dashboards">
        <a class="btn" href="/ui/import" data-testid="import-button">Import</a>
        <a class="btn primary" href="/ui/new" data-testid="new-dashboard">New dashboard</a>
      </TopBar>
      <div class="page-body list-page">
        <div class="list-controls">
          <input type="search" class="search" placeholder="Search dashboards" value={q} data-testid="dashboard-search"
            onInput={(e) => { syncUrl(e.target.value, tags); setQ(e.target.value); }} aria-label="Search dashboards" />
          <div class="chips">
            {allTags.map((t) => (
              <button class={'chip' + (tags.includes(t) ? ' active' : '')} aria-pressed={tags.includes(t)} onClick={() => toggleTag(t)} data-testid={'tag-' + t}>{t}</button>
            ))}
          </div>
        </div>
        {error && <div class="panel-error big" role="alert">Could not list dashboards: {error}</div>}
        {!items && !error && <div class="center"><span class="spinner" /></div>}
        {items && (
          <ul class="dash-list" data-testid="dashboard-list">
            {shown.map((d) => (
              <li key={d.uid} data-uid={d.uid}>
                <a class="dash-link" href={`/ui/d/${encodeURIComponent(d.uid)}`}>{d.title}</a>
                {d.source && d.source !== 'api' && <span class={'badge src-' + d.source} title={d.source === 'builtin' ? 'Built into tsdb (read-only)' : 'Provisioned from a file (read-only)'}>{d.source}</span>}
                <span class="tags">{(d.tags || []).map((t) => <button class={'chip small' + (tags.includes(t) ? ' active' : '')} onClick={() => toggleTag(t)}>{t}</button>)}</span>
              </li>
            ))}
            {shown.length === 0 && <li class="muted">{items.length ? 'No dashboard matches.' : 'No dashboards yet.'}</li>}
          </ul>
        )}
      </div>
    </div>
  );
}
