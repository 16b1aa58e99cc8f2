// Dashboard model functions: layout items, rows (collapse/expand), repeats, ids.
import { compact, toggleRow } from './lib/grid.js';
import { selectedValues } from './variables.js';

export const ROW_H = 30;

export function gp(p) {
  const g = p.gridPos || {};
  return { x: g.x ?? 0, y: g.y ?? 0, w: g.w ?? 12, h: g.h ?? (p.type === 'row' ? 1 : 8) };
}

export function layoutOf(panels) {
  return panels.map((p) => ({ id: p.id, ...gp(p) }));
}

export function applyLayout(panels, layout) {
  const byId = new Map(layout.map((l) => [l.id, l]));
  return panels.map((p) => {
    const l = byId.get(p.id);
    return l ? { ...p, gridPos: { x: l.x, y: l.y, w: l.w, h: l.h } } : p;
  });
}

export function compactPanels(panels) {
  return applyLayout(panels, compact(layoutOf(panels)));
}

export function sortByPos(panels) {
  return [...panels].sort((a, b) => gp(a).y - gp(b).y || gp(a).x - gp(b).x);
}

export function nextId(panels) {
  let max = 0;
  const walk = (ps) => ps.forEach((p) => { if (typeof p.id === 'number' && p.id > max) max = p.id; if (p.panels) walk(p.panels); });
  walk(panels);
  return max + 1;
}

export function findPanel(panels, id) {
  for (const p of panels) {
    if (String(p.id) === String(id)) return p;
    if (p.panels) { const c = findPanel(p.panels, id); if (c) return c; }
  }
  return null;
}

export function replacePanel(panels, id, np) {
  return panels.map((p) => {
    if (String(p.id) === String(id)) return np;
    if (p.panels && p.panels.length) return { ...p, panels: replacePanel(p.panels, id, np) };
    return p;
  });
}

export function removePanel(panels, id) {
  return panels.filter((p) => String(p.id) !== String(id)).map((p) => (p.panels && p.panels.length ? { ...p, panels: removePanel(p.panels, id) } : p));
}

export function toggleRowIn(panels, rowId) {
  return compactPanels(toggleRow(sortByPos(panels), rowId));
}

// Visible panels with repeats expanded: [{panel, key, varOverride, x,y,w,h, repeatOf}]
export function expandRepeats(panels, variables, varState) {
  const out = [];
  let shift = 0;
  const sorted = sortByPos(panels);
  const extraAt = []; // [{fromY, dy}]
  for (const p of sorted) {
    const g = gp(p);
    const pushed = extraAt.reduce((acc, e) => (g.y >= e.fromY ? acc + e.dy : acc), 0);
    const base = { ...g, y: g.y + pushed };
    const v = p.repeat && variables.find((x) => x.name === p.repeat);
    const values = v ? selectedValues(v, varState[v.name]) : [];
    if (!v || values.length <= 1) {
      out.push({ panel: p, key: String(p.id), varOverride: v && values.length === 1 ? { [v.name]: values[0] } : null, ...base });
      continue;
    }
    if (p.repeatDirection === 'v') {
      values.forEach((val, i) => out.push({ panel: p, key: i ? `${p.id}-${i}` : String(p.id), repeatOf: i ? p.id : null, varOverride: { [v.name]: val }, ...base, y: base.y + i * base.h }));
      extraAt.push({ fromY: g.y + g.h, dy: (values.length - 1) * base.h });
    } else {
      const perRow = Math.max(1, Math.min(values.length, p.maxPerRow || 4));
      const w = Math.max(1, Math.floor(24 / perRow));
      values.forEach((val, i) => out.push({
        panel: p, key: i ? `${p.id}-${i}` : String(p.id), repeatOf: i ? p.id : null, varOverride: { [v.name]: val },
        x: (i % perRow) * w, y: base.y + Math.floor(i / perRow) * base.h, w, h: base.h,
      }));
      const rows = Math.ceil(values.length / perRow);
      extraAt.push({ fromY: g.y + g.h, dy: (rows - 1) * base.h });
    }
  }
  void shift;
  return out;
}
