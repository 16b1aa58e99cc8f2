const overlap = (a, b) => a.id !== b.id && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
export function compact(layout) {
  const sorted = [...layout].sort((a, b) => a.y - b.y || a.x - b.x);
  const out = [];
  for (const it of sorted) {
    const c = { ...it, y: 0 };
    while (out.some((o) => overlap(c, o))) c.y++;
    out.push(c);
  }
  return out;
}
export function moveItem(layout, id, x, y) {
  const moved = layout.map((l) => (l.id === id ? { ...l, x, y } : l));
  const m = moved.find((l) => l.id === id);
  const rest = moved.filter((l) => l.id !== id).map((l) => (overlap(l, m) ? { ...l, y: m.y + m.h } : l));
  return compact([m, ...rest].sort((a, b) => (a.id === id ? -1 : 0)));
}
export function resizeItem(layout, id, w, h) {
  const m = { ...layout.find((l) => l.id === id), w, h };
  const rest = layout.filter((l) => l.id !== id).map((l) => (overlap(l, m) ? { ...l, y: m.y + m.h } : l));
  return compact([m, ...rest]);
}
export function stackForMobile(layout) {
  let y = 0;
  return [...layout].sort((a, b) => a.y - b.y || a.x - b.x).map((l) => { const o = { ...l, x: 0, w: 24, y }; y += l.h; return o; });
}
