// Windowing math of the virtual list (lib/virtuallist.jsx): which rows of a long list a scroll position
// shows. Rows have known heights (a fixed number or one per row); the list keeps their running offsets.

/** Running offsets of rows: `out[i]` is where row i starts, `out[n]` the total height. `heights` is a
 * number (every row that tall) or a function of (item, index); `items` is the list. */
export function rowOffsets(items, heights) {
  const n = items.length;
  const out = new Float64Array(n + 1);
  if (typeof heights === 'number') {
    for (let i = 1; i <= n; i++) out[i] = i * heights;
    return out;
  }
  for (let i = 0; i < n; i++) out[i + 1] = out[i] + Math.max(0, heights(items[i], i) || 0);
  return out;
}

/** The index of the row holding pixel `y` (0..n-1; 0 for an empty list): the last row starting at or
 * before y, skipping zero-height rows. */
export function rowAt(offsets, y) {
  const n = offsets.length - 1;
  if (n <= 0) return 0;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= y) lo = mid; else hi = mid - 1;
  }
  return lo;
}

/** The rows to render: `{ start, end }` (end exclusive) covering the viewport `[scrollTop, scrollTop +
 * viewport)` plus `overscan` rows either side, clamped to the list; scroll positions beyond either end
 * (overscroll bounce, a list that just shrank) are clamped too. */
export function visibleRange(offsets, scrollTop, viewport, overscan = 5) {
  const n = offsets.length - 1;
  if (n <= 0) return { start: 0, end: 0 };
  const total = offsets[n];
  const top = Math.min(Math.max(0, scrollTop || 0), Math.max(0, total - Math.max(0, viewport)));
  const first = rowAt(offsets, top);
  let last = rowAt(offsets, top + Math.max(0, viewport) - 0.5);
  if (last < first) last = first;
  return { start: Math.max(0, first - overscan), end: Math.min(n, last + 1 + overscan) };
}

/** The scroll position that shows row `index` at the top (`align: 'start'`), at the bottom ('end') or
 * only as far as needed from `scrollTop` ('nearest'). */
export function scrollOffsetFor(offsets, index, viewport, scrollTop = 0, align = 'nearest') {
  const n = offsets.length - 1;
  if (n <= 0) return 0;
  const i = Math.min(Math.max(0, index), n - 1);
  const top = offsets[i];
  const bottom = offsets[i + 1];
  const max = Math.max(0, offsets[n] - viewport);
  let to;
  if (align === 'start') to = top;
  else if (align === 'end') to = bottom - viewport;
  else to = top < scrollTop ? top : bottom > scrollTop + viewport ? bottom - viewport : scrollTop;
  return Math.min(Math.max(0, to), max);
}
