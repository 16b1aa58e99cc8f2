import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rowOffsets, rowAt, visibleRange, scrollOffsetFor } from '../../src/lib/virtualwindow.js';

const items = (n) => Array.from({ length: n }, (_, i) => i);

test('fixed heights: offsets and total', () => {
  const o = rowOffsets(items(10000), 50);
  assert.equal(o.length, 10001);
  assert.equal(o[0], 0);
  assert.equal(o[1], 50);
  assert.equal(o[10000], 500000);
});

test('variable heights from a function; negative or missing count as 0', () => {
  const o = rowOffsets(['a', 'bb', 'ccc', 'x'], (s, i) => (i === 3 ? -5 : s.length * 10));
  assert.deepEqual([...o], [0, 10, 30, 60, 60]);
});

test('rowAt finds the row holding a pixel', () => {
  const o = rowOffsets(items(100), 20);
  assert.equal(rowAt(o, 0), 0);
  assert.equal(rowAt(o, 19.9), 0);
  assert.equal(rowAt(o, 20), 1);
  assert.equal(rowAt(o, 1999), 99);
  assert.equal(rowAt(o, 1e9), 99);
  assert.equal(rowAt(o, -10), 0);
  assert.equal(rowAt(rowOffsets([], 20), 5), 0);
});

test('top of a long list: viewport rows plus overscan below only', () => {
  const o = rowOffsets(items(10000), 50);
  assert.deepEqual(visibleRange(o, 0, 500, 5), { start: 0, end: 15 });
});

test('middle of the list: overscan on both sides, partial rows included', () => {
  const o = rowOffsets(items(10000), 50);
  // 5025..5525 shows rows 100 (partly) .. 110 (partly)
  assert.deepEqual(visibleRange(o, 5025, 500, 3), { start: 97, end: 114 });
});

test('bottom, overscroll and a list that shrank are clamped', () => {
  const o = rowOffsets(items(10000), 50);
  const bottom = visibleRange(o, 500000 - 500, 500, 4);
  assert.equal(bottom.end, 10000);
  assert.equal(bottom.start, 9990 - 4);
  assert.deepEqual(visibleRange(o, 10e6, 500, 4), bottom);
  assert.deepEqual(visibleRange(o, -300, 500, 4), visibleRange(o, 0, 500, 4));
});

test('short list and empty list', () => {
  assert.deepEqual(visibleRange(rowOffsets(items(3), 50), 0, 800, 5), { start: 0, end: 3 });
  assert.deepEqual(visibleRange(rowOffsets([], 50), 0, 800, 5), { start: 0, end: 0 });
  assert.deepEqual(visibleRange(rowOffsets(items(3), 50), 0, 0, 0), { start: 0, end: 1 });
});

test('variable heights: window follows the offsets', () => {
  // rows alternate 30 px headers and 90 px items
  const o = rowOffsets(items(1000), (_, i) => (i % 2 ? 90 : 30));
  const { start, end } = visibleRange(o, 1200, 240, 0); // 1200 = 10 pairs: rows 20 (header) .. 23
  assert.deepEqual([start, end], [20, 24]);
  for (let i = start; i < end; i++) assert.ok(o[i] < 1200 + 240 && o[i + 1] > 1200);
});

test('rendered rows never exceed the viewport plus overscan, at any scroll position', () => {
  const o = rowOffsets(items(10000), (_, i) => 40 + (i % 7) * 10);
  for (let top = 0; top < o[10000]; top += 9973) {
    const { start, end } = visibleRange(o, top, 700, 5);
    assert.ok(end - start <= 700 / 40 + 2 + 10, `${top}: ${start}..${end}`);
    assert.ok(o[start] <= top && o[end] >= Math.min(top + 700, o[10000]), `${top}: covers the viewport`);
  }
});

test('scrollOffsetFor aligns a row', () => {
  const o = rowOffsets(items(100), 20);
  assert.equal(scrollOffsetFor(o, 50, 200, 0, 'start'), 1000);
  assert.equal(scrollOffsetFor(o, 50, 200, 0, 'end'), 820);
  assert.equal(scrollOffsetFor(o, 50, 200, 900, 'nearest'), 900);
  assert.equal(scrollOffsetFor(o, 50, 200, 0, 'nearest'), 820);
  assert.equal(scrollOffsetFor(o, 99, 200, 0, 'start'), 1800);
  assert.equal(scrollOffsetFor(o, 5000, 200, 0, 'start'), 1800);
});
