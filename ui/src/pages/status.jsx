// Status pages: scrape targets (/ui/targets), TSDB status (/ui/tsdb-status) and configuration (/ui/config).
import { useEffect, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';
import { formatValue } from '../lib/units.js';

/** GET a Prometheus API path; resolves to its `data`. */
export async function promData(path) {
  const res = await fetch(path);
  const j = await res.json();
  if (j.status !== 'success') throw new Error(j.error || 'HTTP ' + res.status);
  return j.data;
}

// Loads `paths` once (and again every `refreshMs` when given); marks the body settled when done.
function useApi(paths, refreshMs = 0) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    let alive = true;
    const load = () => Promise.all(paths.map(promData))
      .then((data) => { if (alive) setState({ data, error: null }); })
      .catch((e) => { if (alive) setState({ data: null, error: e.message }); })
      .finally(() => { if (alive) document.body.dataset.dashboardState = 'settled'; });
    document.body.dataset.dashboardState = 'loading';
    load();
    const t = refreshMs ? setInterval(load, refreshMs) : 0;
    return () => { alive = false; clearInterval(t); delete document.body.dataset.dashboardState; };
  }, []);
  return state;
}

function Page({ title, testid, state, children }) {
  useEffect(() => { document.title = title + ' – tsdb'; }, []);
  return (
    <div class="page status-page" data-testid={testid}>
      <TopBar title={title} />
      <div class="page-body">
        <nav class="status-tabs">
          <a href="/ui/targets" class={'chip' + (testid === 'targets-page' ? ' active' : '')}>Targets</a>
          <a href="/ui/tsdb-status" class={'chip' + (testid === 'tsdb-status-page' ? ' active' : '')}>TSDB status</a>
          <a href="/ui/config" class={'chip' + (testid === 'config-page' ? ' active' : '')}>Configuration</a>
        </nav>
        {state.error && <div class="panel-error" role="alert">{state.error}</div>}
        {!state.error && !state.data && <div class="spinner" />}
        {state.data && children(state.data)}
      </div>
    </div>
  );
}

function Labels({ labels }) {
  return <span class="label-chips">{Object.entries(labels || {}).map(([k, v]) => <span class="chip small">{k}="{v}"</span>)}</span>;
}

function ago(iso) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t <= 0) return 'never';
  const s = Math.max(0, (Date.now() - t) / 1000);
  return s < 60 ? `${s.toFixed(1)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

const time = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '–');
const bytes = (b) => formatValue(b || 0, 'bytes');

export function TargetsPage() {
  const state = useApi(['/api/v1/targets'], 10000);
  const [filter, setFilter] = useState('');
  const [unhealthy, setUnhealthy] = useState(false);
  return (
    <Page title="Targets" testid="targets-page" state={state}>
      {([data]) => {
        const pools = {};
        for (const t of data.activeTargets) (pools[t.scrapePool] = pools[t.scrapePool] || []).push(t);
        const f = filter.toLowerCase();
        return (
          <div>
            <div class="graph-controls">
              <input type="search" placeholder="Filter by endpoint or labels" value={filter} onInput={(e) => setFilter(e.target.value)} />
              <label><input type="checkbox" checked={unhealthy} onChange={(e) => setUnhealthy(e.target.checked)} /> unhealthy only</label>
            </div>
            {!data.activeTargets.length && <p class="muted">No scrape targets (the <code>scrape:</code> section of the configuration is empty).</p>}
            {Object.entries(pools).map(([pool, targets]) => {
              const shown = targets.filter((t) => (!unhealthy || t.health !== 'up') && (!f || (t.scrapeUrl + JSON.stringify(t.labels)).toLowerCase().includes(f)));
              if (!shown.length) return null;
              const up = targets.filter((t) => t.health === 'up').length;
              return (
                <section class="status-section" data-testid="scrape-pool" data-pool={pool}>
                  <h2>{pool} <span class="badge">{up}/{targets.length} up</span></h2>
                  <div class="table-scroll">
                    <table class="status-table">
                      <thead><tr><th>Endpoint</th><th>State</th><th>Labels</th><th>Last scrape</th><th>Duration</th><th>Error</th></tr></thead>
                      <tbody>
                        {shown.map((t) => (
                          <tr data-testid="target" data-health={t.health}>
                            <td class="wrap"><a href={t.scrapeUrl} target="_blank" rel="noopener noreferrer">{t.scrapeUrl}</a></td>
                            <td><span class={'health ' + t.health}>{t.health.toUpperCase()}</span></td>
                            <td class="wrap"><Labels labels={t.labels} />
                              <details><summary class="muted small">before relabelling</summary><Labels labels={t.discoveredLabels} /></details></td>
                            <td class="nowrap">{ago(t.lastScrape)}</td>
                            <td class="nowrap">{(t.lastScrapeDuration * 1000).toFixed(1)} ms</td>
                            <td class="wrap error-text">{t.lastError}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                </section>
              );
            })}
          </div>
        );
      }}
    </Page>
  );
}

function TopTable({ title, rows, testid }) {
  return (
    <section class="status-section" data-testid={testid}>
      <h2>{title}</h2>
      <div class="table-scroll"><table class="status-table"><thead><tr><th>Name</th><th class="num">Count</th></tr></thead>
        <tbody>{(rows || []).map((r) => <tr><td class="wrap">{r.name}</td><td class="num">{r.value}</td></tr>)}</tbody></table></div>
    </section>
  );
}

export function TsdbStatusPage() {
  const state = useApi(['/api/v1/status/tsdb']);
  return (
    <Page title="TSDB status" testid="tsdb-status-page" state={state}>
      {([s]) => (
        <div>
          <section class="status-section" data-testid="head-stats">
            <h2>Head</h2>
            <table class="status-table kv"><tbody>
              <tr><th>Series</th><td data-testid="head-series">{s.headStats.numSeries}</td></tr>
              <tr><th>Chunks</th><td>{s.headStats.chunkCount}</td></tr>
              <tr><th>Label pairs</th><td>{s.headStats.numLabelPairs}</td></tr>
              <tr><th>Time range</th><td>{time(s.headStats.minTime)} – {time(s.headStats.maxTime)}</td></tr>
              <tr><th>WAL size</th><td>{bytes(s.walSizeBytes)}</td></tr>
            </tbody></table>
          </section>
          <TopTable title="Top metrics by series" rows={s.seriesCountByMetricName} testid="top-metrics" />
          <TopTable title="Top labels by number of values" rows={s.labelValueCountByLabelName} testid="top-labels" />
          <TopTable title="Top label pairs by series" rows={s.seriesCountByLabelValuePair} testid="top-pairs" />
          <section class="status-section" data-testid="blocks">
            <h2>Blocks <span class="badge">{(s.blocks || []).length}</span></h2>
            <div class="table-scroll"><table class="status-table">
              <thead><tr><th>From</th><th>To</th><th class="num">Series</th><th class="num">Samples</th><th class="num">Level</th><th class="num">Size</th></tr></thead>
              <tbody>{(s.blocks || []).map((b) => (
                <tr title={b.ulid}><td class="nowrap">{time(b.minTime)}</td><td class="nowrap">{time(b.maxTime)}</td><td class="num">{b.numSeries}</td>
                  <td class="num">{b.numSamples}</td><td class="num">{b.level}</td><td class="num">{bytes(b.sizeBytes)}</td></tr>))}</tbody>
            </table></div>
          </section>
          <section class="status-section" data-testid="tiers">
            <h2>Downsampled tiers</h2>
            {!(s.tiers || []).length ? <p class="muted">Tiers are off.</p> : (
              <table class="status-table"><thead><tr><th>Resolution</th><th class="num">Files</th><th>Covers</th><th class="num">Size</th></tr></thead>
                <tbody>{s.tiers.map((t) => <tr><td>{t.name}</td><td class="num">{t.files}</td><td>{t.files ? `${time(t.minTime)} – ${time(t.maxTime)}` : '–'}</td><td class="num">{bytes(t.sizeBytes)}</td></tr>)}</tbody></table>)}
          </section>
        </div>
      )}
    </Page>
  );
}

function KV({ title, obj, testid }) {
  return (
    <section class="status-section" data-testid={testid}>
      <h2>{title}</h2>
      <div class="table-scroll"><table class="status-table kv"><tbody>
        {Object.entries(obj || {}).map(([k, v]) => <tr><th>{k}</th><td class="wrap">{typeof v === 'object' ? JSON.stringify(v) : String(v)}</td></tr>)}
      </tbody></table></div>
    </section>
  );
}

export function ConfigPage() {
  const state = useApi(['/api/v1/status/config', '/api/v1/status/flags', '/api/v1/status/runtimeinfo', '/api/v1/status/buildinfo']);
  return (
    <Page title="Configuration" testid="config-page" state={state}>
      {([config, flags, runtime, build]) => (
        <div>
          <KV title="Build" obj={build} testid="buildinfo" />
          <KV title="Runtime" obj={runtime} testid="runtimeinfo" />
          <section class="status-section"><h2>Configuration</h2><pre class="config-yaml" data-testid="config-yaml">{config.yaml}</pre></section>
          <KV title="Flags" obj={flags} testid="flags" />
        </div>
      )}
    </Page>
  );
}
