// Dashboard variables: interpolation into PromQL (as Grafana's Prometheus data source does), built-in
// variables, variable queries against the Prometheus API, regex/sort of options, custom and interval
// variables, and the dependency order between variables.

import { formatDuration, parseDuration } from './time.js';

/** The value that stands for "All" in a variable's current value and in URLs. */
export const ALL_VALUE = '$__all';

// Grafana's variable syntax: $name, [[name]] / [[name:fmt]], ${name} / ${name:fmt}
const VAR_RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/**
 * Escapes a value for a PromQL string that is not a regex (Grafana's prometheusRegularEscape):
 * `\` -> `\\`, `'` -> `\\'`.
 * @param {string} value
 * @returns {string}
 */
export function prometheusRegularEscape(value) {
  return typeof value === 'string' ? value.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'") : value;
}

/**
 * Escapes a value for a regex inside a PromQL double-quoted string (Grafana's prometheusSpecialRegexEscape):
 * `\` -> `\\\\`, and each of `$^*{}[]+?.()|` gets two backslashes in front (`a.b` -> `a\\.b`).
 * @param {string} value
 * @returns {string}
 */
export function prometheusSpecialRegexEscape(value) {
  return typeof value === 'string' ? value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]+?.()|]/g, '\\\\$&') : value;
}

/**
 * Escapes regex metacharacters with one backslash (Grafana's `regex` format).
 * @param {string} value
 * @returns {string}
 */
export function regexEscape(value) {
  return String(value).replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

function encodeStrict(s) {
  return encodeURIComponent(String(s)).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function normVar(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || Array.isArray(v)) return { value: v };
  if (v.value === undefined && v.current && v.current.value !== undefined) return { ...v, value: v.current.value };
  return v;
}

function isAll(value) {
  return value === ALL_VALUE || (Array.isArray(value) && value.includes(ALL_VALUE));
}

function textFor(v, value) {
  const opts = v.options || [];
  const one = (x) => {
    const o = opts.find((op) => op.value === x);
    return o ? String(o.text) : String(x);
  };
  return Array.isArray(value) ? value.map(one).join(' + ') : one(value);
}

function applyFormat(fmt, value, v, name) {
  const arr = Array.isArray(value);
  switch (fmt) {
    case 'raw':
      return arr ? value.join(',') : String(value);
    case 'regex': {
      if (!arr) return regexEscape(value);
      const e = value.map(regexEscape);
      return e.length === 1 ? e[0] : '(' + e.join('|') + ')';
    }
    case 'pipe':
      return arr ? value.join('|') : String(value);
    case 'csv':
      return arr ? value.join(',') : String(value);
    case 'glob':
      return arr && value.length > 1 ? '{' + value.join(',') + '}' : String(arr ? value[0] ?? '' : value);
    case 'json':
      return JSON.stringify(value);
    case 'singlequote': {
      const q = (s) => "'" + String(s).replace(/'/g, "\\'") + "'";
      return arr ? value.map(q).join(',') : q(value);
    }
    case 'doublequote': {
      const q = (s) => '"' + String(s).replace(/"/g, '\\"') + '"';
      return arr ? value.map(q).join(',') : q(value);
    }
    case 'queryparam':
      return (arr ? value : [value]).map((x) => `var-${name}=${encodeStrict(x)}`).join('&');
    case 'percentencode':
      return arr && value.length > 1 ? encodeStrict('{' + value.join(',') + '}') : encodeStrict(arr ? value[0] ?? '' : value);
    default: {
      // Grafana's Prometheus data source (interpolateQueryExpr)
      if (!v.multi && !v.includeAll) return prometheusRegularEscape(arr ? value.join(',') : String(value));
      if (!arr) return prometheusSpecialRegexEscape(String(value));
      const e = value.map((x) => prometheusSpecialRegexEscape(String(x)));
      return e.length === 1 ? e[0] : '(' + e.join('|') + ')';
    }
  }
}

/**
 * Replaces variables in a query or text.
 * Syntax: `$name`, `${name}`, `[[name]]`, with a format `${name:fmt}` / `[[name:fmt]]`; formats: raw, regex, pipe,
 * csv, glob, text, queryparam, json, singlequote, doublequote, percentencode. Names are matched greedily as
 * whole words (`$instance_name` is the variable `instance_name`, never `$instance` + "_name"), as Grafana does.
 * Without a format (Prometheus context, as Grafana's Prometheus data source): a multi-value or include-All
 * variable's values are regex-escaped for a PromQL string and several become `(a|b|c)`; a plain variable's value
 * only gets `\` and `'` escaped. `$__all` becomes `allValue` verbatim when set (variables in it are replaced too),
 * else every option value except `$__all` (formatted as a multi value). Unknown variables stay as written.
 * @param {string} text
 * @param {Object<string, {value: string|string[], multi?: boolean, includeAll?: boolean, allValue?: string|null,
 *   options?: {text: string, value: string}[]}|string|string[]>} vars by name
 * @param {Object<string, string|number|{value: string|number}>} [builtins] `__interval` etc. (see builtinVars),
 *   replaced as is
 * @returns {string}
 */
export function interpolate(text, vars, builtins = {}, _depth = 0) {
  if (typeof text !== 'string' || text.indexOf('$') === -1 && text.indexOf('[[') === -1) return text;
  VAR_RE.lastIndex = 0;
  return text.replace(VAR_RE, (match, n1, n2, f2, n3, fieldPath, f3) => {
    const name = n1 || n2 || n3;
    const fmt = f2 || f3;
    if (fieldPath) return match;
    if (Object.prototype.hasOwnProperty.call(builtins, name)) {
      const b = builtins[name];
      const val = b !== null && typeof b === 'object' && !Array.isArray(b) ? b.value : b;
      return fmt && fmt !== 'raw' ? applyFormat(fmt, String(val), {}, name) : String(val);
    }
    const v = vars && Object.prototype.hasOwnProperty.call(vars, name) ? normVar(vars[name]) : null;
    if (!v) return match;
    let value = v.value === undefined || v.value === null ? '' : v.value;
    if (typeof value === 'number') value = String(value);
    if (fmt === 'text') return isAll(value) ? 'All' : textFor(v, value);
    if (isAll(value)) {
      if (v.allValue !== undefined && v.allValue !== null && v.allValue !== '') {
        if (_depth > 5) return v.allValue;
        const rest = { ...vars };
        delete rest[name];
        return interpolate(String(v.allValue), rest, builtins, _depth + 1);
      }
      value = (v.options || []).map((o) => String(o.value)).filter((x) => x !== ALL_VALUE);
      return applyFormat(fmt, value, { ...v, multi: true }, name);
    }
    return applyFormat(fmt, value, v, name);
  });
}

/**
 * Names of the variables referenced in a text (`$a`, `${a:fmt}`, `[[a]]`), in order of first use.
 * @param {string} text
 * @returns {string[]}
 */
export function referencedNames(text) {
  const out = [];
  if (typeof text !== 'string') return out;
  for (const m of text.matchAll(VAR_RE)) {
    const n = m[1] || m[2] || m[4];
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/**
 * Grafana's built-in variables for one query.
 * `__rate_interval` = max(interval + scrape interval, 4 × scrape interval), as Grafana computes it.
 * @param {{fromMs: number, toMs: number, stepMs?: number, intervalMs?: number, scrapeIntervalMs?: number}} p
 *   all in milliseconds; intervalMs defaults to stepMs (the query step)
 * @returns {{__interval: string, __interval_ms: string, __rate_interval: string, __range: string,
 *   __range_s: string, __range_ms: string, __from: string, __to: string}} durations as Prometheus durations
 *   (`1m30s`), `__range` as whole seconds (`3600s`, as Grafana), `__from`/`__to` as epoch ms
 */
export function builtinVars({ fromMs, toMs, stepMs, intervalMs, scrapeIntervalMs = 15000 }) {
  const interval = intervalMs ?? stepMs ?? scrapeIntervalMs;
  const rangeMs = Math.max(0, toMs - fromMs);
  const rangeS = Math.round(rangeMs / 1000);
  const rate = Math.max(interval + scrapeIntervalMs, 4 * scrapeIntervalMs);
  return {
    __interval: formatDuration(interval),
    __interval_ms: String(Math.round(interval)),
    __rate_interval: formatDuration(rate),
    __range: rangeS + 's',
    __range_s: String(rangeS),
    __range_ms: String(Math.round(rangeMs)),
    __from: String(Math.round(fromMs)),
    __to: String(Math.round(toMs)),
  };
}

// ---- variable queries ----------------------------------------------------------

/**
 * Parses a query variable's query (Grafana's Prometheus forms). Interpolate variables into it first.
 * @param {string|{query: string}} query text, or Grafana's object form `{query, qryType, refId}`
 * @returns {{kind: 'label_values'|'label_names'|'metrics'|'query_result', metric?: string, label?: string,
 *   regex?: string, expr?: string}} `metric` is a metric name or a selector (`up{job="x"}`), used as `match[]`
 * @throws {Error} naming the query when it has none of the forms
 */
export function parseVariableQuery(query) {
  const raw = query !== null && typeof query === 'object' ? query.query : query;
  const q = typeof raw === 'string' ? raw.trim() : '';
  let m;
  if ((m = /^label_names\s*\(\s*\)$/.exec(q))) return { kind: 'label_names' };
  if ((m = /^label_names\s*\(\s*(.+?)\s*\)$/s.exec(q))) return { kind: 'label_names', metric: m[1] };
  if ((m = /^label_values\s*\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_$][a-zA-Z0-9_]*)\s*\)$/s.exec(q))) {
    return m[1] ? { kind: 'label_values', metric: m[1], label: m[2] } : { kind: 'label_values', label: m[2] };
  }
  if ((m = /^metrics\s*\(\s*(.*?)\s*\)$/s.exec(q))) return { kind: 'metrics', regex: m[1] };
  if ((m = /^query_result\s*\(\s*(.+?)\s*\)$/s.exec(q))) return { kind: 'query_result', expr: m[1] };
  throw new Error(`invalid variable query: "${raw ?? ''}"`);
}

/**
 * The Prometheus API call for a parsed variable query.
 * @param {{kind: string, metric?: string, label?: string, expr?: string}} parsed from parseVariableQuery
 * @param {{fromMs: number, toMs: number}} range epoch ms
 * @returns {{path: string, params: Object<string, string|string[]>, url: string}} params: `start`/`end`
 *   (or `time`) in Unix seconds, `match[]` as an array, `query`; url = path + '?' + encoded params
 */
export function variableQueryRequest(parsed, { fromMs, toMs }) {
  const start = String(Math.floor(fromMs / 1000));
  const end = String(Math.ceil(toMs / 1000));
  let path;
  let params;
  switch (parsed.kind) {
    case 'label_values':
      path = `/api/v1/label/${encodeURIComponent(parsed.label)}/values`;
      params = parsed.metric ? { 'match[]': [parsed.metric], start, end } : { start, end };
      break;
    case 'label_names':
      path = '/api/v1/labels';
      params = parsed.metric ? { 'match[]': [parsed.metric], start, end } : { start, end };
      break;
    case 'metrics':
      path = '/api/v1/label/__name__/values';
      params = { start, end };
      break;
    case 'query_result':
      path = '/api/v1/query';
      params = { query: parsed.expr, time: end };
      break;
    default:
      throw new Error(`unknown variable query kind: ${parsed.kind}`);
  }
  const usp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) usp.append(k, x);
  return { path, params, url: `${path}?${usp}` };
}

function allMatches(str, re) {
  const out = [];
  re.lastIndex = 0;
  let m;
  do {
    m = re.exec(str);
    if (m) out.push(m);
  } while (re.global && m && m[0] !== '');
  re.lastIndex = 0;
  return out;
}

function toJsRegex(str) {
  if (str[0] !== '/') return new RegExp('^' + str + '$');
  const m = /^\/(.*)\/([gimsuy]*)$/s.exec(str);
  if (!m) throw new Error(`invalid regular expression: "${str}"`);
  return new RegExp(m[1], m[2]);
}

/**
 * The values a variable query's answer gives.
 * @param {{kind: string, regex?: string}} parsed
 * @param {object} json the Prometheus answer, with or without the `{status, data}` envelope
 * @returns {string[]} label_values/label_names/metrics: the strings (metrics filtered by its regex, unanchored as
 *   Grafana); query_result: one `name{a="b",…} value timestampMs` per sample (as Grafana), or the scalar/string value
 * @throws {Error} when the answer is a Prometheus error
 */
export function variableValuesFromResponse(parsed, json) {
  if (json && json.status === 'error') throw new Error(json.error || 'query failed');
  const data = json && typeof json === 'object' && !Array.isArray(json) && 'data' in json ? json.data : json;
  if (parsed.kind === 'query_result') {
    if (!data) return [];
    if (data.resultType === 'scalar' || data.resultType === 'string') return [String(data.result?.[1] ?? '')];
    const result = data.resultType === 'vector' || data.resultType === 'matrix' || Array.isArray(data.result) ? data.result || [] : [];
    return result.map((s) => {
      const metric = s.metric || {};
      const labels = Object.keys(metric).filter((k) => k !== '__name__').map((k) => `${k}="${metric[k]}"`);
      const [t, v] = s.value || (s.values ? s.values[s.values.length - 1] : [0, '']);
      return `${metric.__name__ || ''}{${labels.join(',')}} ${v} ${Math.round(Number(t) * 1000)}`;
    });
  }
  const list = Array.isArray(data) ? data.map(String) : [];
  if (parsed.kind === 'metrics' && parsed.regex) {
    const re = parsed.regex[0] === '/' ? toJsRegex(parsed.regex) : new RegExp(parsed.regex);
    return list.filter((x) => {
      re.lastIndex = 0;
      return re.test(x);
    });
  }
  return list;
}

/**
 * Applies a variable's regex to its values, as Grafana: `/re/flags` or a bare pattern (anchored `^…$`);
 * values that do not match are dropped; capture group 1 becomes text and value; named groups `text` and
 * `value` set them separately; without groups the value is kept whole; a `/…/g` regex matching several times
 * in one value gives one option per match (its group 1). A capture group that did not take part gives no
 * option. Duplicate values are dropped (first kept).
 * @param {(string|{text?: string, value?: string})[]} values
 * @param {string} [regex] empty = no filtering
 * @returns {{text: string, value: string}[]}
 * @throws {Error} naming the regex when it is invalid
 */
export function applyRegex(values, regex) {
  let re = null;
  if (regex) {
    try {
      re = toJsRegex(regex);
    } catch (e) {
      throw new Error(`invalid regular expression: "${regex}"`);
    }
  }
  const out = [];
  const seen = new Set();
  const push = (text, value) => {
    if (value === undefined || seen.has(value)) return;
    seen.add(value);
    out.push({ text: text ?? value, value });
  };
  for (const item of values || []) {
    let text;
    let value;
    if (item !== null && typeof item === 'object') {
      text = String(item.text ?? item.value ?? '');
      value = String(item.value ?? item.text ?? '');
    } else {
      text = value = String(item);
    }
    if (re) {
      const matches = allMatches(value, re);
      if (!matches.length) continue;
      const valueGroup = matches.find((m) => m.groups && m.groups.value);
      const textGroup = matches.find((m) => m.groups && m.groups.text);
      const withGroups = matches.filter((m) => m.length > 1);
      if (valueGroup || textGroup) {
        value = valueGroup?.groups.value ?? textGroup.groups.text;
        text = textGroup?.groups.text ?? valueGroup.groups.value;
      } else if (matches.length > 1 && withGroups.length) {
        // a /g regex matching several times: one option per match
        for (const m of matches) push(m[1], m[1]);
        continue;
      } else if (withGroups.length) {
        text = value = withGroups[0][1];
      }
    }
    push(text, value);
  }
  return out;
}

function stableSortBy(arr, key) {
  return arr
    .map((x, i) => [key(x), i, x])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]))
    .map((e) => e[2]);
}

/**
 * Sorts options by Grafana's sort modes: 0 disabled (as given), 1/2 alphabetical asc/desc,
 * 3/4 numerical asc/desc (by the first integer in the text; none sorts first), 5/6 alphabetical
 * case-insensitive asc/desc, 7/8 natural asc/desc. Descending is the ascending order reversed.
 * @param {{text: string, value: string}[]} options
 * @param {number} sortMode 0..8
 * @returns {{text: string, value: string}[]} a new array
 */
export function sortOptions(options, sortMode) {
  let out = [...(options || [])];
  const mode = Number(sortMode) || 0;
  if (mode <= 0 || mode > 8) return out;
  const type = Math.ceil(mode / 2);
  const txt = (o) => String(o.text ?? '');
  if (type === 1) out = stableSortBy(out, txt);
  else if (type === 2) {
    out = stableSortBy(out, (o) => {
      const m = /(\d+)/.exec(txt(o));
      return m ? parseInt(m[1], 10) : -1;
    });
  } else if (type === 3) out = stableSortBy(out, (o) => txt(o).toLowerCase());
  else {
    out.sort((a, b) => {
      if (!txt(a)) return -1;
      if (!txt(b)) return 1;
      return txt(a).localeCompare(txt(b), undefined, { numeric: true });
    });
  }
  if (mode % 2 === 0) out.reverse();
  return out;
}

/**
 * Options of a custom variable: comma-separated, `\,` for a literal comma, `text : value` pairs (spaces around
 * the colon required, as Grafana), items trimmed; empty items dropped.
 * @param {string} query
 * @returns {{text: string, value: string}[]}
 */
export function customOptions(query) {
  const items = String(query ?? '').match(/(?:\\,|[^,])+/g) || [];
  const out = [];
  for (let item of items) {
    item = item.replace(/\\,/g, ',');
    const m = /^\s*(.+)\s:\s(.+)$/.exec(item);
    const opt = m ? { text: m[1].trim(), value: m[2].trim() } : { text: item.trim(), value: item.trim() };
    if (opt.value === '' && opt.text === '') continue;
    out.push(opt);
  }
  return out;
}

// Grafana's interval rounding (kbn.roundInterval): [upper bound exclusive, result] in ms
const ROUND = [
  [10, 1], [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000],
  [7500, 5000], [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000], [90000, 60000], [210000, 120000],
  [450000, 300000], [750000, 600000], [1050000, 900000], [1500000, 1200000], [2700000, 1800000],
  [5400000, 3600000], [9000000, 7200000], [16200000, 10800000], [32400000, 21600000], [86400000, 43200000],
  [604800000, 86400000], [1814400000, 604800000], [3628800000, 2592000000],
];

/**
 * Rounds an interval to Grafana's nice intervals (kbn.roundInterval).
 * @param {number} ms
 * @returns {number} ms
 */
export function roundInterval(ms) {
  for (const [lim, v] of ROUND) if (ms < lim) return v;
  return 31536000000;
}

/**
 * Options of an interval variable: the comma-separated durations, trimmed; with `auto`, a first option
 * `{text: 'auto', value: <computed>, auto: true}` whose value is the range divided by auto_count (default 30),
 * rounded as Grafana, and at least auto_min (default 10s), as a Prometheus duration.
 * @param {string} query e.g. '1m,10m,1h'
 * @param {{auto?: boolean, auto_count?: number, auto_min?: string, fromMs?: number, toMs?: number}} [opts]
 * @returns {{text: string, value: string, auto?: boolean}[]}
 */
export function intervalOptions(query, { auto = false, auto_count = 30, auto_min = '10s', fromMs = 0, toMs = 0 } = {}) {
  const out = String(query ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => ({ text: s, value: s }));
  if (auto) {
    const count = Number(auto_count) > 0 ? Number(auto_count) : 30;
    let ms = roundInterval(Math.max(0, toMs - fromMs) / count);
    let min = 0;
    try {
      min = auto_min ? parseDuration(auto_min) : 0;
    } catch {
      min = 10000;
    }
    if (min > ms) ms = min;
    out.unshift({ text: 'auto', value: formatDuration(ms), auto: true });
  }
  return out;
}

function varTexts(v) {
  const q = v.query;
  return [
    typeof q === 'string' ? q : q && typeof q === 'object' ? q.query ?? '' : '',
    v.regex ?? '',
    typeof v.datasource === 'string' ? v.datasource : '',
    v.definition ?? '',
  ];
}

/**
 * The variables a variable uses (in its query, regex or datasource), among allVariables, in allVariables' order.
 * A variable never depends on itself.
 * @param {{name: string, query?: string|{query: string}, regex?: string}} variable
 * @param {{name: string}[]} allVariables
 * @returns {string[]}
 */
export function dependsOn(variable, allVariables) {
  const used = new Set(varTexts(variable).flatMap(referencedNames));
  return (allVariables || []).map((v) => v.name).filter((n) => n !== variable.name && used.has(n));
}

/**
 * An order to update variables in: each after the ones it uses; otherwise the given order is kept.
 * @param {{name: string}[]} variables
 * @returns {string[]} names
 * @throws {Error} naming the variables of a cycle (`a -> b -> a`)
 */
export function resolveOrder(variables) {
  const list = variables || [];
  const deps = new Map(list.map((v) => [v.name, dependsOn(v, list)]));
  const state = new Map();
  const out = [];
  const visit = (name, stack) => {
    const s = state.get(name);
    if (s === 2) return;
    if (s === 1) {
      const cyc = stack.slice(stack.indexOf(name)).concat(name);
      throw new Error(`variables depend on each other in a cycle: ${cyc.join(' -> ')}`);
    }
    state.set(name, 1);
    stack.push(name);
    for (const d of deps.get(name) || []) visit(d, stack);
    stack.pop();
    state.set(name, 2);
    out.push(name);
  };
  for (const v of list) visit(v.name, []);
  return out;
}
