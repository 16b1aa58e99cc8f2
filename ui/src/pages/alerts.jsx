// Alerts page (/ui/alerts): alerting rules grouped by file and group, each with its state and active alerts
// (labels, annotations, active since, value); filters by alert state and by label or text (every word must
// match; `instance="a:9100"` matches that label); live over server-sent events (/api/v1/alerts/stream);
// optional browser notifications for newly firing alerts; "Silence" links open the silence editor
// pre-filled. Built for tens of thousands of alerts: the rows are one virtualised list (lib/virtuallist.jsx)
// of known heights, stream updates are applied at most once per animation frame, and alerts that did not
// change keep their objects so their rows are not re-rendered.
import { Component } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { TopBar } from '../shell.jsx';
import { VirtualList } from '../lib/virtuallist.jsx';
import { parseSampleValue } from '../lib/series.js';

const STATES = ['firing', 'pending', 'inactive'];
// Row heights in px; .al-row-* in styles.css lays the rows out to match.
const H = { file: 30, group: 30, rule: 38, alert: 62, annotation: 18 };

function alertState(a) { return a.keepFiringSince ? 'keep-firing' : a.state; }

function silenceLink(labels) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(labels)) p.append('matcher', `${k}=${v}`);
  return '/ui/silences?' + p.toString();
}

// The API writes values as Go's %e ("9.5e-01"); people read 0.95.
function valueText(text) {
  const v = parseSampleValue(text);
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? String(text) : String(v);
}

function labelText(labels) { return Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(' '); }

// What the text filter searches, built once per alert object.
const haystacks = new WeakMap();
function haystack(rule, a) {
  let h = haystacks.get(a);
  if (h === undefined) {
    h = (rule.name + ' ' + labelText(a.labels) + ' ' + Object.entries(a.annotations || {}).map(([k, v]) => k + ': ' + v).join(' ')).toLowerCase();
    haystacks.set(a, h);
  }
  return h;
}

// Keeps the previous objects of alerts (and rules) that did not change, so unchanged rows skip rendering.
// A rule's identity on the page: file, group, position and name (names may repeat within a group).
function ruleKey(g, i, r) { return g.file + '\0' + g.name + '\0' + i + '\0' + r.name; }

function reconcile(prev, next) {
  if (!prev) return next;
  const old = new Map();
  for (const g of prev.groups) g.rules.forEach((r, i) => old.set(ruleKey(g, i, r), r));
  for (const g of next.groups) {
    g.rules = g.rules.map((r, ri) => {
      const before = old.get(ruleKey(g, ri, r));
      if (!before) return r;
      const byKey = new Map(before.alerts.map((a) => [a._key || (a._key = JSON.stringify(a.labels)), a]));
      let same = before.alerts.length === r.alerts.length && before.state === r.state;
      r.alerts = r.alerts.map((a, i) => {
        const key = JSON.stringify(a.labels);
        const b = byKey.get(key);
        if (b && b.state === a.state && b.value === a.value && b.activeAt === a.activeAt && b.keepFiringSince === a.keepFiringSince
          && JSON.stringify(b.annotations) === JSON.stringify(a.annotations)) {
          if (before.alerts[i] !== b) same = false;
          return b;
        }
        same = false;
        a._key = key;
        return a;
      });
      return same ? before : r;
    });
  }
  return next;
}

/** The flat row list: file, group and rule headers, and each rule's alerts passing the filters. */
function buildRows(data, states, needle, collapsed) {
  const rows = [];
  const words = needle.toLowerCase().split(/\s+/).filter(Boolean);
  const textOk = (r, a) => !words.length || words.every((w) => haystack(r, a).includes(w));
  const ruleTextOk = (r) => !words.length || words.every((w) => (r.name + ' ' + labelText(r.labels || {})).toLowerCase().includes(w));
  let shown = 0;
  const byFile = new Map();
  for (const g of data.groups) {
    if (!byFile.has(g.file)) byFile.set(g.file, []);
    byFile.get(g.file).push(g);
  }
  for (const [file, groups] of byFile) {
    const fileRows = [];
    for (const g of groups) {
      const groupRows = [];
      for (const [ri, r] of g.rules.entries()) {
        const key = ruleKey(g, ri, r);
        let alerts;
        if (r.alerts.length) {
          alerts = r.alerts.filter((a) => states.includes(a.state) && textOk(r, a));
          if (!alerts.length) continue;
        } else {
          if (!states.includes(r.state) || !ruleTextOk(r)) continue;
          alerts = [];
        }
        shown += alerts.length;
        const closed = collapsed.has(key);
        groupRows.push({ kind: 'rule', key: 'r' + key, ruleKey: key, rule: r, matched: alerts.length, closed });
        if (!closed) for (const a of alerts) groupRows.push({ kind: 'alert', key: 'a' + key + '\0' + (a._key || JSON.stringify(a.labels)), rule: r, alert: a });
      }
      if (groupRows.length) fileRows.push({ kind: 'group', key: 'g' + file + '\0' + g.name, name: g.name }, ...groupRows);
    }
    if (fileRows.length) rows.push({ kind: 'file', key: 'f' + file, file }, ...fileRows);
  }
  return { rows, shown };
}

function rowHeight(row) {
  if (row.kind === 'alert') return H.alert + H.annotation * Object.keys(row.alert.annotations || {}).length;
  return H[row.kind];
}

// One alert; re-renders only when its alert object changes (see reconcile).
class AlertRow extends Component {
  shouldComponentUpdate(next) { return next.alert !== this.props.alert; }
  render({ alert: a }) {
    const labels = Object.entries(a.labels).filter(([k]) => k !== 'alertname');
    return (
      <div class="al-row-alert" data-testid="alert-item" data-state={a.state}>
        <div class="al-row-line">
          <span class={'al-state al-' + a.state}>{alertState(a)}</span>
          <span class="al-row-labels" title={labelText(a.labels)}>{labels.map(([k, v]) => <span class="chip small al-label">{k}="{v}"</span>)}</span>
          <a class="al-row-silence small" href={silenceLink(a.labels)} data-testid="silence-this">Silence</a>
        </div>
        {Object.entries(a.annotations || {}).map(([k, v]) => <div class="small al-row-ann" title={v}><span class="muted">{k}:</span> {v}</div>)}
        <div class="muted small al-row-ann" title={`value ${valueText(a.value)}, active since ${new Date(a.activeAt).toLocaleString()}`}>
          value {valueText(a.value)} · active since {new Date(a.activeAt).toLocaleString()}</div>
      </div>
    );
  }
}

export function AlertsPage() {
  const [data, setData] = useState(null);
  const [live, setLive] = useState('connecting');
  const [states, setStates] = useState(['firing', 'pending']);
  const [q, setQ] = useState('');
  const [collapsed, setCollapsed] = useState(() => new Set());
  const [notify, setNotify] = useState(() => localStorage.getItem('tsdb.alerts.notify') === '1');
  const seen = useRef(null);
  const updates = useRef(0); // stream updates applied (data-updates, for tests and debugging)
  useEffect(() => {
    document.title = 'Alerts – tsdb';
    const source = new EventSource('/api/v1/alerts/stream');
    let pending = null;
    let frame = 0;
    let timer = 0;
    // The newest event wins: a burst of events costs one parse and one render per animation frame (in a
    // hidden tab, which gets no frames, after a short timeout: browser notifications still need the data).
    const apply = () => {
      frame = 0;
      timer = 0;
      const text = pending;
      pending = null;
      updates.current++;
      setData((prev) => reconcile(prev, JSON.parse(text)));
    };
    source.onopen = () => setLive('live');
    source.onerror = () => setLive('reconnecting');
    source.onmessage = (e) => {
      pending = e.data;
      if (!frame && !timer) {
        if (document.hidden) timer = setTimeout(apply, 250); else frame = requestAnimationFrame(apply);
      }
      setLive('live');
    };
    return () => { source.close(); cancelAnimationFrame(frame); clearTimeout(timer); };
  }, []);
  useEffect(() => {
    if (!data) return;
    const firing = new Set();
    for (const g of data.groups) for (const r of g.rules) for (const a of r.alerts) if (a.state === 'firing') firing.add(a._key || JSON.stringify(a.labels));
    if (seen.current && notify && window.Notification && Notification.permission === 'granted') {
      const fresh = [...firing].filter((key) => !seen.current.has(key));
      for (const key of fresh.slice(0, 3)) new Notification('Firing: ' + (JSON.parse(key).alertname || 'alert'), { body: key });
      if (fresh.length > 3) new Notification(`Firing: ${fresh.length - 3} more alerts`);
    }
    seen.current = firing;
  }, [data, notify]);
  const toggleNotify = async () => {
    let on = !notify;
    if (on && window.Notification && Notification.permission !== 'granted') on = (await Notification.requestPermission()) === 'granted';
    localStorage.setItem('tsdb.alerts.notify', on ? '1' : '0');
    setNotify(on);
  };
  const counts = useMemo(() => {
    const c = { firing: 0, pending: 0, inactive: 0, alerts: 0 };
    for (const g of (data ? data.groups : [])) {
      for (const r of g.rules) {
        if (!r.alerts.length) c.inactive++;
        for (const a of r.alerts) { c.alerts++; if (a.state in c) c[a.state]++; }
      }
    }
    return c;
  }, [data]);
  const { rows, shown } = useMemo(() => (data ? buildRows(data, states, q, collapsed) : { rows: [], shown: 0 }), [data, states, q, collapsed]);
  const toggleRule = (key) => setCollapsed((c) => { const n = new Set(c); if (n.has(key)) n.delete(key); else n.add(key); return n; });
  const renderRow = (row) => {
    if (row.kind === 'file') return <div class="muted small al-row-file" title={row.file}>{row.file}</div>;
    if (row.kind === 'group') return <h3 class="al-row-group">{row.name}</h3>;
    if (row.kind === 'rule') {
      const r = row.rule;
      return (
        <button type="button" class="al-row-rule" data-rule={r.name} data-state={r.state} aria-expanded={!row.closed} onClick={() => toggleRule(row.ruleKey)}>
          <span class="caret">{row.closed ? '▸' : '▾'}</span>
          <span class={'al-state al-' + r.state}>{r.state}</span> <span class="al-row-name">{r.name}</span>
          <span class="badge" title="alerts shown / alerts of the rule">{row.matched === r.alerts.length ? r.alerts.length : `${row.matched} / ${r.alerts.length}`}</span>
        </button>
      );
    }
    return <div class="al-row-wrap" data-rule={row.rule.name}><AlertRow alert={row.alert} /></div>;
  };
  const stateLabel = { firing: 'firing alerts', pending: 'pending alerts', inactive: 'inactive rules' };
  return (
    <div class="page al-fill">
      <TopBar title="Alerts">
        <span class={'badge' + (live === 'live' ? '' : ' warn')} data-testid="alerts-live">{live}</span>
        <button class={'btn small' + (notify ? ' primary' : '')} onClick={toggleNotify} aria-pressed={notify} data-testid="alerts-notify">Browser notifications</button>
      </TopBar>
      <div class="page-body al-page al-fill-body" data-testid="alerts-page" data-updates={updates.current}>
        <div class="al-filters">
          {STATES.map((s) => (
            <button class={'chip' + (states.includes(s) ? ' active' : '')} aria-pressed={states.includes(s)} data-testid={'filter-' + s} title={stateLabel[s]}
              onClick={() => setStates(states.includes(s) ? states.filter((x) => x !== s) : [...states, s])}>{s} (<span data-testid={'count-' + s}>{counts[s]}</span>)</button>
          ))}
          <input type="search" class="search al-search" placeholder='Filter: text or label="value"' value={q} onInput={(e) => setQ(e.target.value)} aria-label="Filter alerts" data-testid="alerts-filter" />
        </div>
        {data && <div class="muted small al-summary" data-testid="alerts-count">
          {shown === counts.alerts ? `${counts.alerts} alert${counts.alerts === 1 ? '' : 's'}` : `${shown} of ${counts.alerts} alerts`}
        </div>}
        {!data && <div class="center"><span class="spinner" /></div>}
        {data && rows.length === 0 && <p class="muted">No alerting rule matches.</p>}
        {data && rows.length > 0 && (
          <VirtualList class="al-card al-vlist" items={rows} itemHeight={rowHeight} itemKey={(r) => r.key} renderItem={renderRow} testid="alerts-list" label="Alerts"
            resetKey={q + '|' + states.join(',')} />
        )}
      </div>
    </div>
  );
}
