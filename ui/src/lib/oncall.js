// Pure helpers of the on-call page: user colours, segment placement on a time axis, day ticks and the
// conversion between epoch milliseconds and <input type="datetime-local"> values (local time).

export const USER_COLORS = ['#3d71d9', '#2e8540', '#b7791f', '#8e44ad', '#c4314b', '#138d90', '#d35400',
  '#5d6d7e', '#7d3c98', '#1f618d'];

// A stable colour per user: by the user's index in the sorted list of all users.
export function userColor(users, name) {
  const i = users.indexOf(name);
  if (i >= 0) return USER_COLORS[i % USER_COLORS.length];
  let h = 0;
  for (const c of String(name)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return USER_COLORS[h % USER_COLORS.length];
}

// Where [segStart, segEnd) sits within [start, end) as CSS percentages; null when outside.
export function place(segStart, segEnd, start, end) {
  const a = Math.max(segStart, start);
  const b = Math.min(segEnd, end);
  if (!(b > a) || !(end > start)) return null;
  const span = end - start;
  return { left: ((a - start) / span) * 100, width: ((b - a) / span) * 100 };
}

// Local midnights within (start, end), with their position in percent; labels like "Mon 12".
export function dayTicks(start, end) {
  const out = [];
  const d = new Date(start);
  d.setHours(0, 0, 0, 0);
  for (let guard = 0; guard < 400; guard++) {
    d.setDate(d.getDate() + 1);
    const t = d.getTime();
    if (t >= end) break;
    out.push({ ms: t, left: ((t - start) / (end - start)) * 100,
      label: `${d.toLocaleDateString(undefined, { weekday: 'short' })} ${d.getDate()}` });
  }
  return out;
}

const pad = (n) => String(n).padStart(2, '0');

// Epoch ms -> "YYYY-MM-DDTHH:MM" in local time (the value of a datetime-local input).
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// A datetime-local value -> epoch ms (local time), or NaN when empty or invalid.
export function fromLocalInput(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text || '');
  if (!m) return NaN;
  return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)).getTime();
}

// A short local date and time, e.g. "Mon 12 Jan, 09:00".
export function formatWhen(ms) {
  return new Date(ms).toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short',
    hour: '2-digit', minute: '2-digit' });
}

// The start of the current hour (timelines start there so "now" is near the left edge).
export function hourStart(ms) {
  const d = new Date(ms);
  d.setMinutes(0, 0, 0);
  return d.getTime();
}
