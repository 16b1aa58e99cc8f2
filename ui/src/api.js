// Thin wrappers around the same-origin HTTP API.

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function request(method, path, { body, signal, params } = {}) {
  let url = path;
  if (params) {
    const qs = params instanceof URLSearchParams ? params : new URLSearchParams(params);
    const s = qs.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const init = { method, signal, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError('network error: ' + e.message, 0, null);
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const msg = (json && (json.error || json.message)) || text || res.statusText || ('HTTP ' + res.status);
    throw new ApiError(msg, res.status, json);
  }
  return json;
}

// Warnings and infos of the last response per query text (the query explorer shows them).
export const queryNotes = new Map();

// Prometheus API (status/data envelope)
async function prom(path, params, signal) {
  // POST form keeps long expressions out of the URL
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) v.forEach((x) => body.append(k, x));
    else body.append(k, String(v));
  }
  let res;
  try {
    res = await fetch(path, {
      method: 'POST', signal, body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError('network error: ' + e.message, 0, null);
  }
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  if (!json || json.status !== 'success') {
    const msg = (json && json.error) || text || ('HTTP ' + res.status);
    throw new ApiError(msg, res.status, json);
  }
  if (params.query) queryNotes.set(params.query, { warnings: json.warnings || [], infos: json.infos || [] });
  return json.data;
}

export const promApi = {
  // format 'columns': the server's columnar encoding for charts (see lib/series.js decodeColumns)
  queryRange: (query, startMs, endMs, stepMs, signal, format) =>
    prom('/api/v1/query_range', { query, start: startMs / 1000, end: endMs / 1000, step: stepMs / 1000,
      ...(format ? { format } : {}) }, signal),
  query: (query, timeMs, signal) => prom('/api/v1/query', { query, time: timeMs / 1000 }, signal),
  labels: (match, startMs, endMs, signal) =>
    prom('/api/v1/labels', { 'match[]': match ? [match] : undefined, start: startMs / 1000, end: endMs / 1000 }, signal),
  labelValues: (label, match, startMs, endMs, signal) => {
    const qs = new URLSearchParams();
    if (match) qs.append('match[]', match);
    if (startMs != null) qs.append('start', String(startMs / 1000));
    if (endMs != null) qs.append('end', String(endMs / 1000));
    return request('GET', `/api/v1/label/${encodeURIComponent(label)}/values`, { params: qs, signal }).then((j) => j.data);
  },
};

export const dashApi = {
  list: (query, tag) => request('GET', '/api/v1/dashboards', { params: { ...(query ? { query } : {}), ...(tag ? { tag } : {}) } }),
  get: (uid) => request('GET', `/api/v1/dashboards/${encodeURIComponent(uid)}`),
  save: (dashboard, message, overwrite) => request('POST', '/api/v1/dashboards', { body: { dashboard, message, overwrite: !!overwrite } }),
  remove: (uid) => request('DELETE', `/api/v1/dashboards/${encodeURIComponent(uid)}`),
  versions: (uid) => request('GET', `/api/v1/dashboards/${encodeURIComponent(uid)}/versions`),
  version: (uid, n) => request('GET', `/api/v1/dashboards/${encodeURIComponent(uid)}/versions/${n}`),
  diff: (uid, from, to) => request('GET', `/api/v1/dashboards/${encodeURIComponent(uid)}/diff`, { params: { from, to } }),
  restore: (uid, version, message) => request('POST', `/api/v1/dashboards/${encodeURIComponent(uid)}/restore`, { body: { version, message } }),
  import: (json, overwrite) => request('POST', '/api/v1/dashboards/import', { body: json, params: overwrite ? { overwrite: 'true' } : undefined }),
  exportUrl: (uid, format) => `/api/v1/dashboards/${encodeURIComponent(uid)}/export` + (format ? `?format=${format}` : ''),
};
