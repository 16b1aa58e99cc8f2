// SLO pages. /ui/slos: every SLO of the server's `slos:` specs, least error budget left first, with a search
// box and label filters (kept in the URL), each row with objective, availability, a remaining-budget bar,
// the current burn rate and the state of its alerts. /ui/slos/<id>: tiles (objective, availability, budget
// remaining, time to exhaustion), the remaining budget over time, each alert window's burn rates against
// its threshold, and the SLO's alerts. Both refresh every 30 s; the body's data-dashboard-state is
// `settled` once the data (and, on the detail page, every chart) has loaded.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';
import { TimePicker } from '../controls.jsx';
import { Panel } from '../panel.jsx';
import { setSearch } from '../router.js';
import { parseTime } from '../lib/time.js';
import {
  budgetLevel, budgetPanel, burnPanel, burnText, durationText, filterSlos, labelChoices, objectiveText,
  parseLabelFilters, percent,
} from '../lib/slo.js';

const REFRESH_MS = 30000;

function useJson(url) {
  const [state, setState] = useState({ data: null, error: null, tick: 0 });
  useEffect(() => {
    let alive = true;
    const load = () => fetch(url).then((r) => r.json()).then((j) => {
      if (!alive) return;
      if (j.status !== 'success') setState((s) => ({ data: null, error: j.error || 'request failed', tick: s.tick + 1 }));
      else setState((s) => ({ data: j.data, error: null, tick: s.tick + 1 }));
    }).catch((e) => alive && setState((s) => ({ ...s, error: e.message, tick: s.tick + 1 })));
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => { alive = false; clearInterval(timer); };
  }, [url]);
  return state;
}

function StateBadge({ state }) {
  const cls = state === 'firing' ? 'al-firing' : state === 'pending' ? 'al-pending' : state === 'inactive' ? 'al-inactive' : 'muted';
  return <span class={'al-state ' + cls} data-testid="slo-alert-state">{state === 'none' ? 'no alerts' : state}</span>;
}

function BudgetBar({ remaining }) {
  const level = budgetLevel(remaining);
  const width = remaining == null ? 0 : Math.max(0, Math.min(1, remaining)) * 100;
  return (
    <div class="slo-budget" data-level={level} title="Error budget remaining">
      <div class="slo-bar"><div class="slo-bar-fill" style={{ width: width + '%' }} /></div>
      <span class="slo-budget-text" data-testid="slo-budget">{percent(remaining, 1)}</span>
    </div>
  );
}

export function SlosPage({ search }) {
  const { data, error } = useJson('/api/v1/slos');
  const params = new URLSearchParams(search || '');
  const text = params.get('search') || '';
  const labels = parseLabelFilters(params.getAll('label'));
  useEffect(() => { document.title = 'SLOs – tsdb'; }, []);
  useEffect(() => { if (data || error) document.body.dataset.dashboardState = 'settled'; }, [data, error]);
  const choices = useMemo(() => labelChoices(data || []), [data]);
  const shown = data ? filterSlos(data, text, labels) : [];
  const update = (nextText, nextLabels) => {
    const p = new URLSearchParams();
    if (nextText) p.set('search', nextText);
    for (const [k, v] of Object.entries(nextLabels)) if (v) p.append('label', `${k}=${v}`);
    setSearch(p, { replace: true });
  };
  return (
    <div class="page">
      <TopBar title="SLOs" />
      <div class="page-body al-page slo-page" data-testid="slos-page">
        <div class="al-filters">
          <input type="search" class="search al-search" placeholder="Search SLOs" value={text} aria-label="Search SLOs"
            data-testid="slo-search" onInput={(e) => update(e.target.value, labels)} />
          {Object.entries(choices).map(([name, values]) => (
            <label class="slo-filter">{name}
              <select data-testid={'slo-label-' + name} value={labels[name] || ''}
                onChange={(e) => update(text, { ...labels, [name]: e.target.value })}>
                <option value="">all</option>
                {values.map((v) => <option value={v}>{v}</option>)}
              </select>
            </label>
          ))}
        </div>
        {error && <div class="panel-error big" role="alert">{error}</div>}
        {!data && !error && <div class="center"><span class="spinner" /></div>}
        {data && data.length === 0 && <p class="muted">No SLOs configured. Name Sloth or OpenSLO spec files under <code>slos.files</code> in tsdb.yml.</p>}
        {data && data.length > 0 && shown.length === 0 && <p class="muted">No SLO matches the filters.</p>}
        {shown.length > 0 && (
          <div class="slo-table" role="table" aria-label="SLOs">
            <div class="slo-row slo-head" role="row">
              <span role="columnheader">SLO</span><span role="columnheader">Objective</span>
              <span role="columnheader">Availability</span><span role="columnheader">Budget remaining</span>
              <span role="columnheader">Burn rate</span><span role="columnheader">Alerts</span>
            </div>
            {shown.map((s) => (
              <div class="slo-row" role="row" data-testid="slo-row" data-slo-id={s.id}>
                <span class="slo-name" role="cell">
                  <a href={'/ui/slos/' + encodeURIComponent(s.id)} data-testid="slo-link">{s.name}</a>
                  <span class="muted small"> {s.service}</span>
                  <span class="al-labels">{Object.entries(s.labels).map(([k, v]) => <span class="chip small al-label">{k}={v}</span>)}</span>
                  {s.error && <span class="error-text small al-break">{s.error}</span>}
                </span>
                <span role="cell" data-label="Objective" data-testid="slo-objective">{objectiveText(s.objective.percent)}</span>
                <span role="cell" data-label="Availability" data-testid="slo-availability">{percent(s.availability)}</span>
                <span role="cell" data-label="Budget"><BudgetBar remaining={s.error_budget.remaining_ratio} /></span>
                <span role="cell" data-label="Burn rate" data-testid="slo-burn">{burnText(s.burn_rate.current)}</span>
                <span role="cell" data-label="Alerts"><StateBadge state={s.alert_state} /></span>
              </div>
            ))}
          </div>
        )}
      </div>
    </div>
  );
}

function Tile({ label, value, hint, testid, level }) {
  return (
    <div class="slo-tile" data-testid={testid} data-level={level}>
      <div class="muted small">{label}</div>
      <div class="slo-tile-value">{value}</div>
      {hint && <div class="muted small">{hint}</div>}
    </div>
  );
}

function rangeMs(from, to) {
  const now = Date.now();
  try { return [parseTime(from, now), parseTime(to, now, { roundUp: true })]; } catch { return [now - 86400e3, now]; }
}

export function SloPage({ id, search }) {
  const { data: slo, error, tick } = useJson('/api/v1/slos/' + encodeURIComponent(id));
  const params = new URLSearchParams(search || '');
  const from = params.get('from') || 'now-1d';
  const to = params.get('to') || 'now';
  const [fromMs, toMs] = useMemo(() => rangeMs(from, to), [from, to, tick]);
  const [panelStates, setPanelStates] = useState({});
  const [width, setWidth] = useState(() => window.innerWidth);
  useEffect(() => {
    const onResize = () => setWidth(window.innerWidth);
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);
  useEffect(() => { document.title = (slo ? slo.name : id) + ' – SLOs – tsdb'; }, [slo, id]);
  const panels = useMemo(() => (slo ? [budgetPanel(slo), ...slo.windows.map((w) => burnPanel(slo, w))] : []), [slo && JSON.stringify(slo.queries)]);
  useEffect(() => {
    const loading = !(slo || error) || panels.some((p) => !panelStates[p.id] || panelStates[p.id] === 'loading');
    document.body.dataset.dashboardState = loading && !error ? 'loading' : 'settled';
  }, [slo, error, panels, panelStates]);
  const onState = (key, state) => setPanelStates((s) => (s[key] === state ? s : { ...s, [key]: state }));
  const ctx = { fromMs, toMs, widthPx: Math.min(width, 1200), vars: {}, varsKey: '', tick, timezone: 'browser' };
  const chartCtx = { ...ctx, widthPx: Math.min(width, 600) };
  const onRange = (f, t) => {
    const p = new URLSearchParams(search || '');
    p.set('from', f); p.set('to', t);
    setSearch(p);
  };
  const b = slo && slo.error_budget;
  return (
    <div class="page">
      <TopBar title={slo ? `SLO ${slo.name}` : 'SLO'}>
        <TimePicker from={from} to={to} onChange={onRange} />
      </TopBar>
      <div class="page-body slo-detail" data-testid="slo-page">
        <a href="/ui/slos" class="small">← All SLOs</a>
        {error && <div class="panel-error big" role="alert" data-testid="slo-error">{error}</div>}
        {!slo && !error && <div class="center"><span class="spinner" /></div>}
        {slo && (
          <>
            <h2 class="slo-title">{slo.service} / {slo.name} <StateBadge state={slo.alert_state} /></h2>
            {slo.description && <p class="muted">{slo.description}</p>}
            <div class="al-labels">{Object.entries(slo.labels).map(([k, v]) => <span class="chip small al-label">{k}={v}</span>)}</div>
            {slo.error && <div class="panel-error" role="alert">{slo.error}</div>}
            <div class="slo-tiles">
              <Tile label="Objective" testid="tile-objective" value={objectiveText(slo.objective.percent)} hint={`over ${slo.period.duration}`} />
              <Tile label="Availability" testid="tile-availability" value={percent(slo.availability)} hint={`SLI now (${slo.sli.window}): ${percent(slo.sli.error_ratio == null ? null : 1 - slo.sli.error_ratio)}`} />
              <Tile label="Error budget remaining" testid="tile-budget" level={budgetLevel(b.remaining_ratio)} value={percent(b.remaining_ratio, 1)}
                hint={`${durationText(b.remaining_seconds)} of ${durationText(b.seconds)}`} />
              <Tile label="Time to exhaustion" testid="tile-exhaustion" value={slo.time_to_exhaustion_seconds == null ? 'not burning' : durationText(slo.time_to_exhaustion_seconds)}
                hint={`at the current burn rate ${burnText(slo.burn_rate.current)}`} />
            </div>
            <div class="slo-chart slo-chart-wide"><Panel panel={panels[0]} ctx={ctx} onState={onState} stateKey="budget" /></div>
            <div class="slo-charts">
              {panels.slice(1).map((p) => <div class="slo-chart"><Panel panel={p} ctx={chartCtx} onState={onState} stateKey={p.id} /></div>)}
            </div>
            <section class="al-card">
              <h3 class="al-h2">Burn rates now</h3>
              <div class="slo-scroll">
                <table class="slo-windows" data-testid="slo-windows">
                  <thead><tr><th>Alert</th><th>Long window</th><th>Short window</th><th>Threshold</th><th>Budget used</th></tr></thead>
                  <tbody>
                    {slo.windows.map((w) => (
                      <tr data-over={w.over ? 'true' : 'false'}>
                        <td>{w.alert}</td><td>{w.long_window}: {burnText(w.long)}</td><td>{w.short_window}: {burnText(w.short)}</td>
                        <td>{burnText(w.factor)}</td><td>{w.budget_percent}% in {w.long_window}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
            <section class="al-card" data-testid="slo-alerts">
              <h3 class="al-h2">Alerts</h3>
              {slo.alerts.length === 0 && <p class="muted">This SLO has no alerts.</p>}
              {slo.alerts.length > 0 && (
                <div class="slo-scroll">
                  <table class="slo-windows">
                    <thead><tr><th>Severity</th><th>Alert</th><th>State</th><th>Active since</th></tr></thead>
                    <tbody>
                      {slo.alerts.map((a) => (
                        <tr data-severity={a.severity}>
                          <td>{a.severity}</td><td>{a.name}</td><td><StateBadge state={a.state} /></td>
                          <td>{a.alerts.length ? a.alerts.map((x) => x.activeAt).filter(Boolean).join(', ') : '–'}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
            <p class="muted small">Budget consumed: {percent(b.consumed_ratio, 1)} ({durationText(b.consumed_seconds)}); period burn rate {burnText(slo.burn_rate.period)}.
              Computed from the spec's SLI queries; see <a href="/ui/rules">the rules</a> for the generated recordings and alerts.</p>
          </>
        )}
      </div>
    </div>
  );
}
