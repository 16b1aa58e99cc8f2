import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compact, moveItem, resizeItem, stackForMobile, layoutRows, toggleRow, collides, bottom, COLUMNS } from '../../src/lib/grid.js';

const pos = (l) => l.map(({ id, x, y, w, h }) => [id, x, y, w, h]);

function rng(start) {
  let s = start >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomLayout(r, n) {
  return Array.from({ length: n }, (_, i) => ({
    id: i + 1, x: Math.floor(r() * 30) - 3, y: Math.floor(r() * 40) - 2, w: Math.floor(r() * 28) - 2, h: Math.floor(r() * 10) - 1, title: `p${i}`,
  }));
}

function assertValid(l, msg) {
  for (const a of l) {
    assert.ok(Number.isInteger(a.x) && Number.isInteger(a.y) && Number.isInteger(a.w) && Number.isInteger(a.h), msg);
    assert.ok(a.x >= 0 && a.w >= 1 && a.x + a.w <= COLUMNS && a.y >= 0 && a.h >= 1, `${msg}: ${JSON.stringify(a)}`);
    for (const b of l) assert.ok(!collides(a, b), `${msg}: overlap ${JSON.stringify(a)} ${JSON.stringify(b)}`);
  }
  // compacted: nothing can float up by one
  for (const a of l) {
    if (a.y === 0) continue;
    const up = { ...a, id: Symbol('probe'), y: a.y - 1 };
    assert.ok(l.some((b) => b.id !== a.id && collides(up, b)), `${msg}: ${a.id} could float up`);
  }
}

test('compact floats items up and resolves overlaps', () => {
  const l = [
    { id: 'a', x: 0, y: 5, w: 12, h: 4 },
    { id: 'b', x: 12, y: 2, w: 12, h: 4 },
    { id: 'c', x: 0, y: 6, w: 24, h: 2 },
    { id: 'd', x: 6, y: 5, w: 6, h: 2 },
  ];
  assert.deepEqual(pos(compact(l)), [['a', 0, 0, 12, 4], ['b', 12, 0, 12, 4], ['c', 0, 6, 24, 2], ['d', 6, 4, 6, 2]]);
  assert.deepEqual(l[0].y, 5); // input untouched
  assert.deepEqual(compact([]), []);
  assert.deepEqual(pos(compact([{ id: 1, x: 20, y: 3, w: 10, h: 0 }])), [[1, 14, 0, 10, 1]]);
  assert.equal(compact([{ id: 1, x: 0, y: 0, w: 4, h: 4, title: 'kept' }])[0].title, 'kept');
});

test('compact invariants on random layouts (no overlap, in 24 columns, idempotent)', () => {
  const r = rng(1234);
  for (let i = 0; i < 300; i++) {
    const l = randomLayout(r, 1 + Math.floor(r() * 15));
    const c = compact(l);
    assert.equal(c.length, l.length);
    assert.deepEqual(c.map((x) => x.id), l.map((x) => x.id));
    assertValid(c, `round ${i}`);
    assert.deepEqual(compact(c), c);
  }
});

test('moveItem: swap down, push down, clamp', () => {
  const l = [{ id: 'a', x: 0, y: 0, w: 24, h: 2 }, { id: 'b', x: 0, y: 2, w: 24, h: 2 }];
  assert.deepEqual(pos(moveItem(l, 'a', 0, 3)), [['a', 0, 2, 24, 2], ['b', 0, 0, 24, 2]]);
  assert.deepEqual(pos(moveItem(l, 'b', 0, 0)), [['a', 0, 2, 24, 2], ['b', 0, 0, 24, 2]]);
  assert.deepEqual(pos(moveItem(l, 'a', 0, 1)), [['a', 0, 0, 24, 2], ['b', 0, 2, 24, 2]]);
  const side = [{ id: 'a', x: 0, y: 0, w: 12, h: 4 }, { id: 'b', x: 12, y: 0, w: 12, h: 4 }];
  assert.deepEqual(pos(moveItem(side, 'a', 30, 0)), [['a', 12, 0, 12, 4], ['b', 12, 4, 12, 4]]);
  assert.deepEqual(pos(moveItem(side, 'a', -5, -5)), pos(side));
  assert.deepEqual(pos(moveItem(side, 'zz', 0, 0)), pos(side));
});

test('resizeItem', () => {
  const l = [{ id: 'a', x: 0, y: 0, w: 12, h: 4 }, { id: 'b', x: 12, y: 0, w: 12, h: 4 }, { id: 'c', x: 0, y: 4, w: 6, h: 2 }];
  assert.deepEqual(pos(resizeItem(l, 'a', 18, 6)), [['a', 0, 0, 18, 6], ['b', 12, 6, 12, 4], ['c', 0, 6, 6, 2]]);
  assert.deepEqual(pos(resizeItem(l, 'b', 99, 0)), [['a', 0, 1, 12, 4], ['b', 0, 0, 24, 1], ['c', 0, 5, 6, 2]]);
  assert.deepEqual(pos(resizeItem(l, 'c', 0, 1)), [['a', 0, 0, 12, 4], ['b', 12, 0, 12, 4], ['c', 0, 4, 1, 1]]);
});

test('moveItem / resizeItem invariants on random operations', () => {
  const r = rng(99);
  for (let i = 0; i < 200; i++) {
    let l = compact(randomLayout(r, 2 + Math.floor(r() * 12)));
    for (let k = 0; k < 8; k++) {
      const id = l[Math.floor(r() * l.length)].id;
      l = r() < 0.6
        ? moveItem(l, id, Math.floor(r() * 30) - 3, Math.floor(r() * 30) - 3)
        : resizeItem(l, id, Math.floor(r() * 30) - 3, Math.floor(r() * 12) - 1);
      assertValid(l, `round ${i}.${k}`);
      assert.deepEqual(compact(l), l);
    }
  }
});

test('stackForMobile', () => {
  const l = [{ id: 'b', x: 12, y: 0, w: 12, h: 4 }, { id: 'c', x: 0, y: 4, w: 6, h: 2 }, { id: 'a', x: 0, y: 0, w: 12, h: 3 }];
  assert.deepEqual(pos(stackForMobile(l)), [['a', 0, 0, 24, 3], ['b', 0, 3, 24, 4], ['c', 0, 7, 24, 2]]);
  assert.deepEqual(stackForMobile([]), []);
  assert.equal(bottom(stackForMobile(l)), 9);
});

test('layoutRows and toggleRow', () => {
  const panels = [
    { id: 1, type: 'stat', gridPos: { x: 0, y: 0, w: 24, h: 4 } },
    { id: 2, type: 'row', collapsed: false, gridPos: { x: 0, y: 4, w: 24, h: 1 }, panels: [] },
    { id: 3, type: 'timeseries', gridPos: { x: 0, y: 5, w: 12, h: 8 } },
    { id: 4, type: 'timeseries', gridPos: { x: 12, y: 5, w: 12, h: 8 } },
    { id: 5, type: 'row', collapsed: true, gridPos: { x: 0, y: 13, w: 24, h: 1 }, panels: [{ id: 6, type: 'table', gridPos: { x: 0, y: 40, w: 24, h: 6 } }] },
    { id: 7, type: 'row', collapsed: false, gridPos: { x: 0, y: 14, w: 24, h: 1 } },
    { id: 8, type: 'text', gridPos: { x: 0, y: 15, w: 24, h: 3 } },
  ];
  const { groups, visible } = layoutRows(panels);
  assert.deepEqual(groups.map((g) => [g.row?.id ?? null, g.collapsed, g.panels.map((p) => p.id)]),
    [[null, false, [1]], [2, false, [3, 4]], [5, true, [6]], [7, false, [8]]]);
  assert.deepEqual(visible.map((p) => p.id), [1, 2, 3, 4, 5, 7, 8]);
  assert.deepEqual(layoutRows([]), { groups: [], visible: [] });

  const expanded = toggleRow(panels, 5);
  assert.deepEqual(expanded.map((p) => p.id), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(expanded[4].collapsed, false);
  assert.deepEqual(expanded[5].gridPos, { x: 0, y: 14, w: 24, h: 6 });
  assert.equal(expanded[6].gridPos.y, 20);
  const collapsed = toggleRow(expanded, 5);
  assert.deepEqual(collapsed.map((p) => p.id), [1, 2, 3, 4, 5, 7, 8]);
  assert.deepEqual(collapsed[4].panels.map((p) => p.id), [6]);
  assert.equal(collapsed[5].gridPos.y, 14);
  const c2 = toggleRow(panels, 2);
  assert.deepEqual(c2.map((p) => p.id), [1, 2, 5, 7, 8]);
  assert.deepEqual(c2[1].panels.map((p) => p.id), [3, 4]);
  assert.equal(c2[2].gridPos.y, 5);
  assert.equal(panels[1].collapsed, false); // input untouched
  assert.deepEqual(toggleRow(panels, 999).map((p) => p.id), panels.map((p) => p.id));
});
