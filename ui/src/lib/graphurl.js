// The query explorer's URL (/graph?g0.expr=…), in Prometheus's format so its links and bookmarks work.
import { parseDuration, formatDuration } from './time.js';

const TABS = { 0: 'graph', graph: 'graph', 1: 'table', table: 'table', 2: 'explain', explain: 'explain' };
const TAB_CODES = { graph: '0', table: '1', explain: '2' };
export const DEFAULT_RANGE = '1h';
export const DENSITIES = { low: 0.5, medium: 1, high: 2 };

/**
 * A new, empty explorer panel.
 * @returns {{expr: string, tab: string, range: string, end: string, moment: string, resType: string,
 *   resDensity: string, resStep: string, stacked: boolean, yZero: boolean}}
 */
export function emptyPanel() {
  return { expr: '', tab: 'table', range: DEFAULT_RANGE, end: '', moment: '', resType: 'auto', resDensity: 'medium', resStep: '', stacked: false, yZero: false };
}

/**
 * Unix ms of a Prometheus UI time (`g0.end_input`, `g0.moment_input`): `2006-01-02 15:04:05` (UTC), RFC 3339,
 * or Unix seconds. NaN when empty or unreadable.
 * @param {string} text
 * @returns {number}
 */
export function parseMoment(text) {
  const t = String(text ?? '').trim();
  if (!t) return NaN;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  let iso = t.replace(' ', 'T');
  if (/^\d{4}-\d\d-\d\d$/.test(iso)) iso += 'T00:00:00';
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(iso)) iso += 'Z';
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : NaN;
}

/**
 * A time as the Prometheus UI writes it in URLs: `2006-01-02 15:04:05` in UTC.
 * @param {number} ms
 * @returns {string}
 */
export function formatMoment(ms) {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function flag(v) {
  return v === '1' || v === 'true';
}

// A duration as Prometheus writes it in g0.range_input ("1h", "30m", "1d2h"); invalid text stays as is.
function cleanDuration(text) {
  const t = String(text ?? '').trim();
  if (!t) return '';
  try {
    const ms = parseDuration(t);
    return Number.isFinite(ms) && ms > 0 ? formatDuration(ms) : t;
  } catch { return t; }
}

/**
 * Reads the explorer's panels from a `/graph` query string. Each `g<n>.` prefix is a panel, ordered by n.
 * Read: `expr`; `tab` (0/graph, 1/table (default), 2/explain); `range_input` (default 1h); `end_input`
 * (graph end, empty: now); `moment_input` (table and explain time, empty: now); `step_input` (a custom step in
 * seconds) or Prometheus 3's `res_type` (auto/fixed/custom), `res_density` (low/medium/high) and `res_step`
 * (seconds); `stacked` (1) or Prometheus 3's `display_mode=stacked`; `y_zero` (1: y axis from zero).
 * Without any panel, one empty panel.
 * @param {URLSearchParams|string} params
 * @returns {Array<ReturnType<typeof emptyPanel>>}
 */
export function parseGraphParams(params) {
  const p = typeof params === 'string' ? new URLSearchParams(params) : params;
  const byIndex = new Map();
  for (const [key, value] of p) {
    const m = key.match(/^g(\d+)\.(\w+)$/);
    if (!m) continue;
    const i = Number(m[1]);
    if (!byIndex.has(i)) byIndex.set(i, {});
    byIndex.get(i)[m[2]] = value;
  }
  const panels = [...byIndex.keys()].sort((a, b) => a - b).map((i) => {
    const raw = byIndex.get(i);
    const panel = emptyPanel();
    panel.expr = raw.expr ?? '';
    panel.tab = TABS[raw.tab] || 'table';
    panel.range = cleanDuration(raw.range_input) || DEFAULT_RANGE;
    panel.end = raw.end_input ?? '';
    panel.moment = raw.moment_input ?? '';
    if (raw.res_type === 'fixed' || raw.res_type === 'custom') {
      panel.resType = raw.res_type;
      panel.resStep = raw.res_step ?? '';
    }
    if (raw.step_input) { panel.resType = 'custom'; panel.resStep = raw.step_input; }
    if (raw.res_density in DENSITIES) panel.resDensity = raw.res_density;
    panel.stacked = flag(raw.stacked) || raw.display_mode === 'stacked';
    panel.yZero = flag(raw.y_zero);
    return panel;
  });
  return panels.length ? panels : [emptyPanel()];
}

/**
 * Writes panels as `/graph` parameters, `g0.` first, in the order Prometheus 2 writes them (`expr`, `tab`,
 * `stacked`, `range_input`, `end_input`, `moment_input`, `step_input`), plus `res_type`/`res_step` for a fixed
 * step, `res_density` when not medium and `y_zero`. Empty times and the auto resolution are left out.
 * @param {Array<ReturnType<typeof emptyPanel>>} panels
 * @returns {URLSearchParams}
 */
export function encodeGraphParams(panels) {
  const p = new URLSearchParams();
  panels.forEach((panel, i) => {
    const g = `g${i}.`;
    p.append(g + 'expr', panel.expr || '');
    p.append(g + 'tab', TAB_CODES[panel.tab] || '1');
    p.append(g + 'stacked', panel.stacked ? '1' : '0');
    p.append(g + 'range_input', panel.range || DEFAULT_RANGE);
    if (panel.end) p.append(g + 'end_input', panel.end);
    if (panel.moment) p.append(g + 'moment_input', panel.moment);
    if (panel.resType === 'custom' && panel.resStep) p.append(g + 'step_input', String(panel.resStep));
    if (panel.resType === 'fixed' && panel.resStep) { p.append(g + 'res_type', 'fixed'); p.append(g + 'res_step', String(panel.resStep)); }
    if (panel.resDensity && panel.resDensity !== 'medium') p.append(g + 'res_density', panel.resDensity);
    if (panel.yZero) p.append(g + 'y_zero', '1');
  });
  return p;
}

/**
 * The step (ms) of a graph over `rangeMs` drawn `widthPx` wide: custom and fixed steps as given (seconds),
 * auto about one point per pixel (low density: one per two pixels, high: two per pixel), rounded to a whole
 * second, at least 1 s. Never more than 11,000 points (the server's limit).
 * @param {ReturnType<typeof emptyPanel>} panel
 * @param {number} rangeMs
 * @param {number} widthPx
 * @returns {number}
 */
export function graphStepMs(panel, rangeMs, widthPx) {
  const floor = Math.ceil(rangeMs / 11000 / 1000) * 1000;
  if (panel.resType !== 'auto') {
    const s = Number(panel.resStep);
    if (Number.isFinite(s) && s > 0) return Math.max(Math.round(s * 1000), floor, 1);
  }
  const points = Math.max(10, Math.round(widthPx * (DENSITIES[panel.resDensity] || 1)));
  return Math.max(1000, floor, Math.round(rangeMs / points / 1000) * 1000);
}

/**
 * Link to the explorer with one query (what dashboards' "Explore" and the metrics list open).
 * @param {string} expr
 * @param {{tab?: string, range?: string, end?: string}} [opts]
 * @returns {string}
 */
export function graphUrl(expr, opts = {}) {
  return '/graph?' + encodeGraphParams([{ ...emptyPanel(), tab: 'graph', ...opts, expr }]).toString();
}
