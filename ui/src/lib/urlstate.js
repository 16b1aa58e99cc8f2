// View state <-> URL query parameters (see docs/dashboards.md, "Pages (URLs)").

const ORDER_TAIL = ['viewPanel', 'editPanel', 'panelId'];

function isSet(v) {
  return v !== undefined && v !== null && v !== '' && v !== false;
}

/**
 * Encodes view state as URL parameters, in a stable order: from, to, refresh, var-<name> (in the order of
 * `vars`' keys; repeated for several values; `$__all` for All), viewPanel, editPanel, panelId, kiosk.
 * Absent, null, '' and false fields are left out; `kiosk: true` is written as `kiosk=` and `kiosk: 'tv'` as
 * `kiosk=tv`. An empty array of values is written as one empty value (`var-x=`).
 * @param {{from?: string|number, to?: string|number, refresh?: string, vars?: Object<string, string|string[]>,
 *   viewPanel?: number, editPanel?: number, kiosk?: boolean|string, panelId?: number}} state
 * @returns {URLSearchParams}
 */
export function encodeState(state = {}) {
  const p = new URLSearchParams();
  for (const k of ['from', 'to', 'refresh']) if (isSet(state[k])) p.append(k, String(state[k]));
  for (const [name, value] of Object.entries(state.vars || {})) {
    if (value === undefined || value === null) continue;
    const list = Array.isArray(value) ? value : [value];
    if (!list.length) p.append(`var-${name}`, '');
    for (const v of list) p.append(`var-${name}`, String(v));
  }
  for (const k of ORDER_TAIL) if (isSet(state[k])) p.append(k, String(state[k]));
  if (state.kiosk === true) p.append('kiosk', '');
  else if (isSet(state.kiosk)) p.append('kiosk', String(state.kiosk));
  return p;
}

function num(v) {
  return /^-?\d+$/.test(v) ? Number(v) : v;
}

/**
 * Decodes URL parameters into view state; only the fields present are set, `vars` is always an object.
 * A variable given once decodes to a string, given several times to an array of strings (the app turns a single
 * value into an array for multi-value variables). viewPanel/editPanel/panelId decode to numbers when numeric;
 * `kiosk` with an empty value (or `1`, `true`) decodes to true, any other value (e.g. `tv`) as is.
 * from/to/refresh stay strings. Other parameters are ignored.
 * @param {URLSearchParams|string} params
 * @returns {{from?: string, to?: string, refresh?: string, vars: Object<string, string|string[]>,
 *   viewPanel?: number, editPanel?: number, kiosk?: boolean|string, panelId?: number}}
 */
export function decodeState(params) {
  const p = typeof params === 'string' ? new URLSearchParams(params) : params;
  const state = { vars: {} };
  for (const k of ['from', 'to', 'refresh']) if (p.has(k)) state[k] = p.get(k);
  for (const [key, value] of p) {
    if (!key.startsWith('var-') || key.length === 4) continue;
    const name = key.slice(4);
    if (name in state.vars) {
      const cur = state.vars[name];
      state.vars[name] = Array.isArray(cur) ? [...cur, value] : [cur, value];
    } else {
      state.vars[name] = value;
    }
  }
  for (const k of ORDER_TAIL) if (p.has(k) && p.get(k) !== '') state[k] = num(p.get(k));
  if (p.has('kiosk')) {
    const k = p.get('kiosk');
    state.kiosk = k === '' || k === '1' || k === 'true' ? true : k;
  }
  return state;
}
