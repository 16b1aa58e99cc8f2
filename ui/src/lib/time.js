// Time ranges, Grafana date math and Prometheus durations.
// Every time value here is a Unix epoch in MILLISECONDS unless a name says otherwise.

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const YEAR = 365 * DAY;

const UNITS = ['y', 'M', 'w', 'd', 'h', 'm', 's'];

// ---- calendar helpers in 'browser' (local) or 'utc' ------------------------

function fields(ms, utc) {
  const d = new Date(ms);
  return utc
    ? [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds(), d.getUTCDay()]
    : [d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds(), d.getDay()];
}

function make(utc, y, mo, d = 1, h = 0, mi = 0, s = 0, ms = 0) {
  if (utc) return Date.UTC(y, mo, d, h, mi, s, ms);
  const dt = new Date(2000, 0, 1);
  dt.setFullYear(y, mo, d);
  dt.setHours(h, mi, s, ms);
  return dt.getTime();
}

function daysInMonth(y, mo) {
  return new Date(Date.UTC(y, mo + 1, 0)).getUTCDate();
}

function add(ms, n, unit, utc) {
  switch (unit) {
    case 's': return ms + n * SEC;
    case 'm': return ms + n * MIN;
    case 'h': return ms + n * HOUR;
    default:
  }
  const [y, mo, d, h, mi, s, mss] = fields(ms, utc);
  if (unit === 'd') return make(utc, y, mo, d + n, h, mi, s, mss);
  if (unit === 'w') return make(utc, y, mo, d + 7 * n, h, mi, s, mss);
  const months = unit === 'y' ? 12 * n : n;
  const total = y * 12 + mo + months;
  const ny = Math.floor(total / 12);
  const nmo = total - ny * 12;
  // as moment: keep the day of month, clamped to the target month's length
  return make(utc, ny, nmo, Math.min(d, daysInMonth(ny, nmo)), h, mi, s, mss);
}

function startOf(ms, unit, utc, weekStart) {
  const [y, mo, d, h, mi, s, , dow] = fields(ms, utc);
  switch (unit) {
    case 'y': return make(utc, y, 0, 1);
    case 'M': return make(utc, y, mo, 1);
    case 'w': return make(utc, y, mo, d - ((dow - weekStart + 7) % 7));
    case 'd': return make(utc, y, mo, d);
    case 'h': return make(utc, y, mo, d, h);
    case 'm': return make(utc, y, mo, d, h, mi);
    case 's': return make(utc, y, mo, d, h, mi, s);
    default: throw new Error(`bad unit ${unit}`);
  }
}

function endOf(ms, unit, utc, weekStart) {
  return add(startOf(ms, unit, utc, weekStart), 1, unit, utc) - 1;
}

// ---- absolute times ----------------------------------------------------------

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$/;

function parseAbsolute(text, utc) {
  if (/^-?\d+$/.test(text)) {
    if (text.length === 8) {
      // YYYYMMDD, as Grafana's URL parsing
      return make(utc, +text.slice(0, 4), +text.slice(4, 6) - 1, +text.slice(6, 8));
    }
    return Number(text);
  }
  if (/^\d{8}T\d{6}$/.test(text)) {
    return make(utc, +text.slice(0, 4), +text.slice(4, 6) - 1, +text.slice(6, 8), +text.slice(9, 11), +text.slice(11, 13), +text.slice(13, 15));
  }
  const m = ISO_RE.exec(text);
  if (!m) return NaN;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', tz] = m;
  const ms = frac ? Math.round(Number('0.' + frac) * 1000) : 0;
  if (+mo < 1 || +mo > 12 || +d < 1 || +d > daysInMonth(+y, +mo - 1) || +h > 23 || +mi > 59 || +s > 60) return NaN;
  if (tz) {
    const base = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, ms);
    if (tz === 'Z' || tz === 'z') return base;
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    return base - sign * (Number(digits.slice(0, 2)) * HOUR + Number(digits.slice(2)) * MIN);
  }
  return make(utc, +y, +mo - 1, +d, +h, +mi, +s, ms);
}

/**
 * Parses a Grafana time expression to Unix epoch milliseconds.
 * Accepts `now` with date math (`now-24h`, `now-7d/d`, `now/w`, `now-1M/M+2h`; units y M w d h m s;
 * `/unit` rounds down to the start of the unit, or up to its last millisecond when `roundUp`),
 * Unix milliseconds (`"1700000000000"`), `YYYYMMDD`, and RFC 3339 / ISO 8601 dates (without an offset they are
 * read in `timezone`). Date math is also allowed after an absolute date with `||` (`2024-01-01||+1d`).
 * @param {string|number} text
 * @param {number} nowMs the current time, epoch ms
 * @param {{roundUp?: boolean, timezone?: 'browser'|'utc', weekStart?: number}} [opts] roundUp: true for a range's
 *   `to`; timezone for calendar rounding and zone-less dates; weekStart: 0 = Sunday (Grafana's default), 1 = Monday
 * @returns {number} epoch ms
 * @throws {Error} naming the text when it cannot be parsed
 */
export function parseTime(text, nowMs, { roundUp = false, timezone = 'browser', weekStart = 0 } = {}) {
  if (typeof text === 'number' && Number.isFinite(text)) return text;
  if (text instanceof Date) return text.getTime();
  if (typeof text !== 'string') throw new Error(`invalid time: ${String(text)}`);
  const utc = timezone === 'utc' || timezone === 'UTC';
  const t = text.trim();
  let time;
  let math;
  if (t.startsWith('now')) {
    time = nowMs;
    math = t.slice(3);
  } else {
    const bars = t.indexOf('||');
    const abs = bars === -1 ? t : t.slice(0, bars);
    math = bars === -1 ? '' : t.slice(bars + 2);
    time = parseAbsolute(abs, utc);
  }
  if (!Number.isFinite(time)) throw new Error(`invalid time: "${text}"`);
  let i = 0;
  const s = math.replace(/\s+/g, '');
  while (i < s.length) {
    const op = s[i++];
    if (op !== '/' && op !== '+' && op !== '-') throw new Error(`invalid time: "${text}" (unexpected "${op}")`);
    let num = 1;
    if (op !== '/') {
      const m = /^\d+/.exec(s.slice(i));
      if (m) {
        num = Number(m[0]);
        i += m[0].length;
      }
    }
    const unit = s[i++];
    if (!UNITS.includes(unit)) throw new Error(`invalid time: "${text}" (bad unit "${unit ?? ''}")`);
    if (op === '/') time = roundUp ? endOf(time, unit, utc, weekStart) : startOf(time, unit, utc, weekStart);
    else time = add(time, op === '+' ? num : -num, unit, utc);
  }
  return time;
}

/**
 * Whether a time expression is relative to now (`now`, `now-1h`, …).
 * @param {string|number} text
 * @returns {boolean}
 */
export function isRelative(text) {
  return typeof text === 'string' && text.trim().startsWith('now');
}

// ---- durations ---------------------------------------------------------------

const DUR_UNITS = { y: YEAR, w: WEEK, d: DAY, h: HOUR, m: MIN, s: SEC, ms: 1 };
const DUR_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/**
 * Parses a Prometheus duration to milliseconds: `1h30m`, `500ms`, `1d`, `1w`, `1y` (365 days);
 * units in decreasing order, each at most once. A bare number is seconds (`"30"`, `"1.5"`).
 * @param {string|number} text
 * @returns {number} milliseconds
 * @throws {Error} naming the text when it is not a duration
 */
export function parseDuration(text) {
  if (typeof text === 'number' && Number.isFinite(text)) return text * SEC;
  const t = String(text ?? '').trim();
  if (/^\d+(\.\d+)?$|^\.\d+$/.test(t)) return Math.round(Number(t) * SEC);
  const m = t !== '' && DUR_RE.exec(t);
  if (!m) throw new Error(`invalid duration: "${text}"`);
  const order = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
  let ms = 0;
  for (let i = 0; i < order.length; i++) if (m[i + 1] !== undefined) ms += Number(m[i + 1]) * DUR_UNITS[order[i]];
  return ms;
}

/**
 * Formats milliseconds as a Prometheus duration with the largest exact units: `1h30m`, `5m`, `250ms`, `0s`.
 * Years and weeks are used only when they divide the whole rest exactly (as Prometheus prints: `8d`, `2w`).
 * Fractions of a millisecond are rounded.
 * @param {number} ms
 * @returns {string}
 */
export function formatDuration(ms) {
  if (!Number.isFinite(ms)) return String(ms);
  let left = Math.round(Math.abs(ms));
  if (left === 0) return '0s';
  let out = ms < 0 ? '-' : '';
  const part = (unit, size, exact) => {
    if (exact && left % size !== 0) return;
    const v = Math.floor(left / size);
    if (v > 0) {
      out += v + unit;
      left -= v * size;
    }
  };
  part('y', YEAR, true);
  part('w', WEEK, true);
  part('d', DAY, false);
  part('h', HOUR, false);
  part('m', MIN, false);
  part('s', SEC, false);
  part('ms', 1, false);
  return out;
}

// ---- steps -------------------------------------------------------------------

/** Nice query steps in milliseconds, ascending. */
export const NICE_STEPS = [
  SEC, 2 * SEC, 5 * SEC, 10 * SEC, 15 * SEC, 30 * SEC, MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, WEEK, 2 * WEEK, 30 * DAY, 90 * DAY, YEAR,
];

/** Most points a range query may ask for (Prometheus refuses more than 11,000). */
export const MAX_POINTS = 11000;

function niceUp(ms) {
  for (const s of NICE_STEPS) if (s >= ms) return s;
  return Math.ceil(ms / YEAR) * YEAR;
}

/**
 * Chooses a range-query step: about one point per horizontal pixel, rounded UP to a nice step
 * (NICE_STEPS), never below `minStepMs`, never more than 11,000 points.
 * @param {number} fromMs range start, epoch ms
 * @param {number} toMs range end, epoch ms
 * @param {number} widthPx plot width in pixels (values below 1 count as 1)
 * @param {number} [minStepMs=0] lower bound, e.g. the target's `interval` (used as is, not rounded)
 * @returns {number} step in milliseconds (at least 1000 unless minStepMs asks for less… it never does: min 1s)
 */
export function chooseStep(fromMs, toMs, widthPx, minStepMs = 0) {
  const range = Math.max(0, toMs - fromMs);
  const width = Math.max(1, Math.floor(widthPx) || 1);
  let step = niceUp(range / width);
  if (minStepMs > step) step = minStepMs;
  if (range / step > MAX_POINTS) step = Math.max(step, niceUp(range / MAX_POINTS));
  return step;
}

// ---- describing ranges -------------------------------------------------------

const UNIT_NAMES = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', M: 'month', y: 'year' };

function q(from, display, to = 'now') {
  return { from, to, display };
}

/** Grafana's quick ranges, in Grafana's order: `{from, to, display}`. */
export const QUICK_RANGES = [
  q('now-5m', 'Last 5 minutes'), q('now-15m', 'Last 15 minutes'), q('now-30m', 'Last 30 minutes'),
  q('now-1h', 'Last 1 hour'), q('now-3h', 'Last 3 hours'), q('now-6h', 'Last 6 hours'),
  q('now-12h', 'Last 12 hours'), q('now-24h', 'Last 24 hours'), q('now-2d', 'Last 2 days'),
  q('now-7d', 'Last 7 days'), q('now-30d', 'Last 30 days'), q('now-90d', 'Last 90 days'),
  q('now-6M', 'Last 6 months'), q('now-1y', 'Last 1 year'), q('now-2y', 'Last 2 years'), q('now-5y', 'Last 5 years'),
  q('now-1d/d', 'Yesterday', 'now-1d/d'), q('now-2d/d', 'Day before yesterday', 'now-2d/d'),
  q('now-7d/d', 'This day last week', 'now-7d/d'), q('now-1w/w', 'Previous week', 'now-1w/w'),
  q('now-1M/M', 'Previous month', 'now-1M/M'), q('now-1y/y', 'Previous year', 'now-1y/y'),
  q('now/d', 'Today', 'now/d'), q('now/d', 'Today so far'), q('now/w', 'This week', 'now/w'),
  q('now/w', 'This week so far'), q('now/M', 'This month', 'now/M'), q('now/M', 'This month so far'),
  q('now/y', 'This year', 'now/y'), q('now/y', 'This year so far'),
];

/** Auto-refresh choices (the `refresh` URL parameter); '' (off) and 'live' are not listed. */
export const REFRESH_INTERVALS = ['5s', '10s', '30s', '1m', '5m', '15m', '30m', '1h', '2h', '1d'];

function pad(n, w = 2) {
  return String(n).padStart(w, '0');
}

/**
 * Formats epoch ms as `YYYY-MM-DD HH:mm:ss` in 'browser' (local) time or 'utc'.
 * @param {number} ms
 * @param {'browser'|'utc'} [timezone='browser']
 * @returns {string}
 */
export function formatTime(ms, timezone = 'browser') {
  const [y, mo, d, h, mi, s] = fields(ms, timezone === 'utc' || timezone === 'UTC');
  return `${pad(y, 4)}-${pad(mo + 1)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(s)}`;
}

function describeOne(v, timezone) {
  if (typeof v === 'number') return formatTime(v, timezone);
  const t = String(v).trim();
  if (/^-?\d+$/.test(t) && t.length !== 8) return formatTime(Number(t), timezone);
  return t;
}

/**
 * Human text for a range, as Grafana's time picker shows it: a quick range's name ("Last 24 hours", "Today"),
 * "Last N <units>" for any `now-N<unit>` to `now`, else "<from> to <to>" (absolute times as
 * `YYYY-MM-DD HH:mm:ss`, relative ones as written).
 * @param {string|number} from
 * @param {string|number} to
 * @param {{timezone?: 'browser'|'utc'}} [opts]
 * @returns {string}
 */
export function describeRange(from, to, { timezone = 'browser' } = {}) {
  const f = typeof from === 'string' ? from.trim() : from;
  const t = typeof to === 'string' ? to.trim() : to;
  const quick = QUICK_RANGES.find((r) => r.from === f && r.to === t);
  if (quick) return quick.display;
  if (t === 'now' && typeof f === 'string') {
    const m = /^now-(\d+)([smhdwMy])$/.exec(f);
    if (m) {
      const n = Number(m[1]);
      return `Last ${n} ${UNIT_NAMES[m[2]]}${n === 1 ? '' : 's'}`;
    }
  }
  return `${describeOne(f, timezone)} to ${describeOne(t, timezone)}`;
}
