export function encodeState(s) {
  const p = new URLSearchParams();
  if (s.from != null) p.set('from', String(s.from));
  if (s.to != null) p.set('to', String(s.to));
  if (s.refresh) p.set('refresh', s.refresh);
  for (const [k, v] of Object.entries(s.vars || {})) (Array.isArray(v) ? v : [v]).forEach((x) => p.append('var-' + k, x));
  for (const k of ['viewPanel', 'editPanel', 'panelId']) if (s[k] != null) p.set(k, String(s[k]));
  if (s.kiosk) p.set('kiosk', s.kiosk === true ? '' : s.kiosk);
  return p;
}
export function decodeState(p) {
  const s = { vars: {} };
  if (p.has('from')) s.from = p.get('from');
  if (p.has('to')) s.to = p.get('to');
  if (p.has('refresh')) s.refresh = p.get('refresh');
  for (const k of new Set([...p.keys()])) if (k.startsWith('var-')) { const a = p.getAll(k); s.vars[k.slice(4)] = a.length > 1 ? a : a[0]; }
  for (const k of ['viewPanel', 'editPanel', 'panelId']) if (p.has(k)) s[k] = /^\d+$/.test(p.get(k)) ? Number(p.get(k)) : p.get(k);
  if (p.has('kiosk')) s.kiosk = p.get('kiosk') || true;
  return s;
}
