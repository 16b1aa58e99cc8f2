// Resolving dashboard variables: options from the API, current values, chained re-resolution.
import { promApi } from './api.js';
import { interpolate, parseVariableQuery, applyRegex, dependsOn, resolveOrder, sortOptions, customOptions, intervalOptions } from './lib/vars.js';

export const ALL = '$__all';

function promResultStrings(data) {
  const fmt = (metric) => {
    const name = metric.__name__ || '';
    const ls = Object.entries(metric).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}="${v}"`).join(', ');
    return name + (ls || !name ? `{${ls}}` : '');
  };
  if (data.resultType === 'vector') return data.result.map((r) => `${fmt(r.metric)} ${r.value[1]} ${Math.round(r.value[0] * 1000)}`);
  if (data.resultType === 'scalar') return [String(data.result[1])];
  if (data.resultType === 'matrix') return data.result.map((r) => fmt(r.metric));
  return [];
}

// Builds the vars argument of interpolate() from variable definitions and their state.
export function interpVars(variables, state) {
  const out = {};
  for (const v of variables) {
    const st = state[v.name] || {};
    out[v.name] = {
      value: st.value,
      options: st.options || [],
      multi: !!v.multi,
      includeAll: !!v.includeAll,
      allValue: v.allValue ?? null,
      type: v.type,
    };
  }
  return out;
}

export async function fetchOptions(v, variables, state, range, builtins, signal) {
  const vars = interpVars(variables, state);
  const q = typeof v.query === 'string' ? v.query : (v.query && v.query.query) || '';
  switch (v.type) {
    case 'custom': return customOptions(interpolate(q, vars, builtins));
    case 'constant': return [{ text: q, value: q }];
    case 'textbox': return [];
    case 'interval':
      return intervalOptions(q, { auto: !!v.auto, auto_count: v.auto_count || 30, auto_min: v.auto_min || '10s', fromMs: range.fromMs, toMs: range.toMs });
    case 'query': {
      const p = parseVariableQuery(interpolate(q, vars, builtins));
      let values = [];
      if (p.kind === 'label_values') {
        values = await promApi.labelValues(p.label, p.metric || null, range.fromMs, range.toMs, signal);
      } else if (p.kind === 'label_names') {
        values = await promApi.labels(p.metric || null, range.fromMs, range.toMs, signal);
      } else if (p.kind === 'metrics') {
        values = await promApi.labelValues('__name__', null, range.fromMs, range.toMs, signal);
        if (p.regex) {
          let re = null;
          try { re = new RegExp(p.regex); } catch { re = null; }
          if (re) values = values.filter((x) => re.test(x));
        }
      } else if (p.kind === 'query_result') {
        values = promResultStrings(await promApi.query(p.expr, range.toMs, signal));
      }
      const seen = new Set();
      const opts = applyRegex(values || [], v.regex || '').filter((o) => (seen.has(o.value) ? false : (seen.add(o.value), true)));
      return sortOptions(opts, v.sort || 0);
    }
    default:
      return [];
  }
}

function pickValue(v, options, wanted) {
  const vals = new Set(options.map((o) => o.value));
  const arr = wanted == null ? [] : Array.isArray(wanted) ? wanted : [wanted];
  if (v.type === 'textbox') return arr.length ? arr[0] : (typeof v.query === 'string' ? v.query : '');
  if (v.type === 'constant') return options[0] ? options[0].value : '';
  if (arr.includes(ALL) && v.includeAll) return v.multi ? [ALL] : ALL;
  const kept = arr.filter((x) => vals.has(x));
  if (v.multi) {
    if (kept.length) return kept;
    if (v.includeAll) return [ALL];
    return options.length ? [options[0].value] : [];
  }
  if (kept.length) return kept[0];
  if (v.includeAll && !options.length) return ALL;
  return options.length ? options[0].value : (arr[0] ?? '');
}

function initialWanted(v, urlVars) {
  if (urlVars && Object.prototype.hasOwnProperty.call(urlVars, v.name)) return urlVars[v.name];
  const c = v.current && v.current.value;
  return c === undefined ? null : c;
}

// Resolve variables in order. `changed` (a set of names) limits re-resolution to variables depending on them.
// `force` names variables to fetch again even when nothing they use changed (refresh on time range change).
export async function resolveVariables(variables, prevState, urlVars, range, builtins, changed, signal, force = []) {
  const state = { ...prevState };
  let order;
  try { order = resolveOrder(variables); } catch { order = variables.map((v) => v.name); }
  const byName = Object.fromEntries(variables.map((v) => [v.name, v]));
  const dirty = new Set(changed || []);
  for (const name of order) {
    const v = byName[name];
    if (!v) continue;
    const deps = (() => { try { return dependsOn(v, variables); } catch { return []; } })();
    const need = !changed || !state[name] || force.includes(name) || deps.some((d) => dirty.has(d));
    if (!need) continue;
    let options = [];
    let error = null;
    try {
      options = await fetchOptions(v, variables, state, range, builtins, signal);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      error = e.message;
    }
    const wanted = state[name] ? state[name].value : initialWanted(v, urlVars);
    const value = pickValue(v, options, wanted);
    const before = state[name] && JSON.stringify(state[name].value);
    state[name] = { value, options, error };
    if (changed && before !== JSON.stringify(value)) dirty.add(name);
    if (!changed) dirty.add(name);
  }
  return state;
}

export function selectedValues(v, st) {
  if (!st) return [];
  const arr = Array.isArray(st.value) ? st.value : [st.value];
  if (arr.includes(ALL)) return st.options.map((o) => o.value);
  return arr;
}
