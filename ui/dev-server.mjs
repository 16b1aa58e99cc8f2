// Development server for the UI: serves the built bundle (tsdb/ui/static), answers /api/v1/dashboards* from
// an in-memory store (optionally filled from a JSON file holding a list of dashboards), and proxies every other
// /api/ request to a tsdb.
//   TSDB_URL=http://127.0.0.1:9201 PORT=5173 DASHBOARDS=dashboards.json node dev-server.mjs
import http from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const staticDir = join(here, '..', 'tsdb', 'ui', 'static');
const target = new URL(process.env.TSDB_URL || 'http://127.0.0.1:9201');
const port = Number(process.env.PORT || 5173);
const types = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml' };

const store = new Map(); // uid -> {versions: [{dashboard, version, created, message}], source}
if (process.env.DASHBOARDS && existsSync(process.env.DASHBOARDS)) {
  for (const d of JSON.parse(readFileSync(process.env.DASHBOARDS, 'utf8'))) {
    store.set(d.uid, { source: d.__source || 'api', versions: [{ dashboard: { ...d, version: 1 }, version: 1, created: Date.now(), message: 'loaded from file' }] });
  }
}
const latest = (e) => e.versions[e.versions.length - 1];
const send = (res, code, obj) => { res.writeHead(code, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)); };
const body = (req) => new Promise((ok) => { let b = ''; req.on('data', (c) => { b += c; }); req.on('end', () => ok(b)); });

function save(d, message, overwrite) {
  const uid = d.uid || Math.random().toString(36).slice(2, 11);
  const e = store.get(uid);
  if (e && e.source !== 'api') return [403, { error: `dashboard "${uid}" is ${e.source} and read-only` }];
  if (e && !overwrite && d.version !== latest(e).version) return [409, { error: `version conflict: stored version is ${latest(e).version}` }];
  const version = e ? latest(e).version + 1 : 1;
  const entry = e || { source: 'api', versions: [] };
  entry.versions.push({ dashboard: { ...d, uid, version }, version, created: Date.now(), message: message || '' });
  store.set(uid, entry);
  return [200, { uid, version, url: `/ui/d/${uid}` }];
}

async function dashboards(req, res, url) {
  const parts = url.pathname.split('/').slice(4).map(decodeURIComponent); // after /api/v1/dashboards
  const m = req.method;
  if (!parts.length || !parts[0]) {
    if (m === 'GET') {
      const q = (url.searchParams.get('query') || '').toLowerCase();
      const tag = url.searchParams.get('tag');
      const list = [...store.entries()].map(([uid, e]) => { const d = latest(e).dashboard; return { uid, title: d.title, tags: d.tags || [], version: d.version, updated: latest(e).created, url: `/ui/d/${uid}`, source: e.source }; })
        .filter((d) => (!q || d.title.toLowerCase().includes(q)) && (!tag || d.tags.includes(tag))).sort((a, b) => a.title.localeCompare(b.title));
      return send(res, 200, list);
    }
    if (m === 'POST') { const b = JSON.parse(await body(req)); const [c, o] = save(b.dashboard, b.message, b.overwrite); return send(res, c, o); }
  }
  if (parts[0] === 'import' && m === 'POST') {
    const b = JSON.parse(await body(req));
    const d = b.dashboard || b;
    const [c, o] = save({ ...d, variables: d.variables || (d.templating && d.templating.list) || [], version: undefined }, 'import', true);
    return send(res, c, { ...o, warnings: ['dev server: no conversion done'] });
  }
  const e = store.get(parts[0]);
  if (!e) return send(res, 404, { error: `no dashboard "${parts[0]}"` });
  if (parts.length === 1) {
    if (m === 'GET') { const l = latest(e); return send(res, 200, { dashboard: l.dashboard, meta: { version: l.version, created: e.versions[0].created, updated: l.created, source: e.source, url: `/ui/d/${parts[0]}` } }); }
    if (m === 'PUT') { const b = JSON.parse(await body(req)); const [c, o] = save({ ...b.dashboard, uid: parts[0] }, b.message); return send(res, c, o); }
    if (m === 'DELETE') { if (e.source !== 'api') return send(res, 403, { error: 'read-only' }); store.delete(parts[0]); return send(res, 200, { uid: parts[0], deleted: true }); }
  }
  if (parts[1] === 'versions' && parts.length === 2) return send(res, 200, [...e.versions].reverse().map((v) => ({ version: v.version, created: v.created, message: v.message })));
  if (parts[1] === 'versions') { const v = e.versions.find((x) => x.version === Number(parts[2])); return v ? send(res, 200, v) : send(res, 404, { error: 'no such version' }); }
  if (parts[1] === 'diff') {
    const a = e.versions.find((x) => x.version === Number(url.searchParams.get('from')));
    const b = e.versions.find((x) => x.version === Number(url.searchParams.get('to')));
    if (!a || !b) return send(res, 404, { error: 'no such version' });
    const la = JSON.stringify(a.dashboard, null, 2).split('\n'), lb = JSON.stringify(b.dashboard, null, 2).split('\n');
    return send(res, 200, { from: a.version, to: b.version, diff: [...la.filter((l) => !lb.includes(l)).map((l) => '-' + l), ...lb.filter((l) => !la.includes(l)).map((l) => '+' + l)].join('\n'), changes: [] });
  }
  if (parts[1] === 'restore' && m === 'POST') {
    const b = JSON.parse(await body(req));
    const v = e.versions.find((x) => x.version === b.version);
    if (!v) return send(res, 404, { error: 'no such version' });
    const [c, o] = save({ ...v.dashboard, version: latest(e).version }, b.message || `restored ${b.version}`);
    return send(res, c, o);
  }
  if (parts[1] === 'export') return send(res, 200, latest(e).dashboard);
  return send(res, 404, { error: 'not found' });
}

function proxy(req, res) {
  const p = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  p.on('error', (e) => send(res, 502, { status: 'error', error: 'proxy: ' + e.message }));
  req.pipe(p);
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  try {
    if (url.pathname.startsWith('/api/v1/dashboards')) return await dashboards(req, res, url);
    if (url.pathname.startsWith('/api/')) return proxy(req, res);
    if (url.pathname === '/') { res.writeHead(302, { Location: '/ui/' }); return res.end(); }
    if (url.pathname.startsWith('/ui/assets/')) {
      const f = join(staticDir, 'assets', url.pathname.slice('/ui/assets/'.length).replace(/\.\./g, ''));
      if (existsSync(f)) { res.writeHead(200, { 'Content-Type': types[extname(f)] || 'application/octet-stream' }); return res.end(readFileSync(f)); }
      return send(res, 404, { error: 'not found' });
    }
    if (url.pathname.startsWith('/ui')) { res.writeHead(200, { 'Content-Type': 'text/html' }); return res.end(readFileSync(join(staticDir, 'index.html'))); }
    return send(res, 404, { error: 'not found' });
  } catch (e) {
    return send(res, 500, { error: String(e && e.message) });
  }
}).listen(port, '127.0.0.1', () => console.log(`UI dev server on http://127.0.0.1:${port}/ui/ -> ${target.origin}`));
