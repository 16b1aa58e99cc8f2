// A virtualised list: a scroll container that renders only the rows in view plus `overscan` rows either
// side, absolutely positioned inside a spacer as tall as the whole list, so ten thousand rows cost as much
// as forty. Row heights are known up front (`itemHeight`: a number, or a function of (item, index));
// scroll and resize are read at most once per animation frame.
//
//   <VirtualList items={rows} itemHeight={(r) => r.h} itemKey={(r) => r.key} renderItem={(r, i) => ...}
//     resetKey={filterText} />
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { rowOffsets, visibleRange } from './virtualwindow.js';

export function VirtualList({ items, itemHeight, renderItem, itemKey, overscan = 6, class: cls = '', testid, label, resetKey }) {
  const ref = useRef(null);
  const [view, setView] = useState({ top: 0, height: typeof window === 'undefined' ? 800 : window.innerHeight });
  const frame = useRef(0);
  useEffect(() => {
    const el = ref.current;
    const read = () => {
      frame.current = 0;
      setView((v) => (v.top === el.scrollTop && v.height === el.clientHeight ? v : { top: el.scrollTop, height: el.clientHeight }));
    };
    const schedule = () => { if (!frame.current) frame.current = requestAnimationFrame(read); };
    read();
    el.addEventListener('scroll', schedule, { passive: true });
    const observer = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(schedule);
    if (observer) observer.observe(el);
    return () => {
      el.removeEventListener('scroll', schedule);
      if (observer) observer.disconnect();
      if (frame.current) cancelAnimationFrame(frame.current);
    };
  }, []);
  // a new `resetKey` (e.g. other filters) scrolls back to the top
  const firstKey = useRef(resetKey);
  useEffect(() => {
    if (firstKey.current === resetKey) return;
    firstKey.current = resetKey;
    if (ref.current) ref.current.scrollTop = 0;
  }, [resetKey]);
  const offsets = useMemo(() => rowOffsets(items, itemHeight), [items, itemHeight]);
  const { start, end } = visibleRange(offsets, view.top, view.height, overscan);
  const rows = [];
  for (let i = start; i < end; i++) {
    const item = items[i];
    rows.push(
      <div class="vl-row" key={itemKey ? itemKey(item, i) : i} role="listitem"
        style={{ transform: `translateY(${offsets[i]}px)`, height: `${offsets[i + 1] - offsets[i]}px` }}>
        {renderItem(item, i)}
      </div>,
    );
  }
  return (
    <div class={'vl-scroll ' + cls} ref={ref} data-testid={testid} data-rows={items.length} role="list" aria-label={label} tabIndex={0}>
      <div class="vl-spacer" style={{ height: `${offsets[items.length]}px` }}>{rows}</div>
    </div>
  );
}
