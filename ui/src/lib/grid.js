// Dashboard grid: items {id, x, y, w, h} on 24 columns (one h unit = 30 px), compacted vertically like
// react-grid-layout. Functions return new arrays of new item objects (other item fields are kept); inputs are
// never changed.

/** Number of grid columns. */
export const COLUMNS = 24;

function int(v, dflt) {
  const n = Math.round(Number(v));
  return Number.isFinite(n) ? n : dflt;
}

function clampItem(it) {
  const w = Math.min(COLUMNS, Math.max(1, int(it.w, COLUMNS)));
  const h = Math.max(1, int(it.h, 1));
  const x = Math.min(COLUMNS - w, Math.max(0, int(it.x, 0)));
  const y = Math.max(0, int(it.y, 0));
  return { ...it, x, y, w, h };
}

/**
 * Whether two items overlap (an item never collides with itself).
 * @param {{id: *, x: number, y: number, w: number, h: number}} a
 * @param {{id: *, x: number, y: number, w: number, h: number}} b
 * @returns {boolean}
 */
export function collides(a, b) {
  if (a === b || (a.id !== undefined && a.id === b.id)) return false;
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function byRowCol(items) {
  return items
    .map((it, i) => [it, i])
    .sort((a, b) => a[0].y - b[0].y || a[0].x - b[0].x || a[1] - b[1])
    .map((e) => e[0]);
}

/** Lowest row used: max(y + h), 0 for no items. */
export function bottom(layout) {
  let b = 0;
  for (const it of layout || []) b = Math.max(b, it.y + it.h);
  return b;
}

function compactInPlace(items) {
  const placed = [];
  for (const l of byRowCol(items)) {
    l.y = Math.min(bottom(placed), l.y);
    while (l.y > 0 && !placed.some((p) => collides(p, { ...l, id: undefined, y: l.y - 1 }))) l.y--;
    let c;
    while ((c = placed.find((p) => collides(p, { ...l, id: undefined })))) l.y = c.y + c.h;
    placed.push(l);
  }
  return items;
}

/**
 * Vertical compaction as react-grid-layout's: items are clamped into the grid (w 1..24, x within the columns,
 * y >= 0, h >= 1), then, taken by y then x, each floats up as far as it can without overlapping the ones
 * already placed (and moves below any it still overlaps). Items keep the input order.
 * @param {{id: *, x: number, y: number, w: number, h: number}[]} layout
 * @returns {{id: *, x: number, y: number, w: number, h: number}[]}
 */
export function compact(layout) {
  return compactInPlace((layout || []).map(clampItem));
}

function pushAway(items, mover, userAction) {
  const hits = byRowCol(items.filter((o) => collides(o, mover)));
  for (const c of hits) {
    if (!collides(c, mover)) continue;
    if (userAction) {
      // room above the moved item? then the other item jumps over it (a swap), as react-grid-layout does
      const upY = mover.y - c.h;
      if (upY >= 0) {
        const fake = { ...c, y: upY };
        if (!items.some((o) => o !== c && o !== mover && collides(o, fake)) && !collides(mover, fake)) {
          c.y = upY;
          continue;
        }
      }
    }
    c.y = mover.y + mover.h;
    pushAway(items, c, false);
  }
}

/**
 * Moves an item to (x, y), clamped into the grid; items it lands on move out of the way (jumping above it when
 * there is room, else pushed down, cascading), then the layout is compacted. An unknown id only compacts.
 * @param {{id: *, x: number, y: number, w: number, h: number}[]} layout
 * @param {*} id
 * @param {number} x column 0..24-w
 * @param {number} y row >= 0
 * @returns {{id: *, x: number, y: number, w: number, h: number}[]} in the input order
 */
export function moveItem(layout, id, x, y) {
  const items = (layout || []).map(clampItem);
  const item = items.find((it) => it.id === id);
  if (item) {
    item.x = Math.min(COLUMNS - item.w, Math.max(0, int(x, item.x)));
    item.y = Math.max(0, int(y, item.y));
    pushAway(items, item, true);
  }
  return compactInPlace(items);
}

/**
 * Resizes an item: w clamped to 1..24 (x moves left when the item would pass the right edge), h >= 1; items it
 * now overlaps are pushed down; then the layout is compacted.
 * @param {{id: *, x: number, y: number, w: number, h: number}[]} layout
 * @param {*} id
 * @param {number} w
 * @param {number} h
 * @returns {{id: *, x: number, y: number, w: number, h: number}[]} in the input order
 */
export function resizeItem(layout, id, w, h) {
  const items = (layout || []).map(clampItem);
  const item = items.find((it) => it.id === id);
  if (item) {
    item.w = Math.min(COLUMNS, Math.max(1, int(w, item.w)));
    item.h = Math.max(1, int(h, item.h));
    item.x = Math.min(item.x, COLUMNS - item.w);
    pushAway(items, item, false);
  }
  return compactInPlace(items);
}

/**
 * Single-column layout for narrow screens: items ordered by y then x, each full width (x 0, w 24) with its h,
 * stacked top to bottom.
 * @param {{id: *, x: number, y: number, w: number, h: number}[]} layout
 * @returns {{id: *, x: number, y: number, w: number, h: number}[]} in display order
 */
export function stackForMobile(layout) {
  let y = 0;
  return byRowCol((layout || []).map(clampItem)).map((it) => {
    const out = { ...it, x: 0, w: COLUMNS, y };
    y += it.h;
    return out;
  });
}

function isRow(p) {
  return p && p.type === 'row';
}

/**
 * Groups dashboard panels (each with `gridPos`) by rows. The children of a row are the panels inside it
 * (`row.panels`, where Grafana keeps a collapsed row's panels) followed by the top-level panels after it until the
 * next row; panels before the first row form a group with `row: null`. A collapsed row hides its children.
 * @param {object[]} panels the dashboard's top-level panels, in order
 * @returns {{groups: {row: object|null, collapsed: boolean, panels: object[]}[], visible: object[]}}
 *   visible: what to draw, in order: rows and the panels of groups that are not collapsed
 */
export function layoutRows(panels) {
  const groups = [];
  let cur = { row: null, collapsed: false, panels: [] };
  for (const p of panels || []) {
    if (isRow(p)) {
      if (cur.row || cur.panels.length) groups.push(cur);
      cur = { row: p, collapsed: !!p.collapsed, panels: [...(Array.isArray(p.panels) ? p.panels : [])] };
    } else {
      cur.panels.push(p);
    }
  }
  if (cur.row || cur.panels.length) groups.push(cur);
  const visible = [];
  for (const g of groups) {
    if (g.row) visible.push(g.row);
    if (!g.collapsed) visible.push(...g.panels);
  }
  return { groups, visible };
}

function gp(p) {
  return p.gridPos || { x: 0, y: 0, w: COLUMNS, h: 1 };
}

/**
 * Collapses or expands a row, as Grafana stores it: collapsing moves the row's following panels into
 * `row.panels` (`collapsed: true`) and lifts the panels below; expanding puts them back right under the row
 * (`panels: []`, `collapsed: false`) and pushes the panels below down. Returns a new panels array.
 * @param {object[]} panels top-level panels with gridPos
 * @param {*} rowId the row panel's id
 * @returns {object[]}
 */
export function toggleRow(panels, rowId) {
  const list = (panels || []).map((p) => ({ ...p }));
  const idx = list.findIndex((p) => isRow(p) && p.id === rowId);
  if (idx === -1) return list;
  const row = list[idx];
  const rowY = gp(row).y;
  if (row.collapsed) {
    const kids = (row.panels || []).map((p) => ({ ...p, gridPos: { ...gp(p) } }));
    const minY = kids.length ? Math.min(...kids.map((k) => k.gridPos.y)) : 0;
    for (const k of kids) k.gridPos.y = k.gridPos.y - minY + rowY + 1;
    const height = kids.length ? Math.max(...kids.map((k) => k.gridPos.y + k.gridPos.h)) - (rowY + 1) : 0;
    const after = list.slice(idx + 1).map((p) => ({ ...p, gridPos: { ...gp(p), y: gp(p).y + height } }));
    return [...list.slice(0, idx), { ...row, collapsed: false, panels: [] }, ...kids, ...after];
  }
  let end = idx + 1;
  while (end < list.length && !isRow(list[end])) end++;
  const kids = list.slice(idx + 1, end);
  const height = kids.length ? Math.max(...kids.map((k) => gp(k).y + gp(k).h)) - (rowY + 1) : 0;
  const after = list.slice(end).map((p) => ({ ...p, gridPos: { ...gp(p), y: Math.max(0, gp(p).y - Math.max(0, height)) } }));
  return [...list.slice(0, idx), { ...row, collapsed: true, panels: [...(row.panels || []), ...kids] }, ...after];
}
